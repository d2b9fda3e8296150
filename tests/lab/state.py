"""File layout of a lab state directory, shared by the lab process, the CLI and clients.

Keeping the names in one light module lets clients find a lab without importing the
server (and asyncssh).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

STATE_FILE = "lab.json"  # the contract: pid, port, control, log, devices
PID_FILE = "lab.pid"
PROCESS_LOG = "lab.log"  # the lab process's stdout/stderr
CONNECTION_LOG = "connections.jsonl"
HOST_KEY_FILE = "ssh_host_ed25519_key"


class LabError(RuntimeError):
    """The lab is not running, or it rejected a request."""


def control_socket_path(state_dir: Path) -> Path:
    """Return where the control socket lives (a short /tmp path if state_dir is too deep)."""
    path = Path(state_dir) / "control.sock"
    if len(str(path)) < 100:
        return path
    digest = hashlib.sha1(str(state_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"lab-{digest}.sock"


def read_state(state_dir: Path | str) -> dict[str, Any]:
    """Return the parsed lab.json of state_dir (LabError if it is missing or unreadable)."""
    path = Path(state_dir) / STATE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabError(f"no lab state at {path}: is the lab running?") from None
    except (OSError, ValueError) as exc:
        raise LabError(f"cannot read {path}: {exc}") from exc


def write_json_atomic(path: Path, data: Any) -> None:
    """Write data as JSON to path via a temporary file and rename, so readers never see half."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
