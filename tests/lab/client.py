"""LabClient: what tests and tools use to find and steer a running lab.

It reads ``<state_dir>/lab.json`` (written by the lab process) for the device list and
talks JSON lines to the lab's Unix control socket to change device state at runtime
or read the connection log.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any, Iterable, Optional

from lab.state import LabError, read_state

__all__ = ["LabClient", "LabError", "read_state"]


class LabClient:
    """Client for one running lab, identified by its state directory."""

    def __init__(self, state_dir: Path | str, timeout: float = 10.0) -> None:
        self.state_dir = Path(state_dir)
        self.timeout = timeout
        self.state = read_state(self.state_dir)

    # --- static facts from lab.json -----------------------------------------------

    def reload(self) -> dict[str, Any]:
        """Re-read lab.json (faults there follow runtime changes) and return it."""
        self.state = read_state(self.state_dir)
        return self.state

    @property
    def pid(self) -> int:
        """PID of the lab process."""
        return int(self.state["pid"])

    @property
    def port(self) -> int:
        """The TCP port every device listens on."""
        return int(self.state["port"])

    @property
    def control_path(self) -> Path:
        """Path of the control socket."""
        return Path(self.state["control"])

    @property
    def log_path(self) -> Path:
        """Path of the connection log (JSON lines)."""
        return Path(self.state["log"])

    @property
    def devices(self) -> list[dict[str, Any]]:
        """The lab.json device entries (name, platform, host, port, credentials, faults, ...)."""
        return list(self.reload()["devices"])

    def entry(self, name: str) -> dict[str, Any]:
        """Return the lab.json entry of device name."""
        for dev in self.devices:
            if dev["name"] == name:
                return dev
        raise LabError(f"no device {name!r} in {self.state_dir}")

    def netmiko_params(self, name: str, **overrides: Any) -> dict[str, Any]:
        """Return ConnectHandler keyword arguments for device name."""
        dev = self.entry(name)
        params = {
            "device_type": dev["platform"],
            "host": dev["host"],
            "port": dev["port"],
            "username": dev["username"],
            "password": dev["password"],
            "secret": dev["secret"],
        }
        params.update(overrides)
        return params

    # --- control socket -----------------------------------------------------------

    def request(self, op: str, **args: Any) -> Any:
        """Send one control request and return its result (LabError on failure)."""
        payload = json.dumps({"op": op, **args}).encode() + b"\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(str(self.control_path))
                sock.sendall(payload)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(1 << 20)
                    if not chunk:
                        break
                    data += chunk
        except OSError as exc:
            raise LabError(f"control socket {self.control_path}: {exc}") from exc
        if not data:
            raise LabError(f"control socket {self.control_path}: no reply to {op}")
        reply = json.loads(data)
        if not reply.get("ok"):
            raise LabError(f"{op}: {reply.get('error')}")
        return reply.get("result")

    def ping(self) -> dict[str, Any]:
        """Return {pid, port, devices, listening} from the lab process."""
        return dict(self.request("ping"))

    def device(self, name: str) -> dict[str, Any]:
        """Return the live state of a device (faults, changes, sessions, ...)."""
        return dict(self.request("device", name=name))

    def live_devices(self) -> list[dict[str, Any]]:
        """Return the live state of every device."""
        return list(self.request("devices"))

    def running_config(self, name: str) -> str:
        """Return the canonical running config (what a backup should hold)."""
        return str(self.request("running_config", name=name))

    def startup_config(self, name: str) -> Optional[str]:
        """Return the canonical startup config, or None (XR, Junos)."""
        result = self.request("startup_config", name=name)
        return None if result is None else str(result)

    def set_running_config(self, name: str, text: str) -> None:
        """Replace the running config (canonical form: no volatile lines)."""
        self.request("set_running_config", name=name, text=text)

    def change_config(self, name: str) -> str:
        """Change the running config for real; return the line that was added or changed."""
        return str(self.request("change_config", name=name))

    def write_memory(self, name: str) -> bool:
        """Copy running to startup (False where the platform has no startup config)."""
        return bool(self.request("write_memory", name=name))

    def set_faults(self, name: str, faults: Iterable[str]) -> list[str]:
        """Replace the device's active faults (empty to clear); return them."""
        return list(self.request("set_faults", name=name, faults=list(faults)))

    def set_queue_drops(
        self, name: str, drops: dict[str, dict[str, int]], merge: bool = True
    ) -> dict[str, dict[str, int]]:
        """Set per-interface drops, e.g. {"GigabitEthernet2": {"input": 5, "output": 900}}; return them all."""
        return dict(self.request("set_queue_drops", name=name, drops=drops, merge=merge))

    def set_host_key(self, name: str, seed: Optional[str] = None, key_type: str = "ssh-ed25519") -> dict[str, str]:
        """Make the device present its own host key from the next connection (derived from seed; None: the lab's
        shared key again). key_type: ssh-ed25519, ecdsa-sha2-nistp256 or ssh-rsa. Returns host_key(name)."""
        return dict(self.request("set_host_key", name=name, seed=seed, key_type=key_type))

    def host_key(self, name: str) -> dict[str, str]:
        """The host key the device presents now: {"public_key": "ssh-ed25519 AAAA...", "fingerprint", "type"}."""
        return dict(self.request("host_key", name=name))

    def known_hosts_line(self, name: str) -> str:
        """A known_hosts line for the device's current host key at its address ("[host]:port type key")."""
        entry = self.entry(name)
        return f"[{entry['host']}]:{entry['port']} {self.host_key(name)['public_key']}"

    def snapshot(self, name: str) -> dict[str, Any]:
        """Capture a device's mutable state (faults, running, startup)."""
        return dict(self.request("snapshot", name=name))

    def restore(self, name: str, snapshot: dict[str, Any]) -> None:
        """Put back a snapshot."""
        self.request("restore", name=name, snapshot=snapshot)

    def reset_device(self, name: str) -> None:
        """Return a device to its spec state (generated config, spec faults)."""
        self.request("reset", name=name)

    def connection_log(self, device: Optional[str] = None, event: Optional[str] = None) -> list[dict[str, Any]]:
        """Return connection events {ts, device, host, peer, event, command?}, optionally filtered."""
        events = list(self.request("log"))
        return [
            e for e in events if (device is None or e["device"] == device) and (event is None or e["event"] == event)
        ]

    def clear_log(self) -> None:
        """Empty the connection log."""
        self.request("clear_log")

    def wait_for_event(self, device: str, event: str, timeout: float = 5.0) -> dict[str, Any]:
        """Wait until the log has an event of this kind for device; return the newest one."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.connection_log(device=device, event=event)
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise LabError(f"no {event} event for {device} within {timeout}s")
            time.sleep(0.05)
