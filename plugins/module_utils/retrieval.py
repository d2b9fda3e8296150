# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetch a device's running and startup configuration with netmiko, classifying every failure.

A startup config that the platform lacks, or that the device rejects or times out on,
never fails the running backup (the running config is what matters most); every failure carries
one of the failure classes of errors.FAILURE_CLASSES; and no message ever contains the
password or the enable secret.
"""

from __future__ import annotations

import os
import socket
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.host_keys import DeviceHostKeys
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


def send_commands(
    settings: ConnectionSettings,
    commands: Sequence[str],
    enable: bool,
    connect: Optional[Callable[..., Any]] = None,
) -> List[Tuple[str, str]]:
    """Connect once, enter enable mode if needed, and send commands in order (the device jobs' session).

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
            settings.scrub(f"the session to {where} failed during '{command}': {error_summary(exc)}"), "unreachable"
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
    if "no existing session" in text.lower():
        # paramiko's transport gave up before the handshake finished (netmiko: "try increasing conn_timeout"):
        # the same hanging device as above, caught by conn_timeout first.
        return DeviceError(
            f"no SSH handshake with {where} within {settings.conn_timeout:g}s (the device accepted TCP but hangs)",
            "timeout",
        )
    return DeviceError(settings.scrub(f"SSH session to {where} failed: {error_summary(exc)}"), "other")


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


def error_summary(exc: BaseException) -> str:
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
