"""Tests for plugins/module_utils/report.py: one run result, derived success, the lean artifact, summary lines."""

from __future__ import annotations

import json

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.report import (
    ARTIFACT_MAX_CHANGED,
    MAX_ERROR_CHARS,
    SUMMARY_LINE_WIDTH,
    SUMMARY_MAX_FAILED,
    backed_up_files,
    bounded,
    build_run_result,
    device_info,
    failed_hosts,
    failure_message,
    file_owners,
    run_artifact,
    summary_lines,
    write_report,
)

OK = {"changed": True, "device_name": "r1", "running_config_success": True, "running_config_file": "backups/r1"}
FAILED = {
    "failed": True, "msg": "auth", "device_name": "r2", "error": "authentication failed", "error_class": "auth_failed",
}


def test_device_info_keeps_known_fields_only():
    info = device_info("r1", dict(OK, invocation={"module_args": {}}, _ansible_no_log=False))
    assert info.device_name == "r1" and info.running_config_success and info.changed


@pytest.mark.parametrize("result", [None, {}])
def test_missing_result_counts_as_failed(result):
    info = device_info("r9", result)
    assert info.failed and info.error_class == "other" and "no backup result" in info.error


def test_failed_task_without_error_field_keeps_its_message():
    info = device_info("r3", {"failed": True, "msg": "Unexpected failure during module execution"})
    assert info.failed and info.error == "Unexpected failure during module execution"


@pytest.mark.parametrize(
    ("devices", "commit", "success"),
    [
        ({"r1": OK}, {"committed": True, "pushed": True, "commit_hash": "a" * 40, "files_changed": 1}, True),
        ({"r1": OK, "r2": FAILED}, {"committed": True, "pushed": True}, False),
        ({"r1": OK}, {"committed": True, "pushed": False, "error": "rejected"}, False),
        ({"r1": OK}, {"committed": False, "pushed": False, "changed": False}, True),
    ],
)
def test_run_result_success(devices, commit, success):
    run = build_run_result(devices, git_commit_status=commit, triggered_by="manual", executed_by="me")
    assert run.success is success
    assert run.devices_backed_up + run.devices_failed == len(devices)


def test_summary_names_failed_devices_commit_and_writeback():
    run = build_run_result(
        {"r1": OK, "r2": FAILED},
        git_commit_status={"committed": True, "pushed": True, "commit_hash": "b" * 40, "files_changed": 2},
        timestamp_update_status={
            "enabled": True, "custom_field_name": "last_backup", "updated_count": 1, "failed_count": 1,
            "errors": ["HTTP 503 for r3"],
        },
    )
    text = "\n".join(summary_lines(run))
    assert "FAILED: 2 device(s): 0 ok, 1 changed, 1 failed" in text
    assert "r2 (auth_failed)" in text
    assert "bbbbbbbbbbbb" in text and "pushed" in text
    assert "last_backup: 1 updated, 1 failed" in text and "HTTP 503" in text


def test_write_report_is_json_and_idempotent(tmp_path):
    run = build_run_result({"r1": OK}, git_commit_status={"committed": False})
    path = tmp_path / "report.json"
    assert write_report(str(path), run) is True
    assert json.loads(path.read_text())["success"] is True
    assert write_report(str(path), run) is False


def test_failed_hosts_names_exactly_the_failed_hosts_with_class_and_error():
    results = {"h2": FAILED, "h1": OK, "h3": None, "h4": {"changed": False, "running_config_success": False}}
    assert failed_hosts(results) == {
        "h2": "auth_failed: authentication failed",
        "h3": "other: no backup result for this device",
        "h4": "other: the running configuration was not backed up",
    }


def test_backed_up_files_and_counts_from_results_by_host_or_list():
    results = {
        "r1": {"running_config_success": True, "running_config_file": "b/r1.run",
               "startup_config_success": True, "startup_config_file": "b/r1.start"},
        "r2": {"running_config_success": True, "running_config_file": "b/r2.run",
               "startup_config_success": False, "startup_config_file": None},
        "r3": {"running_config_success": False, "error": "auth", "running_config_file": None},
        "r4": {},
        "r5": None,
    }
    files, counts = backed_up_files(results)
    assert files == ["b/r1.run", "b/r2.run", "b/r1.start"]
    assert counts == {"devices_backed_up": 2, "devices_failed": 3}
    assert backed_up_files(list(results.values())) == (files, counts)
    assert backed_up_files({}) == ([], {"devices_backed_up": 0, "devices_failed": 0})


@pytest.mark.parametrize("bad", ["r1", 3, {"r1": "ok"}, ["x"]])
def test_backed_up_files_refuses_what_is_not_results(bad):
    with pytest.raises(TypeError, match="must be a dict"):
        backed_up_files(bad)


