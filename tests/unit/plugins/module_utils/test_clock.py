"""Table tests for plugins/module_utils/clock.py: one run stamp from datetimes, ISO strings and stamp dicts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.clock import as_stamp, run_instant, run_stamp
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import PathTemplateError

STAMP = {"date": "20240501", "timestamp": "20240501_213000"}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2024, 5, 1, 23, 30, 5, tzinfo=UTC), ("20240501", "20240501_233005")),
        (datetime(2024, 5, 1, 23, 30, 5), ("20240501", "20240501_233005")),  # naive: taken as UTC
        (datetime(2024, 5, 2, 1, 30, tzinfo=timezone(timedelta(hours=2))), ("20240501", "20240501_233000")),
        ("2024-05-01T23:30:05Z", ("20240501", "20240501_233005")),
        ("2024-05-01T23:30:05+00:00", ("20240501", "20240501_233005")),
        ("2024-05-02T01:30:05+02:00", ("20240501", "20240501_233005")),  # converted to UTC
        ("2024-05-01T23:30:05.123456Z", ("20240501", "20240501_233005")),
        ("2024-05-01 23:30:05", ("20240501", "20240501_233005")),
        ("20240501T233005Z", ("20240501", "20240501_233005")),
        ("2024-05-01", ("20240501", "20240501_000000")),
        ("20240501_233005", ("20240501", "20240501_233005")),  # our own stamp round-trips
        ("  2024-05-01T23:30:05Z  ", ("20240501", "20240501_233005")),
    ],
)
def test_run_stamp(now, expected):
    assert run_stamp(now) == {"date": expected[0], "timestamp": expected[1]}


def test_run_stamp_in_another_timezone():
    cet = timezone(timedelta(hours=1))
    assert run_stamp("2024-01-01T23:30:00Z", tz=cet) == {"date": "20240102", "timestamp": "20240102_003000"}


def test_run_stamp_now_is_one_instant():
    stamp = run_stamp()
    assert re.fullmatch(r"\d{8}", stamp["date"]) and re.fullmatch(r"\d{8}_\d{6}", stamp["timestamp"])
    assert stamp["timestamp"].startswith(stamp["date"])


@pytest.mark.parametrize(
    "now", ["yesterday", "2024-13-01", "2024-05-01T25:00", "20240501-2330xx", "", 1714600000, ["2024-05-01"]]
)
def test_run_stamp_refuses_garbage(now):
    with pytest.raises(PathTemplateError) as info:
        run_stamp(now)
    assert info.value.placeholder == "{timestamp}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (STAMP, STAMP),
        ({"timestamp": "20240501_213000"}, STAMP),
        ("2024-05-01T21:30:00Z", STAMP),
        (datetime(2024, 5, 1, 21, 30, tzinfo=UTC), STAMP),
    ],
)
def test_as_stamp(value, expected):
    assert as_stamp(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"date": "20240502", "timestamp": "20240501_213000"},  # inconsistent
        {"date": "20240501"},
        {"timestamp": "2024-05-01"},
        {},
    ],
)
def test_as_stamp_refuses_bad_dicts(value):
    with pytest.raises(PathTemplateError, match="run stamp"):
        as_stamp(value)


def test_run_instant_is_the_instant_of_the_stamp():
    instant = run_instant("2024-05-02T01:30:05+02:00")
    assert instant == datetime(2024, 5, 1, 23, 30, 5, tzinfo=UTC) and instant.tzinfo is UTC
    assert run_stamp(instant) == run_stamp("20240501_233005")
