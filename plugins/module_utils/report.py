"""Assemble the run result (models.BackupRunResult), write it as JSON, and summarise it for people.

The same ``BackupRunResult`` feeds the JSON report file, ``set_stats`` (AWX artifacts) and the
end-of-play summary, so they can never disagree. ``success`` is derived: false when any
device failed or the push failed.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import DEFAULT_FILE_MODE, write_if_changed
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import (
    BackupRunResult,
    CredentialInfo,
    DeviceBackupInfo,
    GitCommitStatus,
    GitStatus,
    TimestampUpdateStatus,
)

_DEVICE_FIELDS = set(DeviceBackupInfo.model_fields) if hasattr(DeviceBackupInfo, "model_fields") else set()


def device_info(name: str, result: Optional[Mapping[str, Any]]) -> DeviceBackupInfo:
    """Turn one host's registered device_config_backup result into DeviceBackupInfo.

    A host without a result (it was never reached, e.g. the play stopped first) counts as failed.
    """
    if not result:
        return DeviceBackupInfo(device_name=name, error="no backup result for this device", error_class="other")
    fields = {key: value for key, value in result.items() if key in _DEVICE_FIELDS}
    fields.setdefault("device_name", name)
    if result.get("failed") and not fields.get("error"):
        fields["error"] = str(result.get("msg") or "the backup task failed")
    return DeviceBackupInfo(**fields)


def backed_up_files(
    device_results: Union[Mapping[str, Optional[Mapping[str, Any]]], Iterable[Optional[Mapping[str, Any]]]],
) -> Tuple[List[str], Dict[str, int]]:
    """The files a publish commits for a run's device results, and the counts for the commit message.

    A device counts as backed up when its running config was saved; its running file, its startup
    file when that was saved too, and its pinned SSH host key file (``host_key_file``) are committed
    (running files first, then startup files, then pins, each in device order).
    Accepts host name -> result (``backup_results``) or a list of results. Raises TypeError for
    anything else.
    """
    if isinstance(device_results, Mapping):
        results = list(device_results.values())
    elif isinstance(device_results, (list, tuple)):
        results = list(device_results)
    else:
        raise TypeError(f"device results must be a dict or a list, got {type(device_results).__name__}")
    running: List[str] = []
    startup: List[str] = []
    pins: List[str] = []
    backed_up = 0
    for result in results:
        if result is not None and not isinstance(result, Mapping):
            raise TypeError(f"each device result must be a dict, got {type(result).__name__}")
        if not result or not result.get("running_config_success"):
            continue
        backed_up += 1
        if result.get("running_config_file"):
            running.append(str(result["running_config_file"]))
        if result.get("startup_config_success") and result.get("startup_config_file"):
            startup.append(str(result["startup_config_file"]))
        if result.get("host_key_file"):
            pins.append(str(result["host_key_file"]))
    return running + startup + pins, {"devices_backed_up": backed_up, "devices_failed": len(results) - backed_up}


def failed_hosts(device_results: Mapping[str, Optional[Mapping[str, Any]]]) -> Dict[str, str]:
    """Host name -> "<error class>: <error>" for every host whose device backup failed (sorted by host).

    This is what a playbook needs to make exactly those hosts fail in the recap (add_host into a
    group, then a play that fails the group), whether the results came per host or from one batch.
    """
    failures: Dict[str, str] = {}
    for host, result in sorted(device_results.items()):
        info = device_info(host, result)
        if info.failed:
            error = info.error or "the running configuration was not backed up"
            failures[host] = f"{info.error_class or 'other'}: {error}"
    return failures


def build_run_result(
    device_results: Mapping[str, Optional[Mapping[str, Any]]],
    git_status: Optional[Mapping[str, Any]] = None,
    git_commit_status: Optional[Mapping[str, Any]] = None,
    timestamp_update_status: Optional[Mapping[str, Any]] = None,
    credential_info: Optional[Mapping[str, Any]] = None,
    **fields: Any,
) -> BackupRunResult:
    """Build the run result from per-host results and the publish/write-back outcomes."""
    devices = [device_info(name, result) for name, result in sorted(device_results.items())]
    return BackupRunResult.from_devices(
        devices,
        git_status=GitStatus(**_known(GitStatus, git_status)),
        git_commit_status=GitCommitStatus(**_known(GitCommitStatus, git_commit_status)),
        timestamp_update_status=TimestampUpdateStatus(**_known(TimestampUpdateStatus, timestamp_update_status)),
        credential_info=CredentialInfo(**_known(CredentialInfo, credential_info)),
        **fields,
    )


def write_report(path: str, result: BackupRunResult, mode: int = DEFAULT_FILE_MODE) -> bool:
    """Write the JSON report atomically (private: 0600 unless mode says otherwise); return whether it changed."""
    return write_if_changed(path, json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n", mode=mode)


def summary_lines(result: BackupRunResult) -> List[str]:
    """A short human summary: counts, failed devices with classes, commit, push, write-back."""
    commit = result.git_commit_status
    timestamps = result.timestamp_update_status
    lines = [
        f"Backup {'succeeded' if result.success else 'FAILED'}: "
        f"{result.devices_backed_up} device(s) backed up, {result.devices_failed} failed",
    ]
    for device in result.failed_devices:
        lines.append(f"  failed: {device.device_name} ({device.error_class}): {device.error}")
    if commit.committed:
        pushed = "pushed" if commit.pushed else "NOT pushed"
        lines.append(f"Commit {(commit.commit_hash or '')[:12]}: {commit.files_changed} file(s) changed, {pushed}")
    elif commit.pushed:
        lines.append("No new commit; earlier unpushed commits were pushed")
    else:
        lines.append("No commit: nothing changed")
    if commit.error:
        lines.append(f"Git error: {commit.error}")
    if timestamps.enabled:
        lines.append(
            f"Nautobot {timestamps.custom_field_name}: {timestamps.updated_count} updated, "
            f"{timestamps.failed_count} failed"
        )
        lines.extend(f"  write-back error: {error}" for error in timestamps.errors)
    return lines


def _known(model: Any, values: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Keep only the fields a model declares (module results carry extra keys such as 'changed')."""
    return {key: value for key, value in (values or {}).items() if key in model.model_fields}
