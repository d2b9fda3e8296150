"""Start and stop test-bed processes by PID, and wait for their sockets.

Private to the test suite. Every long-lived part of the test bed (lab, PostgreSQL,
Redis, Nautobot, Git HTTP server) is started through here so that it can be stopped
by the PID recorded in its pidfile, never by name.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set

REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """Return the git-ignored directory for test-bed state (override: NB_BACKUP_CACHE_DIR)."""
    path = Path(os.environ.get("NB_BACKUP_CACHE_DIR", REPO_ROOT / ".cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


class ProcessError(RuntimeError):
    """A test-bed process failed to start or stop."""


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a free TCP port on host."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Tell whether a process with this PID exists (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return _stat_fields(handle.read())[0] != "Z"
    except OSError:
        return True


def _stat_fields(stat: str) -> List[str]:
    """The fields of a /proc/<pid>/stat line after the command name (which may hold spaces and ")"): state first."""
    return stat.rsplit(")", 1)[1].split()


def parent_pids() -> Dict[int, int]:
    """pid -> parent pid of every process (from /proc)."""
    parents: Dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text(encoding="ascii")
            except OSError:
                continue
            parents[int(entry)] = int(_stat_fields(stat)[1])
    return parents


def process_tree(root: int) -> Dict[int, int]:
    """root and its descendants: pid -> depth (0: root, 1: its children, ...)."""
    parents = parent_pids()
    found = {root: 0}
    frontier = {root}
    depth = 0
    while frontier:
        depth += 1
        frontier = {pid for pid, parent in parents.items() if parent in frontier and pid not in found}
        found.update(dict.fromkeys(frontier, depth))
    return found


def wait_gone(pids: Iterable[int], seconds: float) -> Set[int]:
    """Wait up to seconds for every pid to end (zombies count as gone); return those still alive then."""
    deadline = time.monotonic() + seconds
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = {pid for pid in alive if pid_alive(pid)}
    return alive


def describe_processes(pids: Iterable[int]) -> str:
    """Where each process is, for a failure message: its command; each thread's state, wait channel and system call."""
    lines = []
    for pid in sorted(pids):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
            threads = []
            for task in sorted(Path(f"/proc/{pid}/task").iterdir(), key=lambda path: int(path.name)):
                state = _stat_fields((task / "stat").read_text(encoding="ascii"))[0]
                wchan = (task / "wchan").read_text(encoding="ascii") or "-"
                threads.append(f"{task.name}:{state}:{wchan}:{_syscall(task)}")
        except OSError as exc:
            lines.append(f"{pid}: gone ({exc.__class__.__name__})")
            continue
        lines.append(f"{pid}: {command} | threads {' '.join(threads)}")
    return "\n".join(lines)


def _syscall(task: Path) -> str:
    """The number of the system call a thread is in ("running", or "?" where it cannot be read)."""
    try:
        return (task / "syscall").read_text(encoding="ascii").split(" ", 1)[0].strip()
    except OSError:
        return "?"


def kill_quietly(pid: int, sig: int = signal.SIGKILL) -> None:
    """Send sig to pid; a process that is already gone is fine."""
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def read_pid(pidfile: Path) -> Optional[int]:
    """Return the PID stored in pidfile, or None when missing or stale."""
    try:
        pid = int(Path(pidfile).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def start_background(
    cmd: Sequence[str],
    pidfile: Path,
    logfile: Path,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[Path] = None,
) -> int:
    """Start cmd detached in its own session, record its PID in pidfile, return the PID."""
    pidfile = Path(pidfile)
    logfile = Path(logfile)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with open(logfile, "ab") as log:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
        )
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(f"{proc.pid}\n", encoding="ascii")
    return proc.pid


def stop_pid(pid: int, timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
    """Signal pid's process group (it was started in its own session), wait, then SIGKILL it."""
    for target in (lambda s: os.killpg(pid, s), lambda s: os.kill(pid, s)):
        try:
            target(sig)
            break
        except ProcessLookupError:
            continue
        except PermissionError:
            continue
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    for target in (lambda s: os.killpg(pid, s), lambda s: os.kill(pid, s)):
        try:
            target(signal.SIGKILL)
        except OSError:
            pass
    _reap(pid)


def stop_pidfile(pidfile: Path, timeout: float = 15.0) -> bool:
    """Stop the process recorded in pidfile; return True if one was running."""
    pid = read_pid(Path(pidfile))
    if pid is None:
        Path(pidfile).unlink(missing_ok=True)
        return False
    stop_pid(pid, timeout=timeout)
    Path(pidfile).unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    """Collect an exited child so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_port(host: str, port: int, timeout: float = 30.0, pid: Optional[int] = None) -> None:
    """Wait until host:port accepts TCP connections; fail early if pid dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is not None and not pid_alive(pid):
            raise ProcessError(f"process {pid} exited before {host}:{port} opened")
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.1)
    raise ProcessError(f"{host}:{port} did not open within {timeout:.0f}s")
