# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""Decide whether cleaned device output is a configuration worth storing.

A backup must never replace a good configuration in Git with an error message, an
empty string or half a configuration. validate_config checks the cleaned text (and
the raw output, when given) against rules that each name one way real devices fail:

- ``empty``: nothing but noise came back;
- ``pager``: the output stopped at a pager prompt (paging was not disabled);
- ``error_message``: the device printed an error instead of the configuration
  (``% Invalid input``, ``% Authorization failed``, Junos ``unknown command.``, ...);
- ``too_short``: fewer non-empty lines than the platform's minimum;
- ``no_end_marker``: the platform ends every configuration with a marker (IOS ``end``,
  ASA ``: end``, Comware ``return``) and the last line is something else: truncated;
- ``unbalanced_braces``: a curly-brace (Junos) configuration with unclosed blocks.

Each failure raises InvalidOutputError (failure class ``invalid_output``) whose
message names the command, the rule and the line number (of the cleaned text, or of the
raw output for a pager prompt), never the content of a line: a configuration carries
secrets (SNMP communities, keys), and messages go to logs, reports and AWX job events.
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup_commands import PlatformCommands
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError


class InvalidOutputError(NautobotBackupError):
    """A device's output is not a usable configuration."""

    failure_class = "invalid_output"

    def __init__(
        self, message: str, rule: Optional[str] = None, command: Optional[str] = None, kind: Optional[str] = None
    ) -> None:
        self.rule = rule
        self.command = command
        self.kind = kind
        super().__init__(message)


# Pager prompts: IOS/NX-OS/EOS ' --More-- ', Junos '---(more)---' / '---(more 45%)---',
# ASA '<--- More --->', Comware/Huawei '  ---- More ----', ProCurve '-- MORE --, next page'.
# Only "more" (and a percentage) may stand between the dashes, so '-- more uplinks --' in a
# description is no pager.
PAGER = re.compile(r"-{2,} ?\(?more(?: \d+%)?\)? ?-{2,}", re.IGNORECASE)

# Device error messages, matched at the start of a line (case-insensitive).
ERROR_MARKERS: Tuple[Tuple[str, str], ...] = (
    ("invalid input", r"%\s*Invalid (?:input|command)"),  # IOS, XR, NX-OS, EOS, ASA
    ("incomplete command", r"%\s*Incomplete command"),
    ("ambiguous command", r"%\s*Ambiguous command"),
    ("authorization failed", r"(?:%\s*)?(?:Command )?authori[sz]ation failed"),  # AAA / TACACS+
    ("not authorized", r"%\s*(?:This command is )?not authori[sz]ed"),  # IOS XR task groups
    ("permission denied", r"(?:%\s*)?Permission denied"),  # NX-OS roles
    ("access denied", r"%\s*Access denied"),  # IOS/EOS wrong enable secret
    ("bad secrets", r"%\s*Bad secrets"),  # IOS wrong enable secret
    ("unrecognized command", r"(?:%\s*|Error:\s*)?Unrecognized command"),  # Comware, Huawei
    ("unknown command", r"unknown command"),  # Junos
    ("syntax error", r"syntax error"),  # Junos
    ("ambiguous command", r"'[^']*' is ambiguous"),  # Junos
    ("no startup configuration", r"startup-config is not present"),  # IOS with empty NVRAM
    ("no startup configuration", r"%\s*Non-volatile configuration memory"),  # IOS
    ("file error", r"%\s*Error opening"),  # IOS nvram:/flash: errors
    ("error message", r"(?:ERROR|Error|error):"),  # Junos 'error: ...', Huawei 'Error: ...', ASA 'ERROR: ...'
    ("caret marker", r"\^$"),  # the caret printed under the offending token
)
_ERROR_RX = tuple((name, re.compile(r"\s*" + rx, re.IGNORECASE)) for name, rx in ERROR_MARKERS)
# Error messages come instead of the configuration (first lines) or cut it off (last lines).
_HEAD_LINES = 5
_TAIL_LINES = 3

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_COMMENT = re.compile(r"/\*.*?\*/|##.*$|^\s*#.*$")


def validate_config(text: str, commands: PlatformCommands, kind: str = "running", raw: Optional[str] = None) -> None:
    """Raise InvalidOutputError unless text (cleaned output) is a plausible configuration.

    kind: "running" or "startup" (names the command in the message). raw: the output
    as read, searched for pager prompts that cleaning may have erased.
    """
    if kind not in ("running", "startup"):
        raise ValueError(f"kind must be 'running' or 'startup', not {kind!r}")
    command = (commands.running if kind == "running" else commands.startup) or f"(no {kind} command)"
    problem = _problem(text or "", commands, raw)
    if problem is not None:
        rule, detail = problem
        raise InvalidOutputError(
            f"invalid output from '{command}' ({kind} configuration), rule '{rule}': {detail}",
            rule=rule,
            command=command,
            kind=kind,
        )


def _problem(text: str, commands: PlatformCommands, raw: Optional[str]) -> Optional[Tuple[str, str]]:
    """Return (rule, detail) for the first rule text breaks, or None when it passes (details quote no line)."""
    all_lines = text.split("\n")
    lines = [line for line in all_lines if line.strip()]
    if not lines:
        return "empty", "the device returned no configuration (empty output)"
    for name, source in (("raw output", raw), ("output", text)):
        found = PAGER.search(source or "")
        if found:
            number = (source or "").count("\n", 0, found.start()) + 1
            return "pager", (
                f"line {number} of the {name} is a pager prompt: the output stopped there, paging was not "
                "disabled (terminal length 0 / set cli screen-length 0 failed or was not sent)"
            )
    error = _error_line(all_lines)
    if error is not None:
        return "error_message", (
            f"line {error[1]} matches the error marker '{error[0]}': the device printed an error instead of a "
            "configuration"
        )
    if len(lines) < commands.min_lines:
        return "too_short", f"only {len(lines)} non-empty line(s), fewer than the minimum of {commands.min_lines}"
    if commands.end_marker and not re.fullmatch(commands.end_marker, lines[-1].strip()):
        last = max(index for index, line in enumerate(all_lines) if line.strip()) + 1
        return "no_end_marker", (
            f"the last line (line {last}) does not match the end marker {commands.end_marker!r}: "
            "the output is truncated"
        )
    if commands.balanced_braces:
        depth = _brace_depth(lines)
        if depth > 0:
            return "unbalanced_braces", f"{depth} block(s) still open at the end of the output: the output is truncated"
        if depth < 0:
            return "unbalanced_braces", "a '}' closes a block that was never opened: the output is incomplete"
    return None


def _error_line(lines: List[str]) -> Optional[Tuple[str, int]]:
    """Return (marker name, 1-based line number) for an error message in the first or last non-empty lines.

    lines: every line of the text, blank ones included, so the number is the line's place in it.
    """
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    head = numbered[:_HEAD_LINES]
    tail = numbered[max(_HEAD_LINES, len(numbered) - _TAIL_LINES) :]
    for name, rx in _ERROR_RX:  # in ERROR_MARKERS order: the message wins over its caret line
        for number, line in head + tail:
            if rx.match(line):
                return name, number
    return None


def _brace_depth(lines: List[str]) -> int:
    """Return the open-block depth after lines (negative as soon as a block closes twice)."""
    depth = 0
    for line in lines:
        code = _COMMENT.sub("", _QUOTED.sub('""', line))
        depth += code.count("{") - code.count("}")
        if depth < 0:
            return depth
    return depth
