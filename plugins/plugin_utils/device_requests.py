# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""A device's request built from the task's arguments and the host's variables, on the controller.

The device actions read the standard Ansible connection variables (``ansible_host``, ``ansible_user``,
``ansible_password`` ...), the ``nautobot`` facts and ``netmiko_device_type`` through a lookup, and hand
module_utils plain settings (retrieval.ConnectionSettings, backup.BackupRequest). A host variable that
cannot be used fails that device alone (HostVariableError), never the batch.
"""

from __future__ import annotations

import getpass
import ipaddress
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup import BackupRequest, shrink_threshold
from ansible_collections.netops.nautobot_backup.plugins.module_utils.clock import as_stamp
from ansible_collections.netops.nautobot_backup.plugins.module_utils.command_lines import UNSAFE_CATEGORIES
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import file_modes
from ansible_collections.netops.nautobot_backup.plugins.module_utils.host_keys import (
    HostKeyCheck,
    insecure_transport,
    refuse_insecure_transport,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.platforms import device_type_for_host, value_type
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import ConnectionSettings, error_summary
from ansible_collections.netops.nautobot_backup.plugins.module_utils.scrub import Scrubber

# Returns a host variable (templated), or None when it is not set.
VarLookup = Callable[[str], Any]

# The Python libraries a device backup needs (device_config_backup and device_config_backup_batch).
BACKUP_LIBRARIES = ("pydantic", "netmiko", "netutils")


# Standard Ansible connection variables for a device, first match wins.
CONNECTION_VARS: Dict[str, Tuple[str, ...]] = {
    "host": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "username": ("ansible_user", "ansible_ssh_user"),
    "password": ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password"),
    "secret": ("ansible_become_password", "ansible_become_pass", "ansible_enable_pass"),
    "key_file": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
}

TIMEOUT_ARGS = ("conn_timeout", "auth_timeout", "banner_timeout", "read_timeout")


def connection_settings(
    name: str,
    device_type: str,
    lookup: Callable[[str], Any],
    timeouts: Mapping[str, Any],
    cli: Optional[Mapping[str, Any]] = None,
) -> ConnectionSettings:
    """Build a device's ConnectionSettings from its Ansible connection variables.

    ``lookup(var)`` returns one host variable (templated) or None; the first set alias of
    CONNECTION_VARS wins. ``cli`` holds credentials given on the command line (``-u``,
    ``--ask-pass``, ``--ask-become-pass``; AWX Machine credentials arrive this way) and is used
    for a setting that no host variable sets. ``timeouts`` carries the four netmiko timeouts.
    """
    cli = cli or {}

    def first(key: str) -> Tuple[Optional[str], Any]:
        """(variable name, value) of the first set alias; ("command line", value) from cli; else (None, None)."""
        for var in CONNECTION_VARS[key]:
            value = lookup(var)
            if value not in (None, ""):
                return var, value
        value = cli.get(key)
        return ("the command line", value) if value not in (None, "") else (None, None)

    def text(key: str) -> Optional[str]:
        """A setting as a string: YAML turns a password such as 12345 into an int."""
        value = first(key)[1]
        return None if value is None else str(value)

    return ConnectionSettings(
        host=_host(*first("host")) or name,
        port=_port(*first("port")),
        device_type=device_type,
        username=text("username") or getpass.getuser(),
        password=text("password"),
        secret=text("secret"),
        key_file=text("key_file"),
        **{key: timeouts[key] for key in TIMEOUT_ARGS},
    )


class HostVariableError(NautobotBackupError):
    """A host's connection variable has a value that cannot be used (the device fails, the others go on)."""


def host_variable_error(exc: BaseException, secrets: Iterable[Any] = ()) -> NautobotBackupError:
    """An error raised while one host's request was built, as that device's failure (class ``other``).

    The collection's own errors are returned as they are. Anything else (Ansible failing to template
    a variable, a value of a type nothing expected) keeps its type and the first line of its message,
    at most 200 characters, with ``secrets`` (e.g. the command-line credentials) masked.
    """
    if isinstance(exc, NautobotBackupError):
        return exc
    text = Scrubber(secrets)(error_summary(exc)[:200])
    return HostVariableError(f"cannot use this host's variables: {type(exc).__name__}: {text}")


def _host(variable: Optional[str], value: Any) -> Optional[str]:
    """The address from a host variable: an IP address or a DNS name (None when unset).

    A value that no resolver takes (whitespace or control characters, a label over 63 or a name
    over 253 characters) is this host's HostVariableError, named but not shown.
    """
    if variable is None:
        return None
    if isinstance(value, (list, tuple, dict, Mapping, bool)):
        raise HostVariableError(f"{variable} must be a host name or an IP address, got a {value_type(value)}")
    text = str(value).strip()
    reason = None
    if any(char.isspace() or unicodedata.category(char) in UNSAFE_CATEGORIES for char in text):
        reason = "it holds whitespace or a control character"
    elif ":" in text:
        try:
            ipaddress.ip_address(text.strip("[]"))
        except ValueError:
            reason = "it holds ':' but is no IPv6 address"
    elif len(text.rstrip(".")) > 253:
        reason = "it is longer than 253 characters"
    elif any(not 0 < len(label) <= 63 for label in text.rstrip(".").split(".")):
        reason = "a part between dots is empty or longer than 63 characters"
    if reason:
        raise HostVariableError(f"{variable} is not a usable host name or address ({reason}): fix the host's address")
    return text.strip("[]") if ":" in text else text


