"""Command tables and the parser that matches typed lines against them.

Each platform has a list of Command entries: keyword tokens (abbreviations allowed,
as on the real CLIs: ``sh run``, ``term len 0``), an async handler and flags. To add a
command (e.g. ``show interfaces`` with settable counters), write a handler taking
(session, args) and returning output lines, and append a Command to the platform's
list in TABLES. Parsing errors raise CliError, which the session turns into the
platform's own error text with a caret under the offending token.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, Optional, Sequence

from lab.device import utcnow
from lab.interfaces import render as render_interfaces
from lab.platforms import ctime, xr_stamp

if TYPE_CHECKING:
    from lab.session import CliSession

Handler = Callable[["CliSession", list[str]], Awaitable[Optional[list[str]]]]


class CliError(Exception):
    """A line could not be parsed or run; kind is invalid, incomplete or ambiguous."""

    def __init__(self, kind: str, token_index: int, message: Optional[list[str]] = None) -> None:
        super().__init__(kind, token_index)
        self.kind = kind
        self.token_index = token_index
        self.message = message


class ExitSession(Exception):
    """The user logged out (exit/logout/quit)."""


@dataclass(frozen=True)
class Command:
    """One CLI command: keyword tokens, handler and behaviour flags.

    words: keywords, or placeholders ``<n>`` (an integer), ``<word>`` (any token) and
    ``<line>`` (the rest of the line). privileged: only in enable mode on platforms
    with an enable mode. output: "text", or "running"/"startup" for configuration
    output, to which the device faults apply.
    """

    words: tuple[str, ...]
    handler: Handler
    privileged: bool = False
    output: str = "text"


@dataclass
class Match:
    """A successful parse: the command and its placeholder arguments."""

    command: Command
    args: list[str]


def tokenize(line: str) -> list[tuple[str, int]]:
    """Split line into (token, column) pairs."""
    return [(m.group(0), m.start()) for m in re.finditer(r"\S+", line)]


def match_command(commands: Sequence[Command], tokens: list[str]) -> Match:
    """Find the command tokens name, allowing unique abbreviations; raise CliError otherwise."""
    candidates = list(commands)
    args: dict[int, list[str]] = {id(c): [] for c in candidates}
    for i, tok in enumerate(tokens):
        low = tok.lower()
        rest: list[Command] = []
        keywords: set[str] = set()
        for cmd in candidates:
            if i >= len(cmd.words):
                if cmd.words and cmd.words[-1] == "<line>":
                    rest.append(cmd)
                    args[id(cmd)].append(tok)
                continue
            word = cmd.words[i]
            if word.startswith("<"):
                if word == "<n>" and not tok.isdigit():
                    continue
                rest.append(cmd)
                args[id(cmd)].append(tok)
            elif word.startswith(low):
                rest.append(cmd)
                keywords.add(word)
        if low in keywords:
            rest = [c for c in rest if i >= len(c.words) or c.words[i] in (low,) or c.words[i].startswith("<")]
        elif len(keywords) > 1 and not any(i < len(c.words) and c.words[i].startswith("<") for c in rest):
            raise CliError("ambiguous", i)
        if not rest:
            raise CliError("invalid", i)
        candidates = rest
    complete = [c for c in candidates if len(c.words) <= len(tokens) or c.words[len(tokens)] == "<line>"]
    if not complete:
        raise CliError("incomplete", len(tokens))
    best = complete[0]
    return Match(best, args[id(best)])


# --- handlers -------------------------------------------------------------------------


def _serial(name: str) -> str:
    """Return a stable, realistic-looking serial number for a device."""
    return "9" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()


def _uptime(session: CliSession) -> tuple[int, int, int, int]:
    """Return (weeks, days, hours, minutes) of uptime: lab uptime plus a per-device offset."""
    offset = int(hashlib.sha1(session.dev.name.encode()).hexdigest()[:6], 16) % (90 * 86400)
    secs = int(session.uptime_seconds()) + offset
    weeks, secs = divmod(secs, 7 * 86400)
    days, secs = divmod(secs, 86400)
    return weeks, days, secs // 3600, secs % 3600 // 60


async def show_running(session: CliSession, args: list[str]) -> list[str]:
    """Print the running configuration with the platform's volatile lines."""
    return session.platform.render_running(session.dev, session.dev.stamp())


