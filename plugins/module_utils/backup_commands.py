# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""Per-platform command table: how to read a device's configuration and how to judge it.

Keyed by netmiko device type, because that is what the connection uses. Each entry
says which command prints the running and the startup configuration, whether the
commands need privileged (enable) mode, the line a complete configuration ends with
(IOS ``end``, Comware ``return``) and the volatile lines (timestamps, byte counts,
``ntp clock-period``) that change on every read without any configuration change
and so must not reach Git. Users can adjust an entry per host or group through
``platform_commands(device_type, overrides)``; unknown platforms are an error, never
a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Dict, Mapping, Optional, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError


class UnsupportedPlatformError(NautobotBackupError):
    """The command table has no entry for a netmiko device type."""

    failure_class = "unsupported_platform"

    def __init__(self, message: str, device_type: Optional[str] = None) -> None:
        self.device_type = device_type
        super().__init__(message)


@dataclass(frozen=True)
class PlatformCommands:
    """How to fetch and check one platform's configuration.

    volatile: regular expressions matched (``re.match``, so anchored at the start) against
    each line; matching lines are dropped by cleaning. end_marker: regular expression the
    last non-empty line must match completely, or None. balanced_braces: the configuration
    is a curly-brace hierarchy (Junos) whose blocks must all be closed, the only sign of a
    truncated Junos configuration.
    """

    running: str
    startup: Optional[str]
    enable: bool
    end_marker: Optional[str]
    volatile: Tuple[str, ...]
    min_lines: int
    startup_missing_reason: Optional[str] = None
    balanced_braces: bool = False


# --- volatile lines per platform family ------------------------------------------------

_IOS_VOLATILE = (
    r"Building configuration\.\.\.$",
    r"Current configuration : \d+ bytes$",
    r"! Last configuration change at ",
    r"! NVRAM config last updated at ",
    r"! No configuration change since last restart",
    r"ntp clock-period \d+$",
    r"Using \d+ out of \d+ bytes",  # startup-config header (may add ", uncompressed size = N bytes")
    r"Uncompressed configuration from \d+ bytes to \d+ bytes$",
)
_NXOS_VOLATILE = (
    r"!Command: ",
    r"!Running configuration last done at: ",
    r"!Time: ",
    r"!Startup config saved at: ",
)
_EOS_VOLATILE = (
    r"! Command: ",
    r"! device: ",
    r"! Startup-config last modified at ",
    r"! Time: ",
)
_ASA_VOLATILE = (
    r": Saved$",
    r": Written by ",
    r"Cryptochecksum:",
)
_XR_VOLATILE = (
    r"[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}\.\d{3} \S+$",  # printed before every show
    r"Building configuration\.\.\.$",
    r"!! IOS XR Configuration ",
    r"!! Last configuration change at ",
)
_JUNOS_VOLATILE = (
    r"## Last commit: ",
    r"## Last changed: ",
    r"\{(?:master|backup|primary|secondary|linecard)(?::[\w-]+)?\}$",  # routing-engine banner before the prompt
)
_HUAWEI_VOLATILE = (r"!Last configuration was (?:updated|saved) at ",)  # VRP8 header

_JUNOS_NO_STARTUP = (
    "Junos has no separate startup configuration: the committed configuration "
    "('show configuration') is the one the device boots with"
)
_XR_NO_STARTUP = (
    "IOS XR has no separate startup configuration: committed changes are persistent, "
    "so the running configuration is the one the device boots with"
)

_CISCO = PlatformCommands(
    running="show running-config",
    startup="show startup-config",
    enable=True,
    end_marker=r"end",
    volatile=_IOS_VOLATILE,
    min_lines=5,
)
_HUAWEI = PlatformCommands(
    running="display current-configuration",
    startup="display saved-configuration",
    enable=False,
    end_marker=r"return",
    volatile=_HUAWEI_VOLATILE,
    min_lines=5,
)

SUPPORTED_PLATFORMS: Dict[str, PlatformCommands] = {
    "cisco_ios": _CISCO,
    "cisco_xe": _CISCO,
    "cisco_nxos": PlatformCommands(
        running="show running-config",
        startup="show startup-config",
        enable=False,
        end_marker=None,
        volatile=_NXOS_VOLATILE,
        min_lines=5,
    ),
    "cisco_asa": PlatformCommands(
        running="show running-config",
        startup="show startup-config",
        enable=True,
        end_marker=r": end",
        volatile=_ASA_VOLATILE,
        min_lines=5,
    ),
    "arista_eos": replace(_CISCO, volatile=_EOS_VOLATILE),
    "juniper_junos": PlatformCommands(
        running="show configuration",
        startup=None,
        enable=False,
        end_marker=None,
        volatile=_JUNOS_VOLATILE,
        min_lines=5,
        startup_missing_reason=_JUNOS_NO_STARTUP,
        balanced_braces=True,
    ),
    "cisco_xr": PlatformCommands(
        running="show running-config",
        startup=None,
        enable=False,
        end_marker=r"end",
        volatile=_XR_VOLATILE,
        min_lines=5,
        startup_missing_reason=_XR_NO_STARTUP,
    ),
    "hp_comware": replace(_HUAWEI, volatile=()),
    "huawei": _HUAWEI,
    "huawei_vrp": _HUAWEI,
    "huawei_vrpv8": _HUAWEI,
}