def test_file_owners_name_the_device_of_each_committed_file():
    results = {
        "h1": {"device_name": "r1", "running_config_success": True, "running_config_file": "b/r1.run",
               "startup_config_file": "b/r1.start", "host_key_file": ".known_hosts/r1"},
        "h2": {"running_config_success": True, "running_config_file": "b/h2.run"},
        "h3": {"device_name": "r3", "running_config_success": False, "running_config_file": "b/r3.run"},
        "h4": None,
    }
    expected = {"b/r1.run": "r1", "b/r1.start": "r1", ".known_hosts/r1": "r1", "b/h2.run": "h2"}
    assert file_owners(results) == expected
    assert file_owners(list(results.values())) == {**expected, "b/h2.run": "1"}  # a list has no host names


# ----------------------------------------------------------------------------- the lean artifact and the summary
def fleet(size, failures, classes=("auth_failed",), changed=None, error_chars=300):
    """Results of a run over ``size`` devices with realistic names: ``failures`` failed (spread over ``classes``,
    messages of ``error_chars`` characters), ``changed`` of the others changed (all of them by default)."""
    results = {}
    good = 0
    for index in range(size):
        name = f"dc{index % 4 + 1}-pod{index % 16:02d}-leaf-{index:05d}"
        if index < failures:
            error_class = classes[index % len(classes)]
            message = f"{error_class} on {name}: " + "x" * error_chars
            results[name] = {"failed": True, "device_name": name, "error": message, "error_class": error_class}
        else:
            is_changed = changed is None or good < changed
            good += 1
            results[name] = {
                "device_name": name, "running_config_success": True, "changed": is_changed,
                "running_config_file": f"backups/{name}.running-config",
            }
    return results


def big_run(size, failures, **options):
    writeback = {"enabled": True, "custom_field_name": "last_backup", "updated_count": size - failures,
                 "failed_count": 0}
    return build_run_result(
        fleet(size, failures, **options),
        git_commit_status={"committed": True, "pushed": True, "commit_hash": "c" * 40, "files_changed": size},
        timestamp_update_status=writeback,
        repository="https://git.example.com/netops/configs.git",
        commit_date="2026-11-24T02:00:00+00:00",
    )


def test_artifact_at_500_devices_with_10_failures_is_at_most_16_kb():
    # Every good device changed (a first run) and every message longer than the cut: the worst case.
    run = big_run(500, 10)
    artifact = run_artifact(run, "/var/tmp/backup-report.json").to_dict()
    size = len(json.dumps(artifact))
    assert size <= 16384, size
    assert artifact["counts"] == {
        "devices": 500, "ok": 0, "changed": 490, "failed": 10, "failed_by_class": {"auth_failed": 10}
    }
    assert [(f["device"], f["error_class"]) for f in artifact["failed"]] == [
        (d.device_name, "auth_failed") for d in run.failed_devices
    ]
    assert all(len(f["error"]) == MAX_ERROR_CHARS and f["error"].endswith("...") for f in artifact["failed"])
    assert len(artifact["changed"]) == ARTIFACT_MAX_CHANGED and artifact["changed_more"] == 490 - ARTIFACT_MAX_CHANGED
    assert artifact["failed_more"] == 0
    assert artifact["git"] == {"commit": "c" * 40, "pushed": True, "files_changed": 500, "error": None}
    assert artifact["writeback"] == {"enabled": True, "updated": 490, "failed": 0, "errors": []}
    assert (artifact["report_path"], artifact["timestamp"]) == ("/var/tmp/backup-report.json", run.commit_date)
    assert artifact["repository"] == "https://git.example.com/netops/configs.git"
    assert artifact["success"] is False


