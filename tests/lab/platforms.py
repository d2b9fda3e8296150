"""Per-platform look and feel: prompts, error messages, pagers and config rendering.

A Platform bundles everything that differs between the simulated network operating
systems except the command table (commands.py): the prompt in each mode, how an
invalid command is reported, the pager text, how the canonical configuration is
wrapped with the volatile header lines a real device prints (timestamps, byte
counts, ``ntp clock-period``) and which regular expressions find those lines again
(``strip_volatile``), so tests can compare what netmiko read with the canonical text.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from lab.device import DeviceState

IOS_INVALID = "% Invalid input detected at '^' marker."


def ctime(ts: datetime) -> str:
    """Format ts like C ctime(): 'Mon Nov  3 10:00:00 2025'."""
    return f"{ts:%a %b} {ts.day:2d} {ts:%H:%M:%S %Y}"


def xr_stamp(ts: datetime) -> str:
    """Format the timestamp line IOS XR prints before every show command's output."""
    return f"{ts:%a %b} {ts.day:2d} {ts:%H:%M:%S}.{ts.microsecond // 1000:03d} UTC"


def _ios_ts(ts: datetime) -> str:
    """Format a timestamp the way IOS does in config headers: '10:00:00 UTC Mon Nov 24 2025'."""
    return f"{ts:%H:%M:%S} UTC {ts:%a %b} {ts.day} {ts:%Y}"


@dataclass(frozen=True)
class Platform:
    """Everything platform-specific about a simulated device except its commands."""

    name: str
    has_enable: bool  # user exec '>' and privileged '#' (IOS, EOS)
    has_startup: bool
    pager: str
    version: str
    volatile: tuple[re.Pattern[str], ...]
    render_running: Callable[[DeviceState, datetime], list[str]]
    render_startup: Optional[Callable[[DeviceState, datetime], list[str]]]
    # (caret column, token index, offending token) -> error lines
    invalid: Callable[[int, int, str], list[str]]
    incomplete: Callable[[int, int, str], list[str]]
    ambiguous: Callable[[int, int, str], list[str]]
    change_config: Callable[[list[str], int], tuple[list[str], str]]
    show_preamble: bool = False  # IOS XR: timestamp line before every show output
    blank_before_prompt: bool = False  # Junos: empty line between output and prompt

    def prompt(self, hostname: str, username: str, privileged: bool) -> str:
        """Return the CLI prompt for the given mode."""
        if self.name == "juniper_junos":
            return f"{username}@{hostname}> "
        if self.name == "cisco_xr":
            return f"RP/0/RP0/CPU0:{hostname}#"
        if self.name == "cisco_nxos":
            return f"{hostname}# "
        return f"{hostname}{'#' if privileged else '>'}"

    def strip_volatile(self, text: str) -> str:
        """Return text without volatile lines, leading blank lines and trailing newlines, plus one newline.

        This is the canonical form LabClient.running_config() returns.
        """
        lines = text.replace("\r\n", "\n").split("\n")
        kept = [line for line in lines if not any(rx.match(line) for rx in self.volatile)]
        while kept and not kept[0].strip():
            kept.pop(0)
        body = "\n".join(kept).rstrip("\n")
        return body + "\n" if body else ""


def _caret(col: int, message: str) -> list[str]:
    """Return the Cisco-style caret line plus message (and the blank line IOS prints)."""
    return [" " * col + "^", message, ""]


