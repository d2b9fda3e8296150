"""What every benchmark measures, measured one way: a child's wall time, CPU and peak RSS, a running process's
CPU and memory, this process's own CPU, and the machine's load (the numbers mean little without it).

Standard library only: the 500-device benchmark's Nornir worker imports this module from another venv.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

CLK_TCK = os.sysconf("SC_CLK_TCK")
COLLECTION = ("netops", "nautobot_backup")

# A small intermediate process that forks the measured command and reports that command's rusage (wait4: the
# command plus every descendant it waited for, as /usr/bin/time -v). Linux carries the peak RSS of the process
# that forks and execs into the child's ru_maxrss, so a command forked straight from a large benchmark process
# would report at least the benchmark's own size; this wrapper is small (python -S).
_RUSAGE_WRAPPER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_pid, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"ru_maxrss": usage.ru_maxrss, "ru_utime": usage.ru_utime, "ru_stime": usage.ru_stime}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


class MeasureError(RuntimeError):
    """A measurement could not be taken (the wrapper reported nothing)."""


@dataclass(frozen=True)
class ChildUsage:
    """What one command cost: exit code, wall time from spawn to exit, CPU (user+system) and peak RSS.

    CPU and peak RSS cover the command and every descendant it waited for (Ansible's forked workers,
    git children); the wall time includes the wrapper's start, about 20 ms.
    """

    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float


def run_child(
    command: Sequence[str],
    *,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[Path] = None,
    stdout: Any = None,
    stderr: Any = None,
    timeout: Optional[float] = None,
    on_start: Optional[Callable[[int], None]] = None,
) -> ChildUsage:
    """Run command to completion (stdout/stderr as for subprocess.Popen) and return its ChildUsage.

    The command runs in its own process group; on timeout or interruption the whole group is killed,
    so nothing it started outlives the measurement. on_start(pid) is called with the wrapper's PID
    (for a profiler that follows subprocesses).
    """
    with tempfile.NamedTemporaryFile(prefix="rusage-", suffix=".json", delete=False) as handle:
        usage_file = Path(handle.name)
    wrapped = [sys.executable, "-S", "-c", _RUSAGE_WRAPPER, str(usage_file), *command]
    started = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 - the benchmark's own commands
        wrapped,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        if on_start is not None:
            on_start(proc.pid)
        returncode = proc.wait(timeout=timeout)
    except BaseException:
        _kill_group(proc)
        raise
    wall = time.perf_counter() - started
    try:
        usage = json.loads(usage_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MeasureError(f"no resource usage from the wrapper of {command[0]} (exit {returncode})") from exc
    finally:
        usage_file.unlink(missing_ok=True)
    return ChildUsage(
        returncode=returncode,
        wall_s=wall,
        cpu_s=usage["ru_utime"] + usage["ru_stime"],
        peak_rss_mib=usage["ru_maxrss"] / 1024,
    )


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the process group that run_child started (the wrapper's session) and reap the wrapper."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def process_cpu_s(pid: int, children: bool = False) -> float:
    """CPU seconds (user+system) used so far by a running process (plus its reaped children); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def process_memory_mib(pid: int) -> Dict[str, float]:
    """Current (rss) and peak (peak_rss) resident memory of a running process, in MiB; 0 if it is gone."""
    values = {"rss": 0.0, "peak_rss": 0.0}
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return values
    for line in status.splitlines():
        key, _sep, value = line.partition(":")
        if key == "VmRSS":
            values["rss"] = int(value.split()[0]) / 1024
        elif key == "VmHWM":
            values["peak_rss"] = int(value.split()[0]) / 1024
    return values


def process_table() -> List[tuple[int, int, int]]:
    """(pid, ppid, process group) of every process on the machine."""
    table = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="ascii").rsplit(") ", 1)[1].split()
            table.append((int(stat.parent.name), int(fields[1]), int(fields[2])))
        except (OSError, IndexError, ValueError):
            continue
    return table


def own_cpu_s() -> float:
    """CPU seconds of this process and its waited-for children so far (in-process benchmarks that run git etc.)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine_busy_cpu_s() -> float:
    """Non-idle CPU seconds of the whole machine so far (all cores, /proc/stat): a gauge of other people's work."""
    fields = [int(value) for value in Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    guest = sum(fields[8:10])  # guest time is already counted in user/nice
    return (sum(fields) - idle - guest) / CLK_TCK


def load() -> Dict[str, Any]:
    """The machine's load averages (1, 5, 15 minutes) and the cores this process may use."""
    return {
        "loadavg": [round(value, 2) for value in os.getloadavg()],
        "nproc": len(os.sched_getaffinity(0)),
        "cores": os.cpu_count(),
    }


def load_line(sample: Optional[Mapping[str, Any]] = None) -> str:
    """The load as one line, e.g. ``load 1.52 0.98 0.71 on 2 cores`` (now, or of a load() sample)."""
    sample = sample or load()
    return "load " + " ".join(f"{value:.2f}" for value in sample["loadavg"]) + f" on {sample['nproc']} cores"


def machine() -> Dict[str, Any]:
    """What the numbers ran on: load, cores, Python, kernel."""
    return {**load(), "python": platform.python_version(), "kernel": platform.release()}


def collections_path(value: Optional[str] = None) -> str:
    """ANSIBLE_COLLECTIONS_PATH as the caller set it (or value), after checking that it holds netops.nautobot_backup.

    Benchmarks run the installed collection the way a user does; they never pick a copy themselves.
    """
    value = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "") if value is None else value
    for root in filter(None, value.split(os.pathsep)):
        installed = Path(root, "ansible_collections", *COLLECTION)
        if (installed / "galaxy.yml").exists() or (installed / "MANIFEST.json").exists():
            return value
    raise SystemExit(
        f"collections path {value!r} holds no {'.'.join(COLLECTION)}: run the benchmarks through "
        "`make bench` (or see benchmarks/README.md)"
    )