@pytest.mark.parametrize("size", [500, 2000, 10000])
def test_artifact_size_does_not_grow_with_the_fleet(size):
    run = big_run(size, size // 10, classes=("auth_failed", "unreachable", "timeout"))
    artifact = run_artifact(run).to_dict()
    assert len(json.dumps(artifact)) <= 16384
    counts = artifact["counts"]
    assert counts["failed"] == sum(counts["failed_by_class"].values()) == size // 10
    assert len(artifact["failed"]) + artifact["failed_more"] == size // 10
    assert len(artifact["changed"]) + artifact["changed_more"] == size - size // 10


def test_artifact_of_a_small_run_lists_everything_and_counts_ok_and_changed():
    results = {"r1": OK, "r2": FAILED, "r3": dict(OK, device_name="r3", changed=False), "r4": None}
    run = build_run_result(
        results,
        git_commit_status={"committed": False, "pushed": True, "error": "push: " + "y" * 500},
        timestamp_update_status={"enabled": True, "updated_count": 1, "failed_count": 1, "errors": ["HTTP 503"] * 9},
    )
    artifact = run_artifact(run).to_dict()
    assert artifact["counts"] == {
        "devices": 4, "ok": 1, "changed": 1, "failed": 2, "failed_by_class": {"auth_failed": 1, "other": 1}
    }
    assert artifact["failed"] == [
        {"device": "r2", "error_class": "auth_failed", "error": "authentication failed"},
        {"device": "r4", "error_class": "other", "error": "no backup result for this device"},
    ]
    assert artifact["changed"] == ["r1"] and artifact["changed_more"] == artifact["failed_more"] == 0
    assert artifact["git"]["commit"] is None and len(artifact["git"]["error"]) == MAX_ERROR_CHARS
    assert artifact["writeback"]["errors"] == ["HTTP 503"] * 5
    assert set(artifact) == {
        "success", "counts", "failed", "failed_more", "changed", "changed_more", "git", "writeback", "report_path",
        "repository", "timestamp",
    }


def test_summary_at_300_devices_with_40_failures_over_two_classes_fits_in_25_lines():
    run = big_run(300, 40, classes=("auth_failed", "unreachable"), changed=120)
    lines = summary_lines(run, "/var/tmp/backup-report.json")
    assert len(lines) <= 25, "\n".join(lines)
    text = "\n".join(lines)
    assert lines[0] == "Backup FAILED: 300 device(s): 140 ok, 120 changed, 40 failed"
    assert "Failed by class: auth_failed 20, unreachable 20" in lines
    assert f"  +{40 - SUMMARY_MAX_FAILED} more (see report)" in lines
    assert sum(line.startswith("  failed: ") for line in lines) == SUMMARY_MAX_FAILED
    shown = [name for name in fleet(300, 40, changed=120) if name in text and "leaf" in name]
    changed_more = [line for line in lines if line.endswith("more (see report)")][-1]
    assert changed_more == f"  +{120 - (len(shown) - SUMMARY_MAX_FAILED)} more (see report)"
    assert all(len(line) <= SUMMARY_LINE_WIDTH + 40 for line in lines if "failed: " not in line)
    assert "Commit cccccccccccc: 300 file(s) changed, pushed" in lines
    assert "Nautobot last_backup: 260 updated, 0 failed" in lines
    assert lines[-1] == "Report: /var/tmp/backup-report.json"


@pytest.mark.parametrize("size", [1, 30, 300, 5000, 20000])
def test_summary_is_at_most_25_lines_at_any_fleet_size(size):
    run = big_run(size, size // 3, classes=("auth_failed", "unreachable", "timeout", "other"))
    errors = [f"HTTP 503 for batch {n}" for n in range(40)]
    run.timestamp_update_status.errors.extend(errors)
    run.git_commit_status.error = "push rejected"
    assert len(summary_lines(run, "/r.json")) <= 25


def test_summary_of_a_small_fleet_lists_every_failed_and_changed_device():
    results = fleet(12, 3, classes=("auth_failed", "timeout"), changed=4)
    run = build_run_result(
        results,
        git_commit_status={"committed": True, "pushed": True, "commit_hash": "d" * 40, "files_changed": 4},
        timestamp_update_status={"enabled": True, "custom_field_name": "last_backup", "updated_count": 8,
                                 "failed_count": 1, "errors": ["HTTP 503 for r3"]},
    )
    lines = summary_lines(run)
    text = "\n".join(lines)
    assert lines[0] == "Backup FAILED: 12 device(s): 5 ok, 4 changed, 3 failed"
    assert "Failed by class: auth_failed 2, timeout 1" in lines
    names = list(results)
    for name in names[:3]:
        assert f"  failed: {name} ({results[name]['error_class']}): " in text
    assert lines[5] == "Changed (4): " + ", ".join(sorted(names[3:7]))  # by host name, as the report
    assert "more" not in text and "Report:" not in text
    assert "  write-back error: HTTP 503 for r3" in lines


def test_failure_message_has_counts_classes_first_device_and_the_push():
    run = big_run(50, 20, classes=("auth_failed", "unreachable"))
    run.git_commit_status.pushed = False
    message = failure_message(run, summary_lines(run))
    assert message.startswith("Backup FAILED: 50 device(s): 0 ok, 30 changed, 20 failed / Failed by class: ")
    assert "failed: dc1-pod00-leaf-00000 (auth_failed)" in message and message.count("failed: dc") == 1
    assert "NOT pushed" in message


def test_bounded_cuts_long_messages_only():
    assert bounded(None) is None and bounded("short") == "short"
    assert bounded("z" * 201) == "z" * 197 + "..." and bounded("z" * 200) == "z" * 200
