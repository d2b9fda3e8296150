# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""Optionally remove secrets from a configuration before it is stored (off by default).

Built-in rules run through netutils' ``sanitize_config(config, filters)``, which
applies a list of ``{"regex", "replace"}`` filters with ``re.MULTILINE``; netutils
ships no rule set of its own (1.x), so the rules are here, per platform family:
enable and user secrets, line/user passwords, SNMP communities, TACACS+/RADIUS keys,
routing-protocol keys, Junos ``encrypted-password``/``secret`` strings and Comware/
Huawei ``cipher``/``hash`` secrets. Each rule keeps the keywords and replaces only
the secret with PLACEHOLDER, so the result is still readable, diffs stay small and
sanitizing twice changes nothing.

Users add their own regular expressions: a match is replaced by PLACEHOLDER, or, when
the pattern has a named group ``secret``, only that group is.
"""

from __future__ import annotations

import re
from typing import Dict, List, Pattern, Sequence, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup_commands import canonical_device_type
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError

if has_library("netutils"):
    from netutils.config.clean import sanitize_config as netutils_sanitize
else:  # pragma: no cover - sanitize_config then raises MissingLibraryError
    netutils_sanitize = None

PLACEHOLDER = "<removed>"
SECRET_GROUP = "secret"


class SanitizePatternError(NautobotBackupError):
    """A user-supplied sanitize pattern is not a valid regular expression."""

    def __init__(self, message: str, pattern: str) -> None:
        self.pattern = pattern
        super().__init__(message)


def _keep(prefix: str) -> Dict[str, str]:
    """Return a netutils filter that keeps group 1 (prefix) and replaces the token after it."""
    return {"regex": prefix + r" \S+", "replace": r"\1 " + PLACEHOLDER}


# Cisco-like CLIs: IOS, IOS-XE, NX-OS, EOS, IOS XR, ASA. Type digits (0/5/7/8/9/10) and
# 'sha512' stay, only the secret goes.
_CISCO_FILTERS: List[Dict[str, str]] = [
    _keep(r"^(\s*enable (?:secret|password)(?: level \d+)?(?: (?:\d{1,2}|sha512))?)"),
    _keep(r"^(\s*username \S+(?: .*?)? (?:secret|password)(?: (?:\d{1,2}|sha512))?)"),
    _keep(r"^(\s+(?:secret|password)(?: (?:\d{1,2}|sha512))?)"),  # XR username block, line vty password
    _keep(r"^(\s*snmp-server community)"),
    _keep(r"^(\s*snmp-server host \S+ (?:(?:informs|traps) )?version (?:1|2c))"),
    _keep(r"^(\s*snmp-server host .*? community)"),  # ASA: snmp-server host IF IP community X
    _keep(r"^(\s*snmp-server user \S+ \S+(?: .*?)? auth (?:md5|sha\S*))"),
    _keep(r"^(\s*snmp-server user \S+ \S+ .*? priv (?:des|3des|aes(?: \d+)?))"),
    _keep(r"^(\s*(?:tacacs-server|radius-server)(?: .*?)? key(?: [067])?)"),  # EOS/NX-OS host keys
    _keep(r"^(\s+(?:server-)?key [067])"),  # IOS 'tacacs server' / XR host block: ' key 7 ...'
    {"regex": r"^(\s+key) (?![067] )(?!\d+$)\S+", "replace": r"\1 " + PLACEHOLDER},  # ' key plain' (not key ids)
    _keep(r"^(\s*key-string(?: \d)?)"),
    _keep(r"^(\s*crypto isakmp key(?: \d)?)"),
    _keep(r"^(\s*neighbor \S+ password(?: \d)?)"),
    _keep(r"^(\s*ip ospf (?:authentication-key|message-digest-key \d+ md5)(?: \d)?)"),
]
# Junos: quoted or bare secrets, kept syntactically valid as "<removed>".
_JUNOS_SECRET = r'(?:"[^"]*"|[^\s;{]+)'
_JUNOS_FILTERS: List[Dict[str, str]] = [
    {
        "regex": r"^(\s*(?:encrypted-password|secret|authentication-key|simple-password|"
        r"pre-shared-key (?:ascii-text|hexadecimal))) " + _JUNOS_SECRET,
        "replace": r'\1 "' + PLACEHOLDER + '"',
    },
    {"regex": r"^(\s*community) " + _JUNOS_SECRET + r"(?= \{|;)", "replace": r'\1 "' + PLACEHOLDER + '"'},
]
# HPE Comware and Huawei VRP.
_VRP_FILTERS: List[Dict[str, str]] = [
    _keep(r"^(\s*password (?:hash|cipher|simple|irreversible-cipher))"),
    _keep(r"^(\s*local-user \S+ password (?:hash|cipher|simple|irreversible-cipher))"),
    _keep(r"^(\s*super password(?: role \S+)?(?: level \d+)?(?: (?:hash|cipher|simple))?)"),
    _keep(r"^(\s*snmp-agent community (?:read|write)(?: (?:cipher|simple))?)"),
    _keep(r"^(\s*key (?:authentication|authorization|accounting)(?: (?:cipher|simple))?)"),
    _keep(r"^(\s*(?:hwtacacs-server|radius-server) shared-key(?: (?:cipher|simple))?)"),
]

FILTERS: Dict[str, List[Dict[str, str]]] = {
    "cisco": _CISCO_FILTERS,
    "junos": _JUNOS_FILTERS,
    "vrp": _VRP_FILTERS,
}
_FAMILY = {
    "cisco_ios": "cisco",
    "cisco_xe": "cisco",
    "cisco_nxos": "cisco",
    "cisco_asa": "cisco",
    "arista_eos": "cisco",
    "cisco_xr": "cisco",
    "juniper_junos": "junos",
    "hp_comware": "vrp",
    "huawei": "vrp",
    "huawei_vrp": "vrp",
    "huawei_vrpv8": "vrp",
}


def filters_for(device_type: str) -> List[Dict[str, str]]:
    """Return the built-in netutils filters for a device type (every family's for an unknown type)."""
    family = _FAMILY.get(canonical_device_type(device_type) or "")
    if family is None:
        return [item for rules in FILTERS.values() for item in rules]
    return list(FILTERS[family])


def sanitize_config(text: str, device_type: str, extra_patterns: Sequence[str] = ()) -> str:
    """Return text with secrets replaced by PLACEHOLDER (built-in rules, then extra_patterns).

    extra_patterns are regular expressions applied with re.MULTILINE. Raises
    SanitizePatternError for a pattern that does not compile and MissingLibraryError
    when netutils is not installed.
    """
    require("netutils")
    patterns = compile_patterns(extra_patterns)
    result = netutils_sanitize(text, filters_for(device_type))
    for rx in patterns:
        result = rx.sub(_replacement, result)
    return result


def compile_patterns(patterns: Sequence[str]) -> Tuple[Pattern[str], ...]:
    """Compile user patterns (re.MULTILINE); raise SanitizePatternError naming a bad one."""
    if isinstance(patterns, str):
        patterns = [patterns]
    compiled = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise SanitizePatternError(f"sanitize pattern must be a non-empty string, got {pattern!r}", str(pattern))
        try:
            compiled.append(re.compile(pattern, re.MULTILINE))
        except re.error as exc:
            raise SanitizePatternError(f"invalid sanitize pattern {pattern!r}: {exc}", pattern) from exc
    return tuple(compiled)


def _replacement(match: re.Match[str]) -> str:
    """Replace a match, or only its 'secret' group, with PLACEHOLDER (empty matches stay empty)."""
    whole = match.group(0)
    if not whole:
        return whole
    if SECRET_GROUP not in match.re.groupindex:
        return PLACEHOLDER
    start, end = match.span(SECRET_GROUP)
    if start < 0 or start == end:
        return whole
    offset = match.start()
    return whole[: start - offset] + PLACEHOLDER + whole[end - offset :]