# Other netmiko names for the same CLI.
_ALIASES = {"juniper": "juniper_junos", "h3c_comware": "hp_comware"}
# netmiko transport suffixes: cisco_ios_telnet speaks the same CLI as cisco_ios.
_SUFFIXES = ("_ssh", "_telnet", "_serial")

_FIELDS = ("running", "startup", "enable", "end_marker", "volatile", "min_lines", "startup_missing_reason")
OVERRIDE_KEYS = (*_FIELDS, "volatile_extra", "balanced_braces")


def canonical_device_type(device_type: str) -> Optional[str]:
    """Return the table key for a netmiko device type (aliases, transport suffixes), or None."""
    name = str(device_type or "").strip().lower()
    for candidate in (name, *(name[: -len(suffix)] for suffix in _SUFFIXES if name.endswith(suffix))):
        key = _ALIASES.get(candidate, candidate)
        if key in SUPPORTED_PLATFORMS:
            return key
    return None


def platform_commands(device_type: str, overrides: Optional[Mapping[str, Any]] = None) -> PlatformCommands:
    """Return the commands for a netmiko device type, with per-host/group overrides applied.

    Raises UnsupportedPlatformError for a device type the table does not know and
    NautobotBackupError for an invalid override (unknown key, wrong type, bad regex).
    """
    key = canonical_device_type(device_type)
    if key is None:
        raise UnsupportedPlatformError(
            f"no backup commands for netmiko device type '{device_type}'. Supported: "
            f"{', '.join(sorted(SUPPORTED_PLATFORMS))}. If the device speaks one of these CLIs, set "
            "netmiko_device_type for the host; command overrides only adjust a supported type.",
            device_type=device_type,
        )
    base = SUPPORTED_PLATFORMS[key]
    if not overrides:
        return base
    if not isinstance(overrides, Mapping):
        raise NautobotBackupError(
            f"command overrides for '{device_type}' must be a dict, got {type(overrides).__name__}"
        )
    return replace(base, **_checked_overrides(device_type, base, overrides))


def _checked_overrides(device_type: str, base: PlatformCommands, overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """Validate overrides and return them as dataclass field values."""
    unknown = sorted(str(k) for k in overrides if k not in OVERRIDE_KEYS)
    if unknown:
        raise NautobotBackupError(
            f"unknown command override key(s) for '{device_type}': {', '.join(unknown)}; "
            f"allowed: {', '.join(OVERRIDE_KEYS)}"
        )
    values: Dict[str, Any] = {}
    for key, value in overrides.items():
        where = f"command override '{key}' for '{device_type}'"
        if key == "running":
            values[key] = _text(value, where, optional=False)
        elif key in ("startup", "startup_missing_reason"):
            values[key] = _text(value, where, optional=True)
        elif key in ("enable", "balanced_braces"):
            if not isinstance(value, bool):
                raise NautobotBackupError(f"{where} must be true or false, got {value!r}")
            values[key] = value
        elif key == "end_marker":
            values[key] = None if value is None else _regex(value, where)
        elif key == "min_lines":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise NautobotBackupError(f"{where} must be a positive integer, got {value!r}")
            values[key] = value
    if "volatile" in overrides:
        values["volatile"] = _regex_list(overrides["volatile"], f"command override 'volatile' for '{device_type}'")
    if "volatile_extra" in overrides:
        extra = _regex_list(overrides["volatile_extra"], f"command override 'volatile_extra' for '{device_type}'")
        values["volatile"] = values.get("volatile", base.volatile) + extra
    if "startup" in overrides and "startup_missing_reason" not in overrides:
        values["startup_missing_reason"] = (
            None if values["startup"] else "startup configuration disabled by the 'startup' command override"
        )
    return values


def _text(value: Any, where: str, optional: bool) -> Optional[str]:
    """Return value as a non-empty command string (or None when optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise NautobotBackupError(f"{where} must be a non-empty string{' or null' if optional else ''}, got {value!r}")
    return value.strip()


def _regex(value: Any, where: str) -> str:
    """Return value when it is a string that compiles as a regular expression."""
    if not isinstance(value, str) or not value:
        raise NautobotBackupError(f"{where} must be a non-empty regular expression string, got {value!r}")
    try:
        re.compile(value)
    except re.error as exc:
        raise NautobotBackupError(f"{where}: invalid regular expression {value!r}: {exc}") from exc
    return value


def _regex_list(value: Any, where: str) -> Tuple[str, ...]:
    """Return value (a string or list of strings) as a tuple of valid regular expressions."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise NautobotBackupError(f"{where} must be a list of regular expressions, got {value!r}")
    return tuple(_regex(item, where) for item in items)
