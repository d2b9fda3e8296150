# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""What may be in one CLI command line: the one home of the rule that keeps data from becoming commands.

A device's CLI ends a command at a line break, and many line editors act on other control
characters too (tab completes, Ctrl-U erases, Ctrl-Z ends configuration mode). So a command
sent to a device must hold none of them, and a value from Nautobot, a job parameter or a host
variable that carries one must never reach a device. Refused: Unicode categories ``Cc``
(control characters: tab, LF, CR, VT, FF, FS/GS/RS/US, NEL, DEL ...), ``Cf`` (format characters:
zero-width and bidirectional controls, which hide text from whoever reads the command),
``Cs`` (lone surrogates, which cannot be encoded) and ``Zl`` / ``Zp`` (U+2028, U+2029), which is
every character ``str.splitlines()`` splits on and more.
"""

from __future__ import annotations

import unicodedata
from typing import Optional

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

# unicodedata has no name for most control characters: the ones people meet get one here.
_CONTROL_NAMES = {
    "\t": "tab",
    "\n": "line feed",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\r": "carriage return",
    "\x1a": "substitute, Ctrl-Z",
    "\x1b": "escape",
    "\x1c": "file separator",
    "\x1d": "group separator",
    "\x1e": "record separator",
    "\x1f": "unit separator",
    "\x7f": "delete",
    "\x85": "next line",
}


class UnsafeCommandError(NautobotBackupError):
    """A command (or a value meant for one) holds a line break or another control character."""


def unsafe_character(text: str) -> Optional[str]:
    """Return the first character of text that must not be in a command line, or None."""
    for char in text:
        if unicodedata.category(char) in UNSAFE_CATEGORIES:
            return char
    return None


def describe_character(char: str) -> str:
    """Name a character by code point and name, e.g. ``U+000A (line feed)``, never by the text around it."""
    fallback = {"Cf": "format character", "Cs": "surrogate"}.get(unicodedata.category(char), "control character")
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, fallback).lower()
    return f"U+{ord(char):04X} ({name})"


def check_command_line(command: str, what: str) -> None:
    """Raise UnsafeCommandError naming ``what`` (e.g. "the running command") when command holds an unsafe character."""
    char = unsafe_character(command)
    if char is not None:
        raise UnsafeCommandError(
            f"{what} contains {describe_character(char)}: a command must not hold line breaks or other control "
            "characters; the device was not contacted"
        )