def _insert_before_end(line: str) -> Callable[[list[str], int], tuple[list[str], str]]:
    """Return a change_config function that adds a numbered line before the final 'end'."""

    def change(lines: list[str], n: int) -> tuple[list[str], str]:
        new = line.format(a=n // 250, b=n % 250 + 1)
        out = list(lines)
        idx = len(out)
        for i in range(len(out) - 1, -1, -1):
            if out[i].strip() == "end":
                idx = i
                break
        out.insert(idx, new)
        return out, new

    return change


def _junos_change(lines: list[str], n: int) -> tuple[list[str], str]:
    """Set (or replace) the login message in the system login block."""
    new = f'        message "lab change {n}";'
    out = list(lines)
    for i, line in enumerate(out):
        if line.startswith("        message "):
            out[i] = new
            return out, new
    for i, line in enumerate(out):
        if line == "    login {":
            out.insert(i + 1, new)
            return out, new
    new = f"/* lab change {n} */"
    out.append(new)
    return out, new


def _with_header(dev: DeviceState, index: int, extra: list[str]) -> list[str]:
    """Return dev's running config with extra lines inserted at index (after a leading '!')."""
    lines = list(dev.running)
    at = index if lines and lines[0] == "!" else 0
    return lines[:at] + extra + lines[at:]


# --- Cisco IOS / IOS-XE -------------------------------------------------------------


def _ios_running(dev: DeviceState, now: datetime) -> list[str]:
    """IOS 'show running-config': byte count, change/NVRAM stamps, drifting ntp clock-period."""
    user = dev.spec.username
    body = _with_header(
        dev,
        1,
        [
            f"! Last configuration change at {_ios_ts(now)} by {user}",
            f"! NVRAM config last updated at {_ios_ts(dev.saved_at)} by {user}",
        ],
    )
    for i, line in enumerate(body):
        if line.startswith("ntp server"):
            body.insert(i, f"ntp clock-period {17179800 + random.randint(0, 999)}")
            break
    size = sum(len(line) + 1 for line in body)
    return ["Building configuration...", "", f"Current configuration : {size} bytes", *body]


def _ios_startup(dev: DeviceState, now: datetime) -> list[str]:
    """IOS 'show startup-config': NVRAM usage line, then the saved config."""
    user = dev.spec.username
    body = list(dev.startup or [])
    at = 1 if body and body[0] == "!" else 0
    body[at:at] = [
        f"! Last configuration change at {_ios_ts(dev.saved_at)} by {user}",
        f"! NVRAM config last updated at {_ios_ts(dev.saved_at)} by {user}",
    ]
    size = sum(len(line) + 1 for line in body)
    return [f"Using {size} out of 262144 bytes", *body]


IOS = Platform(
    name="cisco_ios",
    has_enable=True,
    has_startup=True,
    pager=" --More-- ",
    version="17.9.4a",
    volatile=tuple(
        re.compile(p)
        for p in (
            r"Building configuration\.\.\.$",
            r"Current configuration : \d+ bytes$",
            r"! Last configuration change at ",
            r"! NVRAM config last updated at ",
            r"ntp clock-period \d+$",
            r"Using \d+ out of \d+ bytes$",
        )
    ),
    render_running=_ios_running,
    render_startup=_ios_startup,
    invalid=lambda col, idx, tok: _caret(col, IOS_INVALID),
    incomplete=lambda col, idx, tok: ["% Incomplete command.", ""],
    ambiguous=lambda col, idx, tok: [f'% Ambiguous command:  "{tok}"'],
    change_config=_insert_before_end("logging host 10.250.{a}.{b}"),
)


# --- Cisco NX-OS -------------------------------------------------------------------


def _nxos_running(dev: DeviceState, now: datetime) -> list[str]:
    """NX-OS 'show running-config' with its !Command/!Running/!Time header."""
    return [
        "",
        "!Command: show running-config",
        f"!Running configuration last done at: {ctime(dev.changed_at)}",
        f"!Time: {ctime(now)}",
        "",
        *dev.running,
    ]


def _nxos_startup(dev: DeviceState, now: datetime) -> list[str]:
    """NX-OS 'show startup-config' with its save timestamp."""
    return [
        "",
        "!Command: show startup-config",
        f"!Time: {ctime(now)}",
        f"!Startup config saved at: {ctime(dev.saved_at)}",
        "",
        *(dev.startup or []),
    ]


NXOS = Platform(
    name="cisco_nxos",
    has_enable=False,
    has_startup=True,
    pager=" --More-- ",
    version="10.3(3)",
    volatile=tuple(
        re.compile(p) for p in (r"!Command: ", r"!Running configuration last done at: ", r"!Time: ", r"!Startup config")
    ),
    render_running=_nxos_running,
    render_startup=_nxos_startup,
    invalid=lambda col, idx, tok: [" " * col + "^", "% Invalid command at '^' marker."],
    incomplete=lambda col, idx, tok: [" " * col + "^", "% Incomplete command at '^' marker."],
    ambiguous=lambda col, idx, tok: [" " * col + "^", "% Ambiguous command at '^' marker."],
    change_config=_insert_before_end("logging server 10.250.{a}.{b} 6 use-vrf management"),
)


# --- Arista EOS --------------------------------------------------------------------


def _eos_header(dev: DeviceState, command: str, stamp: datetime) -> list[str]:
    """Return the comment header EOS prints above a configuration."""
    return [
        f"! Command: {command}",
        f"! device: {dev.spec.name} (vEOS-lab, EOS-4.30.1F)",
        f"! Startup-config last modified at {ctime(stamp)} by {dev.spec.username}",
    ]


EOS = Platform(
    name="arista_eos",
    has_enable=True,
    has_startup=True,
    pager=" --More-- ",
    version="4.30.1F",
    volatile=tuple(re.compile(p) for p in (r"! Command: ", r"! device: ", r"! Startup-config last modified at ")),
    render_running=lambda dev, now: [*_eos_header(dev, "show running-config", now), *dev.running],
    render_startup=lambda dev, now: [*_eos_header(dev, "show startup-config", dev.saved_at), *(dev.startup or [])],
    invalid=lambda col, idx, tok: [f"% Invalid input (at token {idx}: '{tok}')"],
    incomplete=lambda col, idx, tok: ["% Incomplete command"],
    ambiguous=lambda col, idx, tok: [f"% Ambiguous command (at token {idx}: '{tok}')"],
    change_config=_insert_before_end("logging host 10.250.{a}.{b}"),
)


# --- Cisco IOS XR ------------------------------------------------------------------


def _xr_running(dev: DeviceState, now: datetime) -> list[str]:
    """IOS XR 'show running-config' (the timestamp preamble is added for every show)."""
    return [
        "Building configuration...",
        f"!! IOS XR Configuration {XR.version}",
        f"!! Last configuration change at {ctime(now)} by {dev.spec.username}",
        *dev.running,
    ]


XR = Platform(
    name="cisco_xr",
    has_enable=False,
    has_startup=False,
    pager=" --More-- ",
    version="7.9.2",
    volatile=tuple(
        re.compile(p)
        for p in (
            r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d\.\d{3} \w+$",
            r"Building configuration\.\.\.$",
            r"!! IOS XR Configuration ",
            r"!! Last configuration change at ",
        )
    ),
    render_running=_xr_running,
    render_startup=None,
    invalid=lambda col, idx, tok: _caret(col, IOS_INVALID),
    incomplete=lambda col, idx, tok: ["% Incomplete command.", ""],
    ambiguous=lambda col, idx, tok: [f'% Ambiguous command:  "{tok}"'],
    change_config=_insert_before_end("logging 10.250.{a}.{b} vrf Mgmt severity info"),
    show_preamble=True,
)


# --- Juniper Junos -----------------------------------------------------------------

JUNOS = Platform(
    name="juniper_junos",
    has_enable=False,
    has_startup=False,
    pager="---(more)---",
    version="23.2R1.13",
    volatile=(re.compile(r"## Last commit: "),),
    render_running=lambda dev, now: [
        f"## Last commit: {now:%Y-%m-%d %H:%M:%S} UTC by {dev.spec.username}",
        *dev.running,
    ],
    render_startup=None,
    invalid=lambda col, idx, tok: [" " * col + "^", "unknown command."],
    incomplete=lambda col, idx, tok: [" " * col + "^", "syntax error, expecting <command>."],
    ambiguous=lambda col, idx, tok: [" " * col + "^", f"'{tok}' is ambiguous."],
    change_config=_junos_change,
    blank_before_prompt=True,
)

PLATFORMS: dict[str, Platform] = {p.name: p for p in (IOS, NXOS, EOS, XR, JUNOS)}


def get_platform(name: str) -> Platform:
    """Return the Platform called name (KeyError for unknown platforms)."""
    return PLATFORMS[name]


def strip_volatile(platform: str, text: str) -> str:
    """Return text (device output) without the platform's volatile lines."""
    return PLATFORMS[platform].strip_volatile(text)
