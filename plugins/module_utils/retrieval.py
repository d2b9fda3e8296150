# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetch a device's running and startup configuration with netmiko, classifying every failure.

A startup config that the platform lacks, or that the device rejects or times out on,
never fails the running backup (the running config is what matters most); every failure carries
one of the failure classes of errors.FAILURE_CLASSES; and no message ever contains the
password or the enable secret.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import socket
import traceback
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.command_lines import UNSAFE_CATEGORIES
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.host_keys import (
    DeviceHostKeys,
    HostKeyCheck,
    insecure_transport,
    refuse_insecure_transport,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.platforms import device_type_for_host, value_type
from ansible_collections.netops.nautobot_backup.plugins.module_utils.scrub import Scrubber

if has_library("netmiko"):
    from netmiko import ConnectHandler
    from netmiko.exceptions import (
        NetmikoAuthenticationException,
        ReadException,
        ReadTimeout,
    )
    from paramiko.ssh_exception import SSHException
else:  # pragma: no cover - require("netmiko") raises before any of these is used
    ConnectHandler = None
    NetmikoAuthenticationException = type("NetmikoAuthenticationException", (Exception,), {})
    ReadException = type("ReadException", (Exception,), {})
    ReadTimeout = type("ReadTimeout", (ReadException,), {})
    SSHException = type("SSHException", (Exception,), {})


class DeviceError(NautobotBackupError):
    """Talking to the device failed; failure_class says how."""

    def __init__(self, message: str, failure_class: str) -> None:
        self.failure_class = failure_class
        super().__init__(message)


@dataclass
class ConnectionSettings:
    """How to reach one device. Secrets are kept out of repr()."""

    host: str
    device_type: str
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    secret: Optional[str] = field(default=None, repr=False)
    port: int = 22
    key_file: Optional[str] = None
    passphrase: Optional[str] = field(default=None, repr=False)
    conn_timeout: float = 10.0
    auth_timeout: float = 20.0
    banner_timeout: float = 15.0
    read_timeout: float = 120.0
    # The SSH host key check of this device's session (host_keys.py); None: checking is off.
    host_keys: Optional[DeviceHostKeys] = field(default=None, repr=False, compare=False)

    def netmiko_params(self) -> Dict[str, Any]:
        """Keyword arguments for netmiko's ConnectHandler."""
        params: Dict[str, Any] = {
            "device_type": self.device_type,
            "host": self.host,
            "port": self.port,
            "username": self.username or "",
            "password": self.password or "",
            "secret": self.secret or "",
            "conn_timeout": self.conn_timeout,
            "auth_timeout": self.auth_timeout,
            "banner_timeout": self.banner_timeout,
            "read_timeout_override": None,
            "fast_cli": True,
            "ssh_strict": False,
            "system_host_keys": False,
            "alt_host_keys": False,
        }
        if self.key_file:
            params.update(use_keys=True, key_file=self.key_file, passphrase=self.passphrase)
        else:
            params.update(use_keys=False, allow_agent=False)
        return params

    def scrub(self, text: str) -> str:
        """Replace any secret of these settings found in text (the collection's one Scrubber rule)."""
        return Scrubber((self.password, self.secret, self.passphrase))(text)


@dataclass
class FetchedConfigs:
    """Raw outputs of one device session."""

    running: str
    startup: Optional[str] = None
    startup_error: Optional[str] = None


def fetch_configs(
    settings: ConnectionSettings,
    running_command: str,
    startup_command: Optional[str],
    enable: bool,
    connect: Optional[Callable[..., Any]] = None,
) -> FetchedConfigs:
    """Connect, enter enable mode if needed, and read running (and startup) config.

    Raises DeviceError for anything that prevents the running config from being read.
    A failure reading the startup config is recorded in ``startup_error`` instead.
    """
    conn, where = _open(settings, connect)
    try:
        if enable:
            _enter_enable(conn, settings, where)
        running = _send(conn, running_command, settings, where)
        fetched = FetchedConfigs(running=running)
        if startup_command:
            try:
                fetched.startup = _send(conn, startup_command, settings, where)
            except DeviceError as exc:
                fetched.startup_error = str(exc)
        return fetched
    finally:
        _disconnect(conn)


def run_commands(
    settings: ConnectionSettings,
    commands: Sequence[str],
    enable: bool,
    connect: Optional[Callable[..., Any]] = None,
) -> List[Tuple[str, str]]:
    """Connect once, enter enable mode if needed, and run commands in order.

    Returns (command, output) pairs with the echo and prompt stripped. Raises DeviceError
    (classified like the backup's) for the first command or connection step that fails.
    """
    conn, where = _open(settings, connect)
    try:
        if enable:
            _enter_enable(conn, settings, where)
        return [(command, _send(conn, command, settings, where, strip=True)) for command in commands]
    finally:
        _disconnect(conn)


def _open(settings: ConnectionSettings, connect: Optional[Callable[..., Any]]) -> Tuple[Any, str]:
    """Open the netmiko session; return it and 'host:port' for messages, or raise a classified DeviceError."""
    if connect is None:
        require("netmiko")
        connect = ConnectHandler
    where = f"{settings.host}:{settings.port}"
    try:
        if settings.host_keys is not None:  # a mismatch raises HostKeyMismatchError before any credential is sent
            return settings.host_keys.open(connect, settings.netmiko_params()), where
        return connect(**settings.netmiko_params()), where
    except NetmikoAuthenticationException as exc:
        raise DeviceError(f"authentication failed for user '{settings.username}' at {where}", "auth_failed") from exc
    except (SSHException, OSError, EOFError) as exc:  # NetmikoTimeoutException is an SSHException
        raise _connect_error(exc, settings, where) from exc


def _enter_enable(conn: Any, settings: ConnectionSettings, where: str) -> None:
    """Enter privileged mode; a refused secret is an auth failure."""
    try:
        if not conn.check_enable_mode():
            conn.enable()
    except (ValueError, ReadException) as exc:
        hint = "" if settings.secret else " (no enable secret given: set ansible_become_password)"
        raise DeviceError(f"could not enter enable mode at {where}{hint}", "auth_failed") from exc


def _send(conn: Any, command: str, settings: ConnectionSettings, where: str, strip: bool = False) -> str:
    """Run one show command and return its output (raw by default: echo and prompt left for the cleaner)."""
    try:
        return conn.send_command(
            command, read_timeout=settings.read_timeout, strip_prompt=strip, strip_command=strip
        )
    except (TimeoutError, ReadTimeout) as exc:
        if not _alive(conn):
            raise DeviceError(f"the device at {where} closed the session during '{command}'", "unreachable") from exc
        raise DeviceError(
            f"'{command}' did not complete within {settings.read_timeout:g}s at {where}", "timeout"
        ) from exc
    except (ReadException, OSError, EOFError, SSHException) as exc:
        raise DeviceError(
            settings.scrub(f"the session to {where} failed during '{command}': {_error_summary(exc)}"), "unreachable"
        ) from exc


def _connect_error(exc: BaseException, settings: ConnectionSettings, where: str) -> DeviceError:
    """Classify a failure to open the SSH session."""
    text = str(exc)
    if "TCP connection to device failed" in text or isinstance(exc, ConnectionRefusedError):
        return DeviceError(f"cannot open a TCP connection to {where} (refused, filtered or no route)", "unreachable")
    if "DNS failure" in text:
        return DeviceError(f"the device name {settings.host} does not resolve", "unreachable")
    if "banner" in text.lower() or "timed out" in text.lower() or isinstance(exc, socket.timeout):
        return DeviceError(
            f"no SSH banner from {where} within {settings.banner_timeout:g}s (the device accepted TCP but hangs)",
            "timeout",
        )
    return DeviceError(settings.scrub(f"SSH session to {where} failed: {_error_summary(exc)}"), "other")


def _alive(conn: Any) -> bool:
    """Tell whether the session still looks usable."""
    try:
        return bool(conn.is_alive())
    except (OSError, EOFError, SSHException, ValueError, AttributeError):
        return False


def _disconnect(conn: Any) -> None:
    """Close the session; a device that already hung up is fine."""
    try:
        conn.disconnect()
    except (OSError, EOFError, SSHException, ReadException, ValueError, AttributeError):
        pass


def unexpected_error_message(exc: BaseException) -> str:
    """Describe an unexpected exception (a bug) by type and where it was raised, never by its text.

    Its text may quote what the device printed (a line being cleaned or sanitized).
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno} in {frames[-1].name}()" if frames else ""
    return f"unexpected {type(exc).__name__}{where} (a bug: please report it with the -vvv output)"


def _error_summary(exc: BaseException) -> str:
    """A short description of a session error that carries nothing the device printed.

    netmiko's ReadException texts quote the output read so far (part of a configuration,
    perhaps), so only their type is given; an OSError gives its strerror; other errors
    (paramiko's SSH protocol errors) the first line of their message, at most 120 characters.
    """
    if isinstance(exc, ReadException):
        return f"{type(exc).__name__} (netmiko did not read what it expected)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()[:120]
    return type(exc).__name__


# Standard Ansible connection variables for a device, first match wins (used by the action plugins).
CONNECTION_VARS: Dict[str, Tuple[str, ...]] = {
    "host": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "username": ("ansible_user", "ansible_ssh_user"),
    "password": ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password"),
    "secret": ("ansible_become_password", "ansible_become_pass", "ansible_enable_pass"),
    "key_file": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
}

# The credentials that can also come from the command line (-u, --ask-pass, --ask-become-pass):
# that is how AWX hands a Machine credential to a job.
CLI_CREDENTIALS = ("username", "password", "secret", "key_file")

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
    text = Scrubber(secrets)(_error_summary(exc)[:200])
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
    (cli_credentials); ``host_keys`` is the run's host key check when this host's checking is on. Raises
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


def cli_credentials(
    play_context: Any,
    task_vars: Mapping[str, Any],
    play_level: Any = None,
    remote_user: Optional[str] = None,
) -> Dict[str, Any]:
    """The command-line credentials (-u, --ask-pass, --ask-become-pass, --private-key) for connection_settings().

    connection_settings() gives them to each host that has no variable of its own for that
    setting, so they are resolved once for the play and decided per host.

    ``play_level`` is the play's PlayContext as the strategy built it from the command line,
    before Ansible folded the task host's own connection variables into it (an action plugin finds
    it on its worker process: plugin_utils.credentials). Its ``password``, ``become_pass`` and
    ``private_key_file`` are the command-line values, and ``remote_user`` (the play's
    ``remote_user`` keyword, else -u) is the user, whatever the first host of a batch sets itself.

    Without it, ``play_context`` (the task's, with the task host's variables folded in) is all
    there is: a setting that the task's own host sets in its inventory variables
    (``hostvars[inventory_hostname]``) is then left out, so one host's password is never handed
    to another host of a batch, at the cost of that command-line value.
    """
    attributes = {"username": "remote_user", "password": "password", "secret": "become_pass",
                  "key_file": "private_key_file"}
    found: Dict[str, Any] = {}
    if play_level is not None:
        for key in CLI_CREDENTIALS:
            value = getattr(play_level, attributes[key], None)
            if key == "username" and remote_user not in (None, ""):
                value = remote_user
            if value not in (None, ""):
                found[key] = value
        return found
    own_vars = (task_vars.get("hostvars") or {}).get(task_vars.get("inventory_hostname")) or {}
    for key in CLI_CREDENTIALS:
        if any(own_vars.get(var) not in (None, "") for var in CONNECTION_VARS[key]):
            continue
        value = getattr(play_context, attributes[key], None)
        if value not in (None, ""):
            found[key] = value
    return found