async def show_startup(session: CliSession, args: list[str]) -> list[str]:
    """Print the startup configuration (or fail when the invalid_startup fault is set)."""
    dev = session.dev
    if dev.has_fault("invalid_startup"):
        raise CliError("invalid", 1)
    render = session.platform.render_startup
    if dev.startup is None or render is None:
        return ["startup-config is not present"]
    return render(dev, dev.stamp())


async def terminal_length(session: CliSession, args: list[str]) -> list[str]:
    """Set the page length (0 disables the --More-- pager)."""
    length = int(args[0])
    if length > 512:
        raise CliError("invalid", 2)
    session.page_lines = length
    if session.platform.name == "arista_eos":
        return ["Pagination disabled."] if length == 0 else [f"Pagination set to {length} lines."]
    return []


async def terminal_width(session: CliSession, args: list[str]) -> list[str]:
    """Accept a terminal width (EOS confirms it)."""
    width = int(args[0])
    if session.platform.name == "arista_eos":
        return [f"Width set to {width} columns."]
    return []


async def junos_screen_length(session: CliSession, args: list[str]) -> list[str]:
    """Junos 'set cli screen-length N'."""
    session.page_lines = int(args[0])
    return [f"Screen length set to {args[0]}"]


async def junos_screen_width(session: CliSession, args: list[str]) -> list[str]:
    """Junos 'set cli screen-width N'."""
    return [f"Screen width set to {args[0]}"]


async def junos_complete_on_space(session: CliSession, args: list[str]) -> list[str]:
    """Junos 'set cli complete-on-space on|off'."""
    if args[0] not in ("on", "off"):
        raise CliError("invalid", 3)
    return ["Disabling complete-on-space"] if args[0] == "off" else ["Enabling complete-on-space"]


async def enable(session: CliSession, args: list[str]) -> list[str]:
    """Enter privileged mode after asking for the enable secret."""
    if session.privileged:
        return []
    secret = await session.ask("Password: ", echo=False)
    if secret == session.dev.spec.secret:
        session.privileged = True
        return []
    return ["% Access denied"]


async def disable(session: CliSession, args: list[str]) -> list[str]:
    """Leave privileged mode."""
    session.privileged = False
    return []


async def logout(session: CliSession, args: list[str]) -> list[str]:
    """Close the session."""
    raise ExitSession()


async def write_memory(session: CliSession, args: list[str]) -> list[str]:
    """Save running to startup ('write memory', 'write')."""
    session.dev.write_memory()
    if session.platform.name == "arista_eos":
        return ["Copy completed successfully."]
    return ["Building configuration...", "[OK]"]


async def copy_run_start(session: CliSession, args: list[str]) -> list[str]:
    """Save running to startup ('copy running-config startup-config'), per-platform dialog."""
    name = session.platform.name
    if name == "cisco_ios":
        answer = await session.ask("Destination filename [startup-config]? ", echo=True)
        if answer.strip() not in ("", "startup-config"):
            return ["%Error opening flash:" + answer.strip() + " (Permission denied)"]
        session.dev.write_memory()
        return ["Building configuration...", "[OK]"]
    session.dev.write_memory()
    if name == "cisco_nxos":
        return [
            "[########################################] 100%",
            "Copy complete, now saving to disk (please wait)...",
            "Copy complete.",
        ]
    return ["Copy completed successfully."]


async def show_clock(session: CliSession, args: list[str]) -> list[str]:
    """Print the device clock."""
    now = utcnow()
    ms = f"{now.microsecond // 1000:03d}"
    if session.platform.name == "arista_eos":
        return [ctime(now), "Timezone: UTC", "Clock source: NTP server (10.0.0.1)"]
    text = f"{now:%H:%M:%S}.{ms} UTC {now:%a %b} {now.day} {now:%Y}"
    return ["*" + text] if session.platform.name == "cisco_ios" else [text]


async def show_privilege(session: CliSession, args: list[str]) -> list[str]:
    """IOS 'show privilege'."""
    return [f"Current privilege level is {15 if session.privileged else 1}"]


