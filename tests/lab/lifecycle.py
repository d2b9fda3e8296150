"""Start, stop and inspect a lab process (used by the CLI, the pytest fixture and benchmarks).

The lab always runs as a separate, detached process started through
``testbed.procs.start_background`` so it can be stopped by the PID in its pidfile.
Starting returns only when lab.json is written and the kernel shows a listening
socket for every device address (checked in /proc/net/tcp, so no connection is
made and the connection log stays empty).
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Optional

from lab.client import LabClient
from lab.spec import LabSpec, load_spec
from lab.state import PID_FILE, PROCESS_LOG, STATE_FILE, LabError, control_socket_path, read_state
from testbed import procs

TESTS_DIR = Path(__file__).resolve().parents[1]
SPECS_DIR = Path(__file__).resolve().parent / "specs"


def default_state_dir(spec_path: Path | str) -> Path:
    """Return .cache/lab/<spec stem>, the state directory used when none is given."""
    return procs.cache_dir() / "lab" / Path(spec_path).stem


def listening_addresses(port: int) -> set[str]:
    """Return the IPv4 addresses with a TCP socket in LISTEN state on port (from /proc/net/tcp)."""
    found: set[str] = set()
    with open("/proc/net/tcp", encoding="ascii") as handle:
        next(handle)
        for line in handle:
            fields = line.split()
            addr_hex, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:
                found.add(socket.inet_ntoa(struct.pack("<I", int(addr_hex, 16))))
    return found


def _log_tail(state_dir: Path, lines: int = 20) -> str:
    """Return the end of the lab process log, for error messages."""
    try:
        return "\n".join((state_dir / PROCESS_LOG).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_lab(
    spec_path: Path | str,
    state_dir: Optional[Path | str] = None,
    port: Optional[int] = None,
    timeout: float = 60.0,
) -> LabClient:
    """Start a lab for spec_path in the background and wait until every listener is up.

    port: None uses the spec's ``port`` or, failing that, a free port; 0 forces a free port.
    """
    spec_path = Path(spec_path).resolve()
    spec: LabSpec = load_spec(spec_path)  # fail here, not in the child, on a bad spec
    state = Path(state_dir).resolve() if state_dir else default_state_dir(spec_path)
    state.mkdir(parents=True, exist_ok=True)
    pidfile = state / PID_FILE
    running = procs.read_pid(pidfile)
    if running is not None:
        raise LabError(f"a lab is already running from {state} (pid {running}); stop it first")
    (state / STATE_FILE).unlink(missing_ok=True)
    chosen = port if port is not None else (spec.port or 0)
    cmd = [sys.executable, "-m", "lab", "start", "--foreground", "--spec", str(spec_path)]
    cmd += ["--state-dir", str(state), "--port", str(chosen)]
    pythonpath = os.pathsep.join(p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH", "")) if p)
    pid = procs.start_background(cmd, pidfile, state / PROCESS_LOG, env={"PYTHONPATH": pythonpath}, cwd=TESTS_DIR)
    try:
        _wait_ready(state, pid, spec, timeout)
    except BaseException:
        procs.stop_pid(pid)
        pidfile.unlink(missing_ok=True)
        raise
    return LabClient(state)


def _wait_ready(state_dir: Path, pid: int, spec: LabSpec, timeout: float) -> None:
    """Wait for lab.json from pid, a control ping and a LISTEN socket per device."""
    deadline = time.monotonic() + timeout
    hosts = {d.host for d in spec.devices}
    while True:
        if not procs.pid_alive(pid):
            raise LabError(f"lab process {pid} exited during start-up:\n{_log_tail(state_dir)}")
        try:
            state = read_state(state_dir)
        except LabError:
            state = {}
        if state.get("pid") == pid:
            missing = hosts - listening_addresses(int(state["port"]))
            if not missing:
                LabClient(state_dir).ping()
                return
        if time.monotonic() > deadline:
            raise LabError(f"lab process {pid} not ready within {timeout:.0f}s:\n{_log_tail(state_dir)}")
        time.sleep(0.1)


def stop_lab(state_dir: Path | str, timeout: float = 15.0) -> bool:
    """Stop the lab of state_dir by the PID in its pidfile; return True if one was running."""
    state = Path(state_dir)
    stopped = procs.stop_pidfile(state / PID_FILE, timeout=timeout)
    (state / STATE_FILE).unlink(missing_ok=True)
    control_socket_path(state).unlink(missing_ok=True)
    return stopped


def lab_pid(state_dir: Path | str) -> Optional[int]:
    """Return the PID of the running lab of state_dir, or None."""
    return procs.read_pid(Path(state_dir) / PID_FILE)
