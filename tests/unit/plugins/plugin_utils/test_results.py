"""Unit tests for plugin_utils.results: a device's outcome as the task result and progress lines Ansible shows."""

from __future__ import annotations

import pytest

from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import (
    ProgressTicker,
    duration,
    job_output,
    periodic_line,
    printable,
    progress_line,
    task_result,
)


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"changed": True, "startup_config_success": True}, "ok (changed)"),
        ({"changed": False, "startup_config_success": False, "startup_config_reason": "none"}, "ok (unchanged)"),
        (
            {"error": "authentication failed", "error_class": "auth_failed"},
            "failed (auth_failed): authentication failed",
        ),
    ],
)
def test_task_result_and_progress_line(info, expected):
    result = task_result(info)
    assert result["changed"] is bool(info.get("changed"))
    assert result.get("failed", False) is bool(info.get("error"))
    assert progress_line(3, 10, "r1", result) == f"[3/10] r1 {expected}"
    if info.get("error"):
        assert result["msg"] == "auth_failed: authentication failed"
    assert "diff" not in result
    assert task_result(info, [{"before": "a", "after": "b"}])["diff"] == [{"before": "a", "after": "b"}]


def test_progress_line_total_never_below_done():
    assert progress_line(5, 0, "r1", {"changed": False}) == "[5/5] r1 ok (unchanged)"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (42.4, "42s"), (59.6, "1m00s"), (185, "3m05s"), (3600, "1h00m"), (3725, "1h02m"), (-3, "0s")],
)
def test_duration(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "counts", "expected"),
    [
        (
            120,
            500,
            40,
            (115, 5, 5),
            "progress: 120/500 devices in 40s, 3.0 devices/s, ETA 2m07s; 115 ok (5 changed), 5 failed",
        ),
        # Below one device a second the rate is per minute.
        (3, 10, 20, (3, 0, 0), "progress: 3/10 devices in 20s, 9.0 devices/min, ETA 47s; 3 ok (0 changed), 0 failed"),
        (
            0,
            10,
            12,
            (0, 0, 0),
            "progress: 0/10 devices in 12s, 0.0 devices/min, ETA unknown; 0 ok (0 changed), 0 failed",
        ),
        (10, 10, 5, (8, 1, 2), "progress: 10/10 devices in 5s, 2.0 devices/s, ETA 0s; 8 ok (1 changed), 2 failed"),
        # A total below done (no host count known) reads done/done.
        (4, 0, 0, (4, 4, 0), "progress: 4/4 devices in 0s, 0.0 devices/min, ETA unknown; 4 ok (4 changed), 0 failed"),
    ],
)
def test_periodic_line(done, total, elapsed, counts, expected):
    assert periodic_line(done, total, elapsed, *counts) == expected


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_ticker_prints_once_the_interval_has_passed_with_the_running_counts():
    clock = FakeClock()
    ticker = ProgressTicker(5, 10, clock=clock)
    clock.now += 4
    assert ticker.record({"changed": True}) is None, "not due yet"
    clock.now += 6
    assert ticker.record({"failed": True, "error_class": "auth_failed"}) == (
        "progress: 2/5 devices in 10s, 12.0 devices/min, ETA 15s; 1 ok (1 changed), 1 failed"
    )
    clock.now += 9
    assert ticker.record({"changed": False}) is None, "9 s since the last line"
    clock.now += 1
    assert ticker.record({"changed": False}) == (
        "progress: 4/5 devices in 20s, 12.0 devices/min, ETA 5s; 3 ok (1 changed), 1 failed"
    )


def test_ticker_interval_zero_counts_but_never_prints():
    clock = FakeClock()
    ticker = ProgressTicker(3, 0, clock=clock)
    for _index in range(3):
        clock.now += 1000
        assert ticker.record({"changed": True}) is None
    assert (ticker.ok, ticker.changed, ticker.failed) == (3, 3, 0)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("hostname r1", "hostname r1"),
        ("\x1b[31mred\x1b[0m and \x1b[2J\x1b[Hcleared", "red and cleared"),
        ("\x1b]0;new title\x07title gone", "title gone"),
        ("a\tb", "a       b"),
        ("bell\x07 back\x08space del\x7f", "bell\ufffd back\ufffdspace del\ufffd"),
        ("safe\u202eevil", "safe\ufffdevil"),  # a bidirectional override would reorder what the operator reads
        ("zero\u200bwidth", "zero\ufffdwidth"),
        ("Gi0/1 \u00e9t\u00e9", "Gi0/1 \u00e9t\u00e9"),  # printable non-ASCII stays
    ],
)
def test_printable(text, shown):
    assert printable(text) == shown


def test_job_output_run_commands_each_command_then_its_output():
    result = {
        "outputs": [
            {"command": "show clock", "output": "*10:02:11 UTC\r\n"},
            {"command": "show version | include IOS", "output": "Cisco IOS XE\n\x1b[1mbold\x1b[0m\nlast"},
        ],
    }
    assert job_output(result) == [
        "### show clock",
        "*10:02:11 UTC",
        "### show version | include IOS",
        "Cisco IOS XE",
        "bold",
        "last",
    ]


def test_job_output_of_a_failed_device_starts_with_its_error():
    result = {"error": "show bogus: rejected", "error_class": "invalid_output", "outputs": [{"command": "show bogus"}]}
    assert job_output(result) == ["failed (invalid_output): show bogus: rejected", "### show bogus"]
    assert job_output({"error": "auth failed\x1b[2J", "error_class": "auth_failed"}) == [
        "failed (auth_failed): auth failed"
    ]


def test_job_output_check_queues_table_of_flagged_interfaces():
    interfaces = [
        {"interface": "GigabitEthernet1", "input_drops": 0, "output_drops": 3, "over_threshold": False},
        {"interface": "GigabitEthernet2", "input_drops": 5, "output_drops": 900, "over_threshold": True},
        {"interface": "Gi3", "input_drops": 1200, "output_drops": 0, "over_threshold": True},
    ]
    result = {"commands": ["show interfaces"], "drop_threshold": 100, "interfaces": interfaces, "error": "2 over"}
    assert job_output(result) == [
        "failed (other): 2 over",
        "### show interfaces: 2 of 3 interface(s) over 100 drops",
        "interface         input drops  output drops",
        "GigabitEthernet2            5           900",
        "Gi3                      1200             0",
    ]
    quiet = {"commands": ["show interface"], "drop_threshold": 1000, "interfaces": interfaces[:1]}
    assert job_output(quiet) == ["### show interface: 1 interface(s), none over 1000 drops"]
