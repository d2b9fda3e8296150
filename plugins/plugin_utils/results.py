# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""Engine outcomes shaped into Ansible task results: changed, failed, msg and diff over the result model's fields.

The device actions and the progress callback use these, so a device reads the same in per-host
and batch mode, and in the progress lines.
"""

from __future__ import annotations

import re
import time
import unicodedata
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence

from ansible_collections.netops.nautobot_backup.plugins.module_utils.command_lines import UNSAFE_CATEGORIES

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


def duration(seconds: float) -> str:
    """A short human duration: ``42s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def periodic_line(done: int, total: int, elapsed: float, ok: int, changed: int, failed: int) -> str:
    """The periodic progress line: done/total, rate, ETA and the running counts.

    ``progress: 120/500 devices in 40s, 3.0 devices/s, ETA 2m07s; 115 ok (5 changed), 5 failed``.
    The rate is per minute below one device a second; the ETA is unknown until a device has finished.
    """
    total = max(total, done)
    rate = done / elapsed if elapsed > 0 else 0.0
    if rate >= 1:
        speed = f"{rate:.1f} devices/s"
    else:
        speed = f"{rate * 60:.1f} devices/min"
    eta = duration((total - done) / rate) if rate > 0 else "unknown"
    return (
        f"progress: {done}/{total} devices in {duration(elapsed)}, {speed}, ETA {eta}; "
        f"{ok} ok ({changed} changed), {failed} failed"
    )


class ProgressTicker:
    """Counts finished devices and gives the periodic line once ``interval`` seconds have passed since the last.

    Driven by results (call ``record`` as each device finishes), so no thread runs beside the backup;
    an interval of 0 (or less) turns the periodic line off. ``clock`` is injectable for tests.
    """

    def __init__(self, total: int, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.interval = interval
        self.clock = clock
        self.started = self.last = clock()
        self.ok = self.changed = self.failed = 0

    def record(self, result: Mapping[str, Any]) -> Optional[str]:
        """Count one finished device's task result; return the periodic line when it is due, else None."""
        if result.get("failed"):
            self.failed += 1
        else:
            self.ok += 1
            self.changed += bool(result.get("changed"))
        if self.interval <= 0:
            return None
        now = self.clock()
        if now - self.last < self.interval:
            return None
        self.last = now
        done = self.ok + self.failed
        return periodic_line(done, self.total, now - self.started, self.ok, self.changed, self.failed)


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


# ANSI escape sequences: CSI (colours, cursor moves), OSC (window titles, hyperlinks) and two-byte escapes.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
REPLACEMENT = "\ufffd"


def printable(text: Any) -> str:
    """A line of device output made safe to print: ANSI escapes removed, tabs expanded, other controls as U+FFFD.

    Device output is hostile: an escape sequence could recolour or rewrite the operator's terminal,
    and a bidirectional or zero-width control could hide text (the categories command_lines refuses).
    """
    line = _ANSI.sub("", str(text)).expandtabs(8)
    return "".join(REPLACEMENT if unicodedata.category(char) in UNSAFE_CATEGORIES else char for char in line)


def job_output(result: Mapping[str, Any]) -> List[str]:
    """The lines to show for one device's run_commands or check_queues result, each made printable.

    run_commands: each command as ``### <command>`` followed by its output lines. check_queues: the
    command, then a table of the interfaces over the threshold. A failed device shows its error too.
    """
    lines: List[str] = []
    if result.get("error"):
        lines.append(printable(f"failed ({result.get('error_class') or 'other'}): {result.get('error')}"))
    if result.get("interfaces") is not None:
        lines += _queue_table(result)
        return lines
    for item in result.get("outputs") or []:
        lines.append(f"### {printable(item.get('command', ''))}")
        lines += [printable(line) for line in str(item.get("output") or "").splitlines()]
    return lines


def _queue_table(result: Mapping[str, Any]) -> List[str]:
    """check_queues: the command and a table of the flagged interfaces (drops in and out)."""
    command = printable((result.get("commands") or ["show interfaces"])[0])
    threshold = result.get("drop_threshold")
    interfaces = result.get("interfaces") or []
    flagged = [item for item in interfaces if item.get("over_threshold")]
    if not flagged:
        return [f"### {command}: {len(interfaces)} interface(s), none over {threshold} drops"]
    rows = [
        (printable(item.get("interface")), str(item.get("input_drops")), str(item.get("output_drops")))
        for item in flagged
    ]
    header = ("interface", "input drops", "output drops")
    width = max(len(header[0]), *(len(row[0]) for row in rows))
    table = [f"{header[0]:<{width}}  {header[1]:>11}  {header[2]:>12}"]
    table += [f"{name:<{width}}  {drops_in:>11}  {drops_out:>12}" for name, drops_in, drops_out in rows]
    return [f"### {command}: {len(flagged)} of {len(interfaces)} interface(s) over {threshold} drops", *table]


HOST_STATUSES = ("ok", "changed", "failed")


def host_status_result(
    host: str,
    status: Optional[str] = None,
    statuses: Optional[Mapping[str, Any]] = None,
    msg: Optional[str] = None,
) -> Dict[str, Any]:
    """The host_status task result of one host: its status given, or looked up in a host -> status mapping.

    One rule for the action plugin (a worker per host) and the collection's strategy (in the controller process).
    A host missing from ``statuses`` is ``ok``. ``failed`` fails the task with ``msg``. Raises ValueError.
    """
    if (status is None) == (statuses is None):
        raise ValueError("host_status needs exactly one of status and statuses_var")
    if statuses is not None:
        if not isinstance(statuses, Mapping):
            raise ValueError(f"statuses_var must name a dict of host name -> status, not a {type(statuses).__name__}")
        status = statuses.get(host, "ok")
    if status not in HOST_STATUSES:
        raise ValueError(f"host status must be one of {', '.join(HOST_STATUSES)}, not {printable(str(status))!r}")
    result: Dict[str, Any] = {"changed": status == "changed", "status": status}
    if status == "failed":
        result.update(failed=True, msg=str(msg or "failed"))
    return result
