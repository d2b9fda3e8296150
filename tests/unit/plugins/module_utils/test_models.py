"""Tests for plugins/module_utils/models.py: one result schema, derived success, no secrets."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import FAILURE_CLASSES
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import (
    BackupRunResult,
    CredentialInfo,
    DeviceBackupInfo,
    DeviceJobInfo,
    FailedDeviceBrief,
    GitCommitStatus,
    GitStatus,
    RunArtifact,
    TimestampUpdateStatus,
)

DOCUMENTED_DEVICE_FIELDS = {
    "device_id", "device_name", "device_ip", "platform", "nautobot_fetch_success", "ssh_connection_success",
    "running_config_success", "startup_config_success", "running_config_bytes", "startup_config_bytes",
    "running_config_file", "startup_config_file", "unsaved_changes", "changed", "error", "error_class",
}
DOCUMENTED_RUN_FIELDS = {
    "success", "devices_backed_up", "devices_failed", "backed_up_devices", "failed_devices", "git_status",
    "git_commit_status", "credential_info", "timestamp_update_status", "repository", "commit_date",
    "triggered_by", "executed_by",
}


def ok_device(name: str = "r1") -> DeviceBackupInfo:
    return DeviceBackupInfo(
        device_id="id-" + name, device_name=name, running_config_success=True, ssh_connection_success=True,
        running_config_bytes=1200, running_config_file=f"backups/{name}.running-config",
    )


def failed_device(name: str = "r2", error_class: str = "auth_failed") -> DeviceBackupInfo:
    return DeviceBackupInfo(
        device_id="id-" + name, device_name=name, error="Authentication failed", error_class=error_class
    )


def test_schemas_carry_every_documented_field():
    assert DOCUMENTED_DEVICE_FIELDS <= set(DeviceBackupInfo.model_fields)
    assert DOCUMENTED_RUN_FIELDS <= set(BackupRunResult.model_fields)
    assert {"enabled", "custom_field_name", "updated_count", "failed_count", "errors"} <= set(
        TimestampUpdateStatus.model_fields
    )
    assert {"committed", "pushed", "commit_hash", "files_changed"} <= set(GitCommitStatus.model_fields)
    assert {"repository_existed", "operation", "repository_path", "repository_url", "branch"} <= set(
        GitStatus.model_fields
    )


def test_credential_info_cannot_hold_a_password():
    assert "password" not in CredentialInfo.model_fields
    with pytest.raises(ValidationError):
        CredentialInfo(username="netops", password="secret")  # type: ignore[call-arg]


def test_unknown_fields_are_rejected():
    with pytest.raises(ValidationError):
        DeviceBackupInfo(device_name="r1", colour="blue")  # type: ignore[call-arg]


@pytest.mark.parametrize("bad_class", ["nope", "AUTH_FAILED", ""])
def test_error_class_is_one_of_the_failure_classes(bad_class):
    with pytest.raises(ValidationError, match="unknown failure class"):
        DeviceBackupInfo(device_name="r1", error="x", error_class=bad_class)


@pytest.mark.parametrize("error_class", FAILURE_CLASSES)
def test_every_failure_class_of_errors_py_is_a_valid_class(error_class):
    """errors.FAILURE_CLASSES is the one list: a class added there is valid in every model."""
    assert DeviceBackupInfo(device_name="r1", error="x", error_class=error_class).error_class == error_class
    assert DeviceJobInfo(job_type="run_commands", error="x", error_class=error_class).error_class == error_class
    assert FailedDeviceBrief(device="r1", error_class=error_class, error="x").error_class == error_class


def test_error_without_class_becomes_other_and_class_needs_message():
    assert DeviceBackupInfo(device_name="r1", error="boom").error_class == "other"
    with pytest.raises(ValidationError):
        DeviceBackupInfo(device_name="r1", error_class="timeout")


@pytest.mark.parametrize(
    ("devices", "commit", "success"),
    [
        ([ok_device("r1"), ok_device("r3")], GitCommitStatus(committed=True, pushed=True, commit_hash="abc"), True),
        ([ok_device("r1")], GitCommitStatus(), True),  # nothing changed: no commit is still a success
        ([ok_device("r1"), failed_device("r2")], GitCommitStatus(committed=True, pushed=True), False),
        ([failed_device("r1"), failed_device("r2", "timeout")], GitCommitStatus(), False),  # all failed: no success
        ([ok_device("r1")], GitCommitStatus(committed=True, pushed=False), False),  # push failed
        ([ok_device("r1")], GitCommitStatus(error="rejected"), False),
        ([], GitCommitStatus(), True),
    ],
)
def test_success_is_derived(devices, commit, success):
    result = BackupRunResult.from_devices(devices, git_commit_status=commit, success=not success)
    assert result.success is success
    assert result.devices_failed == sum(d.failed for d in devices)
    assert result.devices_backed_up == len(devices) - result.devices_failed


def test_failed_device_cannot_be_listed_as_backed_up():
    with pytest.raises(ValidationError):
        BackupRunResult(backed_up_devices=[failed_device()])


def test_run_result_is_json_ready():
    result = BackupRunResult.from_devices(
        [ok_device(), failed_device()],
        credential_info=CredentialInfo(username="netops"),
        timestamp_update_status=TimestampUpdateStatus(enabled=True, custom_field_name="last_backup", updated_count=1),
        triggered_by="schedule",
        executed_by="awx-admin",
        commit_date="2026-11-24T02:00:00+00:00",
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert DOCUMENTED_RUN_FIELDS <= set(data)
    assert data["failed_devices"][0]["error_class"] == "auth_failed"
    assert data["success"] is False


def test_defaults_are_not_shared_between_instances():
    first, second = TimestampUpdateStatus(), TimestampUpdateStatus()
    first.errors.append("x")
    assert second.errors == []


def test_run_artifact_has_the_agreed_fields_and_refuses_others():
    assert set(RunArtifact.model_fields) == {
        "success", "counts", "failed", "failed_more", "changed", "changed_more", "git", "writeback", "report_path",
        "repository", "timestamp",
    }
    assert set(RunArtifact().to_dict()["counts"]) == {"devices", "ok", "changed", "failed", "failed_by_class"}
    assert set(RunArtifact().to_dict()["git"]) == {"commit", "pushed", "files_changed", "error"}
    assert set(RunArtifact().to_dict()["writeback"]) == {"enabled", "updated", "failed", "errors"}
    with pytest.raises(ValidationError):
        RunArtifact(backed_up_devices=[])  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        FailedDeviceBrief(device="r1", error_class="nope", error="x")
