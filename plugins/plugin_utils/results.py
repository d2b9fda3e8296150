# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""Engine outcomes shaped into Ansible task results: changed, failed, msg and diff over the result model's fields.

The device actions and the progress callback use these, so a device reads the same in per-host
and batch mode, and in the progress lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Mapping, Sequence

if TYPE_CHECKING:  # only for annotations: the progress callback imports this module without netmiko's cost
    from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup import BackupOutcome
    from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceJobInfo


def task_result(info: Mapping[str, Any], diffs: Sequence[Mapping[str, str]] = ()) -> Dict[str, Any]:
    """One host's task result: the DeviceBackupInfo fields plus changed/failed/msg (and diff)."""
    result: Dict[str, Any] = dict(info)
    result["changed"] = bool(info.get("changed"))
    if info.get("error"):
        result["failed"] = True
        result["msg"] = f"{info.get('error_class')}: {info.get('error')}"
    else:
        result["msg"] = "running config {state}{startup}".format(
            state="changed" if info.get("changed") else "unchanged",
            startup="" if info.get("startup_config_success") else f"; startup: {info.get('startup_config_reason')}",
        )
    if diffs:
        result["diff"] = list(diffs)
    return result


def outcome_result(outcome: BackupOutcome) -> Dict[str, Any]:
    """The task result of one device's BackupOutcome."""
    return task_result(outcome.info.to_dict(), outcome.diffs)


def batch_results(outcomes: Mapping[str, BackupOutcome]) -> Dict[str, Dict[str, Any]]:
    """Every device's task result, in the order of the outcomes (backup.backup_batch's)."""
    return {name: outcome_result(outcome) for name, outcome in outcomes.items()}


def progress_line(done: int, total: int, name: str, result: Mapping[str, Any]) -> str:
    """The per-device progress line: ``[i/N] device ok (changed)`` or ``... failed (class): error``."""
    if result.get("failed"):
        text = f"failed ({result.get('error_class') or 'other'}): {result.get('error') or result.get('msg')}"
    else:
        text = f"ok ({'changed' if result.get('changed') else 'unchanged'})"
    return f"[{done}/{max(total, done)}] {name} {text}"


def job_result(info: DeviceJobInfo) -> Dict[str, Any]:
    """A device job's task result: the DeviceJobInfo fields plus changed/failed/msg; a failed device fails its host."""
    data = info.to_dict()
    result: Dict[str, Any] = dict(data)
    result["changed"] = bool(data.get("changed"))
    if data.get("error"):
        result["failed"] = True
        result["msg"] = f"{data.get('error_class')}: {data.get('error')}"
    else:
        result["msg"] = f"{len(data.get('outputs') or [])} command(s) run"
    return result
