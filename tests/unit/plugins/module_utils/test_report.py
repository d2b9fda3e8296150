"""Tests for plugins/module_utils/report.py: one run result, derived success, summary lines."""

from __future__ import annotations

import json

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.report import (
    backed_up_files,
    build_run_result,
    device_info,
    failed_hosts,
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
    assert "FAILED: 1 device(s) backed up, 1 failed" in text
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
