# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""Turn what a device printed into the text a backup stores, and compare running with startup.

The same configuration must always give byte-identical text, or every backup run
would commit a change. So cleaning normalises line endings and terminal control
sequences (backspaces and ANSI escapes, which pagers and line editors print), strips
the command echo and the trailing prompt when the output still has them, drops the
platform's volatile lines (timestamps, byte counts, ``ntp clock-period``), trims
trailing whitespace and surrounding blank lines, and ends the text with one newline.
Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import List, Optional, Pattern, Sequence, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup_commands import PlatformCommands

# CR LF, CR CR LF, LF CR and lone CRs all end a line (as netmiko normalises them).
_LINE_BREAK = re.compile(r"\r*\n\r?|\r+")
# Cursor left (ESC [ n D) moves back like n backspaces: pagers erase their prompt with it.
_CURSOR_LEFT = re.compile(r"\x1b\[(\d*)D")
# Any other ANSI/VT100 escape sequence (CSI ..., ESC x) carries no text.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
# Control characters left after the above (tab is kept; backspace is handled first).
_CONTROL = re.compile(r"[\x00-\x07\x0b-\x1f\x7f]")
# A line that is only a CLI prompt: hostname-like, ending in # > or ] (IOS/NX-OS/EOS/XR
# 'name#', Junos 'user@name>', Comware/Huawei '<name>' or '[name]').
_PROMPT_LINE = re.compile(r"[^\s!#:;{}][^\s]*[#>\]]")
# Lines that only separate sections; a difference in them is no configuration change.
_SEPARATOR = re.compile(r"\s*[!#]?\s*$")

# Header lines a device prints above a running or startup configuration (any
# platform). unsaved_changes ignores them even when an override removed them from
# the platform's volatile list: they describe the copy, not the configuration.
HEADER_LINES: Tuple[str, ...] = (
    r"Building configuration\.\.\.$",
    r"Current configuration : \d+ bytes$",
    r"Using \d+ out of \d+ bytes",
    r"Uncompressed configuration from \d+ bytes",
    r"! Last configuration change at ",
    r"! NVRAM config last updated at ",
    r"! No configuration change since last restart",
    r"!Command: show ",
    r"!Running configuration last done at: ",
    r"!Time: ",
    r"!Startup config saved at: ",
    r"! Command: show ",
    r"! Startup-config last modified at ",
    r": Saved$",
    r": Written by ",
    r"Cryptochecksum:",
    r"!Last configuration was (?:updated|saved) at ",
)


@lru_cache(maxsize=64)
def _compiled(patterns: Tuple[str, ...]) -> Tuple[Pattern[str], ...]:
    """Compile a tuple of line regexes once (the table and overrides are validated upstream)."""
    return tuple(re.compile(p) for p in patterns)


def clean_output(
    raw: str,
    commands: PlatformCommands,
    command: Optional[str] = None,
    prompt: Optional[str] = None,
) -> str:
    """Return the stored form of a configuration read from a device.

    command: the command that printed raw (its echo is removed from the first line);
    defaults to the platform's running and startup commands. prompt: the device prompt
    (a trailing line equal to it is removed); a trailing line that only looks like a
    prompt ('name#', 'user@name>', '<name>') is removed as well. Returns "" when
    nothing but noise is left, else text ending in exactly one newline.
    """
    lines = [_render_line(line) for line in _LINE_BREAK.split(_CURSOR_LEFT.sub(_backspaces, raw or ""))]
    candidates = [command] if command else [c for c in (commands.running, commands.startup) if c]
    lines = _strip_echo(lines, candidates, prompt)
    lines = _strip_prompt(lines, prompt)
    volatile = _compiled(tuple(commands.volatile))
    kept = [line for line in lines if not any(rx.match(line) for rx in volatile)]
    return _join(kept)


def unsaved_changes(running_clean: str, startup_clean: str, commands: PlatformCommands) -> bool:
    """Tell whether the running configuration differs from the startup configuration.

    Both texts are compared line by line after dropping volatile lines, the header
    lines devices print above either copy (HEADER_LINES, e.g. IOS 'Using N out of M
    bytes', NX-OS '!Startup config saved at'), blank lines and bare '!'/'#' separators,
    so a difference in any of those alone is not an unsaved change.
    """
    return _comparable(running_clean, commands) != _comparable(startup_clean, commands)


def _comparable(text: str, commands: PlatformCommands) -> List[str]:
    """Return the lines of text that carry configuration."""
    ignore = _compiled(tuple(commands.volatile) + HEADER_LINES)
    return [
        line.rstrip()
        for line in _LINE_BREAK.split(text or "")
        if not _SEPARATOR.match(line) and not any(rx.match(line) for rx in ignore)
    ]


def _backspaces(match: re.Match[str]) -> str:
    """Replace a cursor-left escape with as many backspaces."""
    return "\x08" * int(match.group(1) or 1)


def _render_line(line: str) -> str:
    """Apply backspaces to one line, drop escapes and control characters, trim the right end."""
    out: List[str] = []
    for char in _ANSI.sub("", line):
        if char == "\x08":
            if out:
                out.pop()
        else:
            out.append(char)
    return _CONTROL.sub("", "".join(out)).rstrip()


def _strip_echo(lines: List[str], commands: Sequence[str], prompt: Optional[str]) -> List[str]:
    """Drop the first non-blank line when it is the echo of one of commands (maybe after a prompt)."""
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        text = line.strip()
        for cmd in commands:
            wanted = cmd.strip()
            if not wanted or not text.endswith(wanted):
                continue
            before = text[: len(text) - len(wanted)].strip()
            if not before or (prompt and before == prompt.strip()) or _PROMPT_LINE.fullmatch(before):
                return lines[:index] + lines[index + 1 :]
        return lines
    return lines


def _strip_prompt(lines: List[str], prompt: Optional[str]) -> List[str]:
    """Drop the last non-blank line when it is the device prompt."""
    for index in range(len(lines) - 1, -1, -1):
        text = lines[index].strip()
        if not text:
            continue
        if (prompt and text == prompt.strip()) or _PROMPT_LINE.fullmatch(text):
            return lines[:index] + lines[index + 1 :]
        return lines
    return lines


def _join(lines: List[str]) -> str:
    """Join lines without leading/trailing blank lines, ending in one newline ("" when empty)."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end]) + "\n" if end > start else ""