def _port(variable: Optional[str], value: Any) -> int:
    """The SSH port from a host variable: an integer from 1 to 65535 (or its digits as a string); 22 when unset."""
    if variable is None:
        return 22
    port = value
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        port = int(value.strip())
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        shown = repr(value)[:40] if isinstance(value, (str, int)) and not isinstance(value, bool) else "a value"
        raise HostVariableError(
            f"{variable} must be an integer from 1 to 65535, got {shown} ({value_type(value)}): "
            "fix the host's port variable"
        )
    return port


@dataclass
class DeviceTarget:
    """Who a device is (its Nautobot facts, id and platform name) and how to reach it."""

    facts: Dict[str, Any]
    settings: ConnectionSettings
    device_id: Optional[str] = None
    platform: Optional[str] = None


def device_target(
    args: Mapping[str, Any],
    name: str,
    lookup: Callable[[str], Any],
    cli: Optional[Mapping[str, Any]] = None,
    host_keys: Optional[HostKeyCheck] = None,
) -> DeviceTarget:
    """Resolve a device from an action's arguments and the host's variables (every device job uses this).

    ``args`` may give ``facts`` (else the ``nautobot`` host variable), ``platform_map``, ``allow_telnet`` and
    the four timeouts; ``lookup(var)`` returns one host variable; ``cli`` are the command-line credentials
    (credentials.cli_credentials); ``host_keys`` is the run's host key check when this host's checking is on. Raises
    NautobotBackupError (an unknown platform, a refused telnet device type) for this device only.
    """
    facts = args.get("facts")
    if facts is None:
        facts = lookup("nautobot") or {}
    if not isinstance(facts, dict):
        facts = {}
    platform = facts.get("platform")
    device_type = device_type_for_host(
        netmiko_type=lookup("netmiko_device_type"),
        platform=platform,
        network_os=lookup("ansible_network_os"),
        platform_map=args.get("platform_map") or {},
        device=name,
    )
    refuse_insecure_transport(device_type, bool(args.get("allow_telnet")), name)
    settings = connection_settings(name, device_type, lookup, args, cli)
    if host_keys is not None and insecure_transport(device_type) is None:
        settings.host_keys = host_keys.for_device(name, settings.host, settings.port)
    device_id = facts.get("id") or lookup("nautobot_id")
    return DeviceTarget(
        facts=facts,
        settings=settings,
        device_id=None if device_id is None else str(device_id),
        platform=platform_name(platform),
    )


def platform_name(platform: Any) -> Optional[str]:
    """The platform's name for results: a dict's ``name`` or a plain name, as a string (None when unset)."""
    if isinstance(platform, dict):
        platform = platform.get("name")
    if platform in (None, ""):
        return None
    return platform if isinstance(platform, str) else str(platform)


def location_name(facts: Mapping[str, Any]) -> Optional[str]:
    """The device's location name for results, from the ``nautobot`` facts (a dict's ``name`` or a plain name)."""
    return platform_name(facts.get("location"))


def request_from_vars(
    args: Mapping[str, Any],
    name: str,
    lookup: VarLookup,
    cli: Optional[Mapping[str, Any]] = None,
    host_keys: Optional[HostKeyCheck] = None,
) -> BackupRequest:
    """Build one device's BackupRequest from the task arguments and the host's variables.

    ``args`` are the validated task arguments (device_config_backup's argument spec);
    ``lookup(var)`` returns one of the host's variables; ``cli`` holds command-line credentials
    (credentials.cli_credentials) used where no host variable is set; ``host_keys`` is the run's host key
    check when this host's checking is on. Raises NautobotBackupError (e.g. an unknown platform) for this
    device only.
    """
    target = device_target(args, name, lookup, cli, host_keys)
    commands = args.get("commands")
    if commands is None:
        commands = lookup("nautobot_backup_commands")
    return BackupRequest(
        device_name=name,
        settings=target.settings,
        repo_dir=Path(args["repo_dir"]),
        stamp=as_stamp(args.get("timestamp")),
        facts=target.facts,
        device_id=target.device_id,
        platform=target.platform,
        location=location_name(target.facts),
        running_template=args.get("running_path_template"),
        startup_template=args.get("startup_path_template"),
        backup_startup=args["backup_startup"],
        sanitize=args["sanitize"],
        sanitize_patterns=args["sanitize_patterns"],
        command_overrides=commands,
        show_diff=bool(args.get("show_diff")),
        file_mode=file_modes(args.get("file_mode"))[0],
        shrink_threshold=shrink_threshold(args.get("shrink_threshold", 0.5)),
        allow_shrink=allow_shrink(lookup("nautobot_backup_allow_shrink")),
        rejected_dir=Path(args["rejected_dir"]) if args.get("rejected_dir") else None,
    )


def allow_shrink(value: Any) -> bool:
    """The host variable nautobot_backup_allow_shrink as a bool (unset: False); anything else fails this host."""
    if value is None or value == "":
        return False
    normalized = value.lower() if isinstance(value, str) else value
    if isinstance(normalized, (str, bool, int)) and (normalized in BOOLEANS_TRUE or normalized in BOOLEANS_FALSE):
        return normalized in BOOLEANS_TRUE
    raise HostVariableError(f"nautobot_backup_allow_shrink must be a boolean, got a {value_type(value)}")


def hostvars_lookup(host_vars: Any) -> VarLookup:
    """A variable lookup over hostvars[host] (which templates each value in that host's context)."""

    def lookup(name: str) -> Any:
        if host_vars is None or name not in host_vars:
            return None
        return host_vars[name]

    return lookup
