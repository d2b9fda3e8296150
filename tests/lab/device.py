"""State of one simulated device: configurations, faults and clocks.

The state lives in the lab process and is shared by every SSH session to the device
and by the control socket, so a test can change a device's configuration or faults
between two netmiko reads and see the effect. Configurations are kept in canonical
form (no volatile lines); platforms.py adds the volatile lines on output.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Optional

from lab.configs import generate_config
from lab.interfaces import check_drops
from lab.platforms import Platform, get_platform
from lab.spec import FAULTS, DeviceSpec

# Host key types a device can be given at runtime (ed25519 and ECDSA keys are derived from the seed; RSA
# keys are generated once per seed and lab process).
HOST_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa")


def utcnow() -> datetime:
    """Return the current UTC time (naive, as devices print it without zone math)."""
    return datetime.now(UTC).replace(tzinfo=None)


def split_config(text: str) -> list[str]:
    """Split a configuration text into lines (any line ending), dropping one final newline."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


class DeviceState:
    """Mutable state of one device: running/startup config, faults, counters."""

    def __init__(self, spec: DeviceSpec) -> None:
        self.spec = spec
        self.platform: Platform = get_platform(spec.platform)
        self.faults: list[str] = list(spec.faults)
        self.running: list[str] = []
        self.startup: Optional[list[str]] = None
        self.changed_at = self.saved_at = utcnow()
        self.changes = 0
        self.sessions = 0
        self.queue_drops: dict[str, dict[str, int]] = {}
        # {"seed": ..., "type": ...}: the device presents its own host key (derived from the seed) instead of
        # the lab's shared one; None: the shared key. See set_host_key().
        self.host_key: Optional[dict[str, str]] = None
        self._last_stamp = utcnow() - timedelta(seconds=1)
        self.reset()

    @property
    def name(self) -> str:
        """Return the device name."""
        return self.spec.name

    def option(self, key: str) -> Any:
        """Return a per-device option from the spec (config_lines, slow_seconds, ...)."""
        return self.spec.options[key]

    def reset(self) -> None:
        """Restore the state the spec describes: generated config saved to startup, spec faults."""
        self.faults = list(self.spec.faults)
        self.host_key = None
        self.queue_drops = check_drops(self.spec.platform, self.spec.options.get("queue_drops") or {})
        self.running = generate_config(self.spec)
        self.startup = list(self.running) if self.platform.has_startup else None
        self.changed_at = self.saved_at = utcnow()
        self.changes = 0

    def stamp(self) -> datetime:
        """Return 'now' for a volatile line, strictly later (by >= 1 s) than the previous one.

        Two reads within the same second must still differ in their volatile lines,
        otherwise tests of volatile-line handling would be flaky.
        """
        now = utcnow()
        if now < self._last_stamp + timedelta(seconds=1):
            now = self._last_stamp + timedelta(seconds=1)
        self._last_stamp = now
        return now

    def set_running(self, text: str) -> None:
        """Replace the running configuration with text (canonical form, no volatile lines)."""
        self.running = split_config(text)
        self.changed_at = utcnow()

    def change_config(self) -> str:
        """Make a real change to the running configuration and return the line added."""
        self.changes += 1
        self.running, line = self.platform.change_config(self.running, self.changes)
        self.changed_at = utcnow()
        return line

    def write_memory(self) -> bool:
        """Copy running to startup; return False when the platform has no startup config."""
        if not self.platform.has_startup:
            return False
        self.startup = list(self.running)
        self.saved_at = utcnow()
        return True

    def set_faults(self, faults: list[str]) -> None:
        """Replace the active faults (validated against the known fault names)."""
        bad = [f for f in faults if f not in FAULTS]
        if bad:
            raise ValueError(f"unknown faults {bad} (known: {', '.join(FAULTS)})")
        self.faults = list(dict.fromkeys(faults))

    def set_queue_drops(self, drops: dict[str, Any], merge: bool = True) -> dict[str, dict[str, int]]:
        """Set input/output drop counters per interface (merged into the current ones unless merge is False)."""
        checked = check_drops(self.spec.platform, drops)
        self.queue_drops = {**self.queue_drops, **checked} if merge else checked
        return self.queue_drops

    def set_host_key(self, seed: Optional[str], key_type: str = "ssh-ed25519") -> None:
        """Present a host key derived from seed (same seed, same key) from the next connection; None: the lab's key."""
        if seed is None:
            self.host_key = None
            return
        if key_type not in HOST_KEY_TYPES:
            raise ValueError(f"unknown host key type {key_type!r} (known: {', '.join(HOST_KEY_TYPES)})")
        self.host_key = {"seed": str(seed), "type": key_type}

    def has_fault(self, fault: str) -> bool:
        """Tell whether fault is active."""
        return fault in self.faults

    def snapshot(self) -> dict[str, Any]:
        """Return everything a test may mutate, for restore()."""
        return {
            "faults": list(self.faults),
            "running": "\n".join(self.running),
            "startup": None if self.startup is None else "\n".join(self.startup),
            "changes": self.changes,
            "queue_drops": {name: dict(c) for name, c in self.queue_drops.items()},
            "host_key": dict(self.host_key) if self.host_key else None,
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Put back a snapshot() taken earlier."""
        self.set_faults(list(snap["faults"]))
        self.set_running(snap["running"])
        self.startup = None if snap["startup"] is None else split_config(snap["startup"])
        self.changes = int(snap.get("changes", self.changes))
        if "queue_drops" in snap:
            self.set_queue_drops(snap["queue_drops"], merge=False)
        if "host_key" in snap:
            key = snap["host_key"] or {}
            self.set_host_key(key.get("seed"), key.get("type", "ssh-ed25519"))

    def info(self) -> dict[str, Any]:
        """Return the live description of the device for the control API."""
        info = self.spec.to_state(0)
        info.pop("port")
        info.update(
            faults=list(self.faults),
            changes=self.changes,
            queue_drops={name: dict(c) for name, c in self.queue_drops.items()},
            sessions=self.sessions,
            host_key=dict(self.host_key) if self.host_key else None,
            running_lines=len(self.running),
            startup_equals_running=self.startup == self.running if self.startup is not None else None,
            changed_at=self.changed_at.isoformat(),
            saved_at=self.saved_at.isoformat(),
        )
        return info
