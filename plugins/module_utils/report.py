"""Assemble the run result (models.BackupRunResult), write it as JSON, and summarise it for people and AWX.

One ``BackupRunResult`` (every device's full record) feeds the JSON report file, the lean set_stats
artifact (``run_artifact``: counts and a bounded list of names, for AWX) and the end-of-play summary
(``summary_lines``: at most 25 lines at any fleet size), so they can never disagree. ``success`` is
derived: false when any device failed or the push failed.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import DEFAULT_FILE_MODE, write_if_changed
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import (
    BackupRunResult,
    CredentialInfo,
    DeviceBackupInfo,
    FailedDeviceBrief,
    GitBrief,
    GitCommitStatus,
    GitStatus,
    RunArtifact,
    RunCounts,
    TimestampUpdateStatus,
    WritebackBrief,
)

_DEVICE_FIELDS = set(DeviceBackupInfo.model_fields) if hasattr(DeviceBackupInfo, "model_fields") else set()

# The artifact names at most this many failed and changed devices (the rest are counted in
# failed_more / changed_more) and keeps this many characters of each message, so its size is
# bounded whatever the fleet size (about 1 KB + 25 x (name + 250) + 200 x (name + 4) bytes).
ARTIFACT_MAX_FAILED = 25
ARTIFACT_MAX_CHANGED = 200
ARTIFACT_MAX_WRITEBACK_ERRORS = 5
MAX_ERROR_CHARS = 200
# The summary: at most 8 failed devices (one line each), changed device names packed into at most
# 3 lines of about 100 characters, 2 write-back errors; each list ends with "+N more (see report)".
SUMMARY_MAX_FAILED = 8
SUMMARY_CHANGED_LINES = 3
SUMMARY_LINE_WIDTH = 100
SUMMARY_MAX_WRITEBACK_ERRORS = 2
SUMMARY_ERROR_CHARS = 120


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


def file_owners(
    device_results: Union[Mapping[str, Optional[Mapping[str, Any]]], Iterable[Optional[Mapping[str, Any]]]],
) -> Dict[str, str]:
    """Committed file -> device name (its ``device_name``, else the host name), for the Devices-Changed trailer.

    The files are those backed_up_files commits; takes host name -> result, or a list of results.
    """
    items = device_results.items() if isinstance(device_results, Mapping) else enumerate(device_results)
    owners: Dict[str, str] = {}
    for host, result in items:
        if not isinstance(result, Mapping) or not result.get("running_config_success"):
            continue
        name = str(result.get("device_name") or host)
        for key in ("running_config_file", "startup_config_file", "host_key_file"):
            if result.get(key):
                owners[str(result[key])] = name
    return owners


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


def bounded(text: Optional[str], limit: int = MAX_ERROR_CHARS) -> Optional[str]:
    """The first ``limit`` characters of a message, ending in "..." when it was cut (None stays None)."""
    if text is None or len(text) <= limit:
        return text
    return text[: max(limit - 3, 0)] + "..."


def run_counts(result: BackupRunResult) -> RunCounts:
    """Devices in total, ok (backed up, unchanged), changed (backed up, changed), failed, and failed per class."""
    changed = sum(1 for device in result.backed_up_devices if device.changed)
    by_class = Counter(device.error_class or "other" for device in result.failed_devices)
    return RunCounts(
        devices=result.devices_backed_up + result.devices_failed,
        ok=result.devices_backed_up - changed,
        changed=changed,
        failed=result.devices_failed,
        failed_by_class=dict(sorted(by_class.items(), key=lambda item: (-item[1], item[0]))),
    )


def run_artifact(
    result: BackupRunResult,
    report_path: Optional[str] = None,
    max_failed: int = ARTIFACT_MAX_FAILED,
    max_changed: int = ARTIFACT_MAX_CHANGED,
) -> RunArtifact:
    """The lean form of a run for set_stats (AWX job artifacts): counts, a bounded list of names, Git, write-back.

    Failed devices (name, class, message cut to MAX_ERROR_CHARS) and changed device names are listed
    up to ``max_failed`` / ``max_changed``, in device order; ``failed_more`` / ``changed_more`` count the
    rest. The messages are the report's, which never hold a secret.
    """
    failed = [
        FailedDeviceBrief(
            device=str(device.device_name),
            error_class=device.error_class or "other",
            error=bounded(device.error) or "the running configuration was not backed up",
        )
        for device in result.failed_devices
    ]
    changed = [str(device.device_name) for device in result.backed_up_devices if device.changed]
    commit = result.git_commit_status
    timestamps = result.timestamp_update_status
    return RunArtifact(
        success=result.success,
        counts=run_counts(result),
        failed=failed[:max_failed],
        failed_more=max(len(failed) - max_failed, 0),
        changed=changed[:max_changed],
        changed_more=max(len(changed) - max_changed, 0),
        git=GitBrief(
            commit=commit.commit_hash if commit.committed else None,
            pushed=commit.pushed,
            files_changed=commit.files_changed,
            error=bounded(commit.error),
        ),
        writeback=WritebackBrief(
            enabled=timestamps.enabled,
            updated=timestamps.updated_count,
            failed=timestamps.failed_count,
            errors=[str(bounded(error)) for error in timestamps.errors[:ARTIFACT_MAX_WRITEBACK_ERRORS]],
        ),
        report_path=report_path,
        repository=result.repository,
        timestamp=result.commit_date,
    )


def summary_lines(result: BackupRunResult, report_path: Optional[str] = None) -> List[str]:
    """A human summary of at most 25 lines at any fleet size.

    Counts (ok, changed, failed) and failed counts per class; the failed devices with their class and
    the changed devices, each list cut with "+N more (see report)"; the commit and push; the Nautobot
    write-back counts; the report file.
    """
    counts = run_counts(result)
    commit = result.git_commit_status
    timestamps = result.timestamp_update_status
    lines = [
        f"Backup {'succeeded' if result.success else 'FAILED'}: {counts.devices} device(s): "
        f"{counts.ok} ok, {counts.changed} changed, {counts.failed} failed"
    ]
    if counts.failed_by_class:
        lines.append("Failed by class: " + ", ".join(f"{name} {n}" for name, n in counts.failed_by_class.items()))
    for device in result.failed_devices[:SUMMARY_MAX_FAILED]:
        error = bounded(device.error, SUMMARY_ERROR_CHARS)
        lines.append(f"  failed: {device.device_name} ({device.error_class or 'other'}): {error}")
    lines.extend(_more(counts.failed - SUMMARY_MAX_FAILED))
    changed = [str(device.device_name) for device in result.backed_up_devices if device.changed]
    if changed:
        packed, shown = _pack(changed, f"Changed ({len(changed)}): ", SUMMARY_LINE_WIDTH, SUMMARY_CHANGED_LINES)
        lines.extend(packed)
        lines.extend(_more(len(changed) - shown))
    if commit.committed:
        pushed = "pushed" if commit.pushed else "NOT pushed"
        lines.append(f"Commit {(commit.commit_hash or '')[:12]}: {commit.files_changed} file(s) changed, {pushed}")
    elif commit.pushed:
        lines.append("No new commit; earlier unpushed commits were pushed")
    else:
        lines.append("No commit: nothing changed")
    if commit.error:
        lines.append(f"Git error: {bounded(commit.error)}")
    if timestamps.enabled:
        lines.append(
            f"Nautobot {timestamps.custom_field_name}: {timestamps.updated_count} updated, "
            f"{timestamps.failed_count} failed"
        )
        errors = timestamps.errors
        lines.extend(f"  write-back error: {bounded(error)}" for error in errors[:SUMMARY_MAX_WRITEBACK_ERRORS])
        lines.extend(_more(len(errors) - SUMMARY_MAX_WRITEBACK_ERRORS, "write-back error(s)"))
    if report_path:
        lines.append(f"Report: {report_path}")
    return lines


def failure_message(result: BackupRunResult, lines: Sequence[str]) -> str:
    """One line for a failed task: counts, classes, the first failed device, and the Git lines if the push failed."""
    picked = [line for line in lines if line.startswith(("Backup ", "Failed by class: "))]
    picked += [line.strip() for line in lines if line.startswith("  failed: ")][:1]
    if result.git_commit_status.failed:
        picked += [line for line in lines if line.startswith(("Commit ", "No ", "Git error: "))]
    return " / ".join(picked)


def _more(count: int, what: str = "") -> List[str]:
    """The "+N more (see report)" line of a cut list, or nothing when nothing was cut."""
    return [f"  +{count} more{' ' + what if what else ''} (see report)"] if count > 0 else []


def _pack(names: Sequence[str], head: str, width: int, max_lines: int) -> Tuple[List[str], int]:
    """Names joined by ", " into at most ``max_lines`` lines of about ``width`` characters; also how many fit."""
    lines: List[str] = []
    prefix = head
    current: List[str] = []
    for index, name in enumerate(names):
        if current and len(prefix + ", ".join(current + [name])) > width:
            if len(lines) + 1 == max_lines:
                lines.append(prefix + ", ".join(current))
                return lines, index
            lines.append(prefix + ", ".join(current) + ",")
            prefix, current = "  ", []
        current.append(name)
    lines.append(prefix + ", ".join(current))
    return lines, len(names)


def _known(model: Any, values: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Keep only the fields a model declares (module results carry extra keys such as 'changed')."""
    return {key: value for key, value in (values or {}).items() if key in model.model_fields}