async def show_version(session: CliSession, args: list[str]) -> list[str]:
    """Print a realistic 'show version' for the device's platform."""
    dev = session.dev
    name, ver, serial = dev.name, session.platform.version, _serial(dev.name)
    weeks, days, hours, minutes = _uptime(session)
    up = f"{weeks} weeks, {days} days, {hours} hours, {minutes} minutes"
    platform = session.platform.name
    if platform == "cisco_ios":
        return [
            "Cisco IOS XE Software, Version 17.09.04a",
            "Cisco IOS Software [Cupertino], Virtual XE Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), "
            f"Version {ver}, RELEASE SOFTWARE (fc3)",
            "Technical Support: http://www.cisco.com/techsupport",
            "Copyright (c) 1986-2023 by Cisco Systems, Inc.",
            "Compiled Fri 20-Oct-23 10:44 by mcpre",
            "",
            "ROM: IOS-XE ROMMON",
            "",
            f"{name} uptime is {up}",
            f"Uptime for this control processor is {up}",
            "System returned to ROM by reload",
            'System image file is "bootflash:packages.conf"',
            "Last reload reason: reload",
            "",
            "cisco C8000V (VXE) processor (revision VXE) with 1987119K/3075K bytes of memory.",
            f"Processor board ID {serial}",
            "Router operating mode: Autonomous",
            "4 Gigabit Ethernet interfaces",
            "32768K bytes of non-volatile configuration memory.",
            "3965372K bytes of physical memory.",
            "11526144K bytes of virtual hard disk at bootflash:.",
            "",
            "Configuration register is 0x2102",
            "",
        ]
    if platform == "cisco_nxos":
        return [
            "Cisco Nexus Operating System (NX-OS) Software",
            "TAC support: http://www.cisco.com/tac",
            "Copyright (C) 2002-2023, Cisco and/or its affiliates.",
            "All rights reserved.",
            "",
            "Software",
            f"  NXOS: version {ver} [Feature Release]",
            "  NXOS image file is: bootflash:///nxos64-cs.10.3.3.F.bin",
            "  NXOS compile time:  5/23/2023 14:00:00 [05/23/2023 22:43:58]",
            "",
            "Hardware",
            "  cisco Nexus9000 C9300v Chassis",
            "  Intel(R) Xeon(R) CPU E5-2660 v3 @ 2.60GHz with 16409064 kB of memory.",
            f"  Processor Board ID {serial}",
            "",
            f"  Device name: {name}",
            "  bootflash:    4287040 kB",
            "",
            f"Kernel uptime is {weeks * 7 + days} day(s), {hours} hour(s), {minutes} minute(s), 0 second(s)",
        ]
    if platform == "arista_eos":
        mac = serial[1:5].lower() + "." + serial[5:9].lower()
        return [
            "Arista vEOS-lab",
            "Hardware version:",
            f"Serial number: {serial}",
            f"Hardware MAC address: 5254.{mac}",
            f"System MAC address: 5254.{mac}",
            "",
            f"Software image version: {ver}",
            "Architecture: x86_64",
            f"Internal build version: {ver}-32308478.4301F",
            "Image format version: 1.0",
            "Image optimization: None",
            "",
            f"Uptime: {weeks} weeks, {days} days, {hours} hours and {minutes} minutes",
            "Total memory: 4002372 kB",
            "Free memory: 2690716 kB",
            "",
        ]
    if platform == "cisco_xr":
        return [
            f"Cisco IOS XR Software, Version {ver}",
            "Copyright (c) 2013-2023 by Cisco Systems, Inc.",
            "",
            "Build Information:",
            " Built By     : swtools",
            " Built On     : Thu Jun  1 12:00:00 UTC 2023",
            f" Version      : {ver}",
            f" Label        : {ver}",
            "",
            "cisco IOS-XRv 9000 () processor",
            f"System uptime is {weeks} weeks {days} days {hours} hours {minutes} minutes",
            "",
        ]
    return [
        f"Hostname: {name}",
        "Model: vmx",
        f"Junos: {ver}",
        "JUNOS OS Kernel 64-bit  [20230613.0e5f1f5_builder_stable_13]",
        "JUNOS OS libs [20230613.0e5f1f5_builder_stable_13]",
        "JUNOS OS runtime [20230613.0e5f1f5_builder_stable_13]",
        f"JUNOS Packet Forwarding Engine Support (MX/EX92XX Common) [{ver}]",
        f"JUNOS Routing Software Suite [{ver}]",
    ]


async def show_interfaces(session: CliSession, args: list[str]) -> list[str]:
    """Print every interface with its counters, including the settable queue drops."""
    return render_interfaces(session.platform.name, session.dev.name, session.dev.queue_drops)


async def show_configuration(session: CliSession, args: list[str]) -> list[str]:
    """Junos 'show configuration'."""
    return session.platform.render_running(session.dev, session.dev.stamp())


# --- tables ---------------------------------------------------------------------------


def _cmd(words: str, handler: Handler, privileged: bool = False, output: str = "text") -> Command:
    """Build a Command from a space-separated word string."""
    return Command(tuple(words.split()), handler, privileged, output)


_COMMON = [
    _cmd("terminal length <n>", terminal_length),
    _cmd("terminal width <n>", terminal_width),
    _cmd("show version", show_version),
    _cmd("show clock", show_clock),
    _cmd("exit", logout),
    _cmd("logout", logout),
    _cmd("quit", logout),
]

TABLES: dict[str, list[Command]] = {
    "cisco_ios": _COMMON
    + [
        _cmd("enable", enable),
        _cmd("disable", disable, privileged=True),
        _cmd("show privilege", show_privilege),
        _cmd("show interfaces", show_interfaces),
        _cmd("show running-config", show_running, privileged=True, output="running"),
        _cmd("show startup-config", show_startup, privileged=True, output="startup"),
        _cmd("write memory", write_memory, privileged=True),
        _cmd("write", write_memory, privileged=True),
        _cmd("copy running-config startup-config", copy_run_start, privileged=True),
    ],
    "arista_eos": _COMMON
    + [
        _cmd("enable", enable),
        _cmd("disable", disable, privileged=True),
        _cmd("show running-config", show_running, privileged=True, output="running"),
        _cmd("show startup-config", show_startup, privileged=True, output="startup"),
        _cmd("show interfaces", show_interfaces),
        _cmd("write memory", write_memory, privileged=True),
        _cmd("copy running-config startup-config", copy_run_start, privileged=True),
    ],
    "cisco_nxos": _COMMON
    + [
        _cmd("show interface", show_interfaces),
        _cmd("show running-config", show_running, output="running"),
        _cmd("show startup-config", show_startup, output="startup"),
        _cmd("copy running-config startup-config", copy_run_start),
    ],
    "cisco_xr": _COMMON
    + [
        _cmd("show running-config", show_running, output="running"),
    ],
    "juniper_junos": [
        _cmd("show configuration", show_configuration, output="running"),
        _cmd("show version", show_version),
        _cmd("set cli screen-length <n>", junos_screen_length),
        _cmd("set cli screen-width <n>", junos_screen_width),
        _cmd("set cli complete-on-space <word>", junos_complete_on_space),
        _cmd("exit", logout),
        _cmd("quit", logout),
    ],
}


def xr_preamble() -> list[str]:
    """Return the timestamp line IOS XR prints before a show command's output (real time, ms)."""
    return [xr_stamp(utcnow())]


# --- output pipes ---------------------------------------------------------------------


def apply_pipe(platform: str, lines: list[str], pipe: list[str]) -> tuple[list[str], bool]:
    """Apply one '| filter args' stage; return (lines, paging allowed).

    Cisco-style: include, exclude, begin (regular expressions). Junos: match, except,
    no-more. Raises CliError('invalid', index within the pipe) for unknown filters.
    """
    if not pipe:
        raise CliError("incomplete", 0)
    name, args = pipe[0].lower(), " ".join(pipe[1:])
    if len(args) >= 2 and args[0] == args[-1] == '"':
        args = args[1:-1]
    if platform == "juniper_junos":
        if "no-more".startswith(name) and len(name) >= 2:
            return lines, False
        filters = {"match": "include", "except": "exclude"}
    else:
        filters = {"include": "include", "exclude": "exclude", "begin": "begin"}
    full = [f for f in filters if f.startswith(name)]
    if len(full) != 1:
        raise CliError("invalid", 0)
    if not args:
        raise CliError("incomplete", 1)
    try:
        rx = re.compile(args)
    except re.error as exc:
        raise CliError("invalid", 1) from exc
    kind = filters[full[0]]
    if kind == "include":
        return [line for line in lines if rx.search(line)], True
    if kind == "exclude":
        return [line for line in lines if not rx.search(line)], True
    for i, line in enumerate(lines):
        if rx.search(line):
            return lines[i:], True
    return [], True
