# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH host key checking for device sessions: known keys, pins in the backup repository, no login to a stranger.

A device's known keys come from (docs/docsite/rst/host_keys.rst):

- the controller user's ``~/.ssh/known_hosts`` and the optional ``known_hosts_file`` input, looked up by the
  device's address as OpenSSH writes it (``host`` on port 22, ``[host]:port`` otherwise; hashed names and
  ``*``/``?``/``!`` patterns work; an ``@revoked`` key is refused; ``@cert-authority`` lines are ignored);
- the device's pin, ``.known_hosts/<device name>`` in the backup checkout: written when a device without one
  is backed up, and committed with its configuration, so an ephemeral AWX container remembers it. A pin
  belongs to the device (its inventory name), not to an address, so a device whose address was changed to
  another host meets its own pinned key there.

Every source that holds a key of the type the device presents must hold the presented key; a device no
source knows is trusted on first use. The check runs inside the device's one SSH session, as paramiko's
missing-host-key policy: paramiko calls it right after the key exchange and before its first authentication
request, so a device that fails it never receives a user name, password or enable secret. (A separate probe
connection would prove nothing: a man in the middle can pass the probe through to the real device.)

Telnet and serial netmiko device types carry no host key at all: ``refuse_insecure_transport`` refuses them
before the device is contacted unless the ``allow_telnet`` input allows telnet.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import read_text, write_if_changed
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import clean_value, confine

if has_library("netmiko"):  # netmiko brings paramiko
    from paramiko import MissingHostKeyPolicy
    from paramiko.ssh_exception import IncompatiblePeer, SSHException
else:  # pragma: no cover - retrieval requires netmiko before a session is opened
    MissingHostKeyPolicy = object
    SSHException = type("SSHException", (Exception,), {})
    IncompatiblePeer = type("IncompatiblePeer", (SSHException,), {})

PIN_DIR = ".known_hosts"
USER_KNOWN_HOSTS = "~/.ssh/known_hosts"

# Host key algorithms paramiko can negotiate, and the key type each one proves.
_ALGORITHM_KEY_TYPES: Dict[str, str] = {
    "ssh-ed25519": "ssh-ed25519",
    "ecdsa-sha2-nistp256": "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384": "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521": "ecdsa-sha2-nistp521",
    "rsa-sha2-512": "ssh-rsa",
    "rsa-sha2-256": "ssh-rsa",
    "ssh-rsa": "ssh-rsa",
    "ssh-dss": "ssh-dss",
}
_SAFE_ADDRESS = re.compile(r"[A-Za-z0-9.:_%\[\]-]+")


class HostKeyMismatchError(NautobotBackupError):
    """The device presented a host key that differs from a known one (no credential was sent)."""

    failure_class = "host_key_mismatch"


class KnownHostsError(NautobotBackupError):
    """A known-hosts file or a pin file cannot be used."""


class TransportRefusedError(NautobotBackupError):
    """The device type uses a transport without host keys (telnet, serial) that is not allowed."""

    failure_class = "unsupported_platform"


# ------------------------------------------------------------------------------- transports
def insecure_transport(device_type: str) -> Optional[str]:
    """Return "telnet" or "serial" for netmiko device types that do not use SSH, else None.

    netmiko picks the transport from the device type name alone (``*_telnet``, ``*_serial``), so this
    is the same rule.
    """
    if "_telnet" in device_type:
        return "telnet"
    if "_serial" in device_type:
        return "serial"
    return None


def refuse_insecure_transport(device_type: str, allow_telnet: bool, device: str) -> None:
    """Raise TransportRefusedError for a telnet device type (unless allowed) and for a serial one."""
    transport = insecure_transport(device_type)
    if transport == "serial":
        raise TransportRefusedError(
            f"{device}: the device type {device_type} uses a serial console, which this collection does not support"
        )
    if transport == "telnet" and not allow_telnet:
        raise TransportRefusedError(
            f"{device}: the device type {device_type} uses telnet, which sends the password and the enable secret "
            "in clear text to whoever answers at the device's address; it is refused unless allow_telnet "
            "(role input backup_allow_telnet) is true"
        )


# ------------------------------------------------------------------------------- keys
def key_type_of(blob: bytes) -> str:
    """Return the key type named inside an SSH public key blob (its first string); ValueError if malformed."""
    if len(blob) < 4:
        raise ValueError("the key is too short")
    (length,) = struct.unpack(">I", blob[:4])
    if length == 0 or length > 64 or len(blob) < 4 + length:
        raise ValueError("the key does not start with a key type")
    return blob[4 : 4 + length].decode("ascii", errors="replace")


def fingerprint(blob: bytes) -> str:
    """The key's SHA256 fingerprint as OpenSSH prints it (``SHA256:...``, base64 without padding)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH files a host's keys under: ``host`` on port 22, else ``[host]:port`` (lower case)."""
    host = host.lower()
    return host if int(port) == 22 else f"[{host}]:{int(port)}"


@dataclass(frozen=True)
class KnownKey:
    """One known (or revoked) host key and where it came from."""

    key_type: str
    blob: bytes = field(repr=False)
    source: str
    line: int = 0
    revoked: bool = False

    @property
    def fingerprint(self) -> str:
        """SHA256 fingerprint, as OpenSSH prints it."""
        return fingerprint(self.blob)

    def describe(self) -> str:
        """``type fingerprint (where)`` for messages."""
        where = f"{self.source} line {self.line}" if self.line else self.source
        return f"{self.key_type} {self.fingerprint} ({where})"


@dataclass(frozen=True)
class _Entry:
    """One usable line of a known-hosts file: its host patterns and its key."""

    patterns: str
    key: KnownKey


def parse_known_hosts(text: str, source: str) -> List[_Entry]:
    """Parse OpenSSH known_hosts text; lines that cannot be used are skipped, as OpenSSH and paramiko do."""
    entries: List[_Entry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = None
        if fields[0].startswith("@"):
            marker, fields = fields[0], fields[1:]
            if marker != "@revoked":  # @cert-authority: certificates are not used here
                continue
        if len(fields) < 3:
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
            key_type = key_type_of(blob)
        except (binascii.Error, ValueError):
            continue
        entries.append(_Entry(fields[0], KnownKey(key_type, blob, source, number, revoked=marker is not None)))
    return entries


def host_matches(patterns: str, name: str) -> bool:
    """Tell whether a known_hosts host field matches name (hashed, comma list, ``*``/``?``, ``!`` negation)."""
    if patterns.startswith("|1|"):
        parts = patterns.split("|")
        if len(parts) != 4:
            return False
        try:
            salt, digest = base64.b64decode(parts[2]), base64.b64decode(parts[3])
        except binascii.Error:
            return False
        return hmac.compare_digest(hmac.new(salt, name.encode("utf-8"), hashlib.sha1).digest(), digest)
    matched = False
    for pattern in patterns.lower().split(","):
        negated = pattern.startswith("!")
        if _glob(pattern[1:] if negated else pattern, name):
            if negated:
                return False
            matched = True
    return matched


def _glob(pattern: str, name: str) -> bool:
    """OpenSSH pattern match: ``*`` any run, ``?`` one character, nothing else special (``[`` is literal)."""
    if "*" not in pattern and "?" not in pattern:
        return pattern == name
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, name, re.DOTALL) is not None


class KnownHostsFile:
    """The usable entries of one known-hosts file, read once per run and then shared read-only."""

    def __init__(self, source: str, entries: Sequence[_Entry]) -> None:
        self.source = source
        self._exact: Dict[str, List[KnownKey]] = {}
        self._patterns: List[_Entry] = []
        for entry in entries:
            plain = entry.patterns.lower().split(",")
            if entry.patterns.startswith("|") or any(c in entry.patterns for c in "*?!"):
                self._patterns.append(entry)
            else:
                for name in plain:
                    self._exact.setdefault(name, []).append(entry.key)

    @classmethod
    def read(cls, path: Union[str, Path], source: Optional[str] = None) -> KnownHostsFile:
        """Read a known-hosts file; KnownHostsError when it exists but cannot be read."""
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise KnownHostsError(f"cannot read the known-hosts file {path}: {exc.strerror or exc}") from exc
        label = source or str(path)
        return cls(label, parse_known_hosts(text, label))

    def keys_for(self, name: str) -> List[KnownKey]:
        """The keys this file lists for a host name (as known_hosts_name() gives it)."""
        found = list(self._exact.get(name, ()))
        found.extend(entry.key for entry in self._patterns if host_matches(entry.patterns, name))
        return found


# ------------------------------------------------------------------------------- one run, one device
@dataclass(frozen=True)
class HostKeyCheck:
    """Host key checking for the devices of one run (a device whose checking is off gets none).

    ``pin_repo`` is the checkout whose ``.known_hosts/`` holds the pins; ``write_pins`` lets a successful
    backup pin a device that has no pin yet (run_commands and check_queues only read pins).
    """

    known_hosts: Tuple[KnownHostsFile, ...] = ()
    pin_repo: Optional[Path] = None
    write_pins: bool = False

    @classmethod
    def load(
        cls,
        known_hosts_file: Optional[str] = None,
        pin_repo: Union[None, str, Path] = None,
        write_pins: bool = False,
        user_known_hosts: str = USER_KNOWN_HOSTS,
    ) -> HostKeyCheck:
        """Read ~/.ssh/known_hosts (when it exists) and known_hosts_file (which must exist) once for the run."""
        files: List[KnownHostsFile] = []
        user_file = Path(os.path.expanduser(user_known_hosts))
        if user_file.exists():
            files.append(KnownHostsFile.read(user_file, user_known_hosts))
        if known_hosts_file:
            path = Path(os.path.expanduser(str(known_hosts_file)))
            if not path.is_file():
                raise KnownHostsError(f"the known_hosts_file {known_hosts_file} does not exist or is not a file")
            files.append(KnownHostsFile.read(path, str(known_hosts_file)))
        return cls(tuple(files), Path(pin_repo).expanduser() if pin_repo else None, write_pins)

    def for_device(self, device: str, host: str, port: int) -> DeviceHostKeys:
        """The check of one device's session; KnownHostsError when its name gives no pin file name."""
        return DeviceHostKeys(self, device, host, int(port))


def pin_path(device: str) -> str:
    """The device's pin file, relative to the checkout: ``.known_hosts/<name>``, made path-safe like backup paths."""
    name = clean_value(str(device))
    if not name:
        raise KnownHostsError(
            f"the device name {device!r} is empty once made path-safe, so its host key cannot be pinned"
        )
    return f"{PIN_DIR}/{name}"


class DeviceHostKeys:
    """One device's host key check for one SSH session (used by one thread)."""

    def __init__(self, check: HostKeyCheck, device: str, host: str, port: int) -> None:
        self.check = check
        self.device = device
        self.host = host
        self.port = port
        self.address = known_hosts_name(host, port)
        self.pin_relative = pin_path(device)
        self.presented: Optional[bytes] = None
        self.rejection: Optional[HostKeyMismatchError] = None
        self._known: Optional[List[KnownKey]] = None
        self._pinned = False

    # --- what is known -----------------------------------------------------------------------
    def _pin_file(self) -> Optional[Path]:
        """The pin file inside the checkout (confined like a backup file), or None without a checkout."""
        if self.check.pin_repo is None:
            return None
        return confine(self.check.pin_repo, self.pin_relative, device=self.device)

    def known_keys(self) -> List[KnownKey]:
        """Every known and revoked key of this device: its pin, then the known-hosts files (read once)."""
        if self._known is None:
            known: List[KnownKey] = []
            path = self._pin_file()
            text = read_text(path) if path is not None else None
            if text is not None:
                source = f"{self.pin_relative} in the backup repository"
                pins = [replace(entry.key, line=0) for entry in parse_known_hosts(text, source)]
                if not pins:
                    raise KnownHostsError(
                        f"{self.device}: the pin file {self.pin_relative} holds no usable host key; "
                        "delete it to pin the device's key again on the next backup"
                    )
                known.extend(pins)
                self._pinned = True
            for known_hosts in self.check.known_hosts:
                known.extend(known_hosts.keys_for(self.address))
            self._known = known
        return self._known

    def host_key_algorithms(self) -> Optional[Set[str]]:
        """The host key algorithms to offer: those of the known key types (None: no key known, offer all).

        Like OpenSSH, which prefers the algorithms of the keys it knows, so that a device with several
        host keys shows the known one instead of failing on another type.
        """
        types = {key.key_type for key in self.known_keys() if not key.revoked}
        if not types:
            return None
        return {algorithm for algorithm, key_type in _ALGORITHM_KEY_TYPES.items() if key_type in types}

    # --- the check ---------------------------------------------------------------------------
    def verify(self, blob: bytes) -> None:
        """Accept the key the device presented, or raise HostKeyMismatchError (called before authentication)."""
        self.presented = blob
        key_type = key_type_of(blob)
        known = self.known_keys()
        revoked = [key for key in known if key.revoked and key.blob == blob]
        if revoked:
            raise self._mismatch(blob, revoked, "is marked @revoked in")
        valid = [key for key in known if not key.revoked]
        if not valid:
            return  # first contact: trusted now, pinned when the backup succeeds
        sources: Dict[str, List[KnownKey]] = {}
        for key in valid:
            sources.setdefault(key.source, []).append(key)
        vouched = False
        disagree: List[KnownKey] = []
        for keys in sources.values():
            same_type = [key for key in keys if key.key_type == key_type]
            if any(key.blob == blob for key in same_type):
                vouched = True
            else:
                disagree.extend(same_type)
        if disagree or not vouched:
            raise self._mismatch(blob, disagree or valid, "differs from")

    def _mismatch(self, blob: bytes, keys: Sequence[KnownKey], relation: str) -> HostKeyMismatchError:
        """The mismatch error: device, address, both fingerprints, where the known key came from, what to do."""
        return HostKeyMismatchError(
            f"host key mismatch for {self.device} at {self.host}:{self.port}: the device presented the "
            f"{key_type_of(blob)} key {fingerprint(blob)}, which {relation} the known key(s): "
            f"{'; '.join(key.describe() for key in keys)}. {self._advice(keys)}"
        )

    def _advice(self, keys: Sequence[KnownKey]) -> str:
        """What happened to the device (nothing) and how to accept a legitimate new key."""
        fixes: List[str] = []
        for source in dict.fromkeys(key.source for key in keys):
            if source.startswith(self.pin_relative):
                fixes.append(f"delete {self.pin_relative} from the backup repository (the next backup pins it anew)")
            else:
                fixes.append(f"remove the {self.address} entry from {source} (ssh-keygen -R '{self.address}' -f FILE)")
        return (
            "Nothing was sent to the device (no login was attempted) and no file was written. If the device's key "
            f"changed legitimately (device replaced, SSH key regenerated), {' and '.join(fixes)}; otherwise someone "
            "may be intercepting the connection."
        )

    # --- the session -------------------------------------------------------------------------
    def open(self, connect: Callable[..., Any], params: Mapping[str, Any]) -> Any:
        """Open the netmiko session with this check inside it; return the connection.

        The session is built with ``auto_connect=False``, given this check as its paramiko missing-host-key
        policy (paramiko knows no keys here, so it consults the policy for every device, after the key
        exchange and before authentication) and only the known key types' host key algorithms, then opened
        with ``_open()``, as netmiko's own ``ConnUnify`` does. Raises HostKeyMismatchError, or what netmiko
        raises.
        """
        self.rejection = None
        conn = connect(**{**params, "auto_connect": False})
        conn.key_policy = _CheckPolicy(self)
        allowed = self.host_key_algorithms()
        if allowed is not None:
            disabled = dict(getattr(conn, "disabled_algorithms", None) or {})
            disabled["keys"] = sorted(set(disabled.get("keys") or ()) | (set(_ALGORITHM_KEY_TYPES) - allowed))
            conn.disabled_algorithms = disabled
        try:
            conn._open()
        except Exception as exc:
            conn.disconnect()  # what netmiko's constructor does for a session that fails to open (never raises)
            if self.rejection is not None:
                raise self.rejection from None
            if allowed is not None and isinstance(exc, SSHException) and _no_common_host_key(exc):
                known = [key for key in self.known_keys() if not key.revoked]
                raise HostKeyMismatchError(
                    f"host key mismatch for {self.device} at {self.host}:{self.port}: the device offers no host key "
                    f"of a known type; known: {'; '.join(key.describe() for key in known)}. {self._advice(known)}"
                ) from None
            raise
        return conn

    def save_pin(self, check_mode: bool = False) -> Tuple[Optional[str], bool]:
        """Pin the presented key when the device has no pin yet; return (pin file or None, written or would be).

        The pin file is returned whenever the device has one in the checkout, so the publish step commits it
        (an unchanged file makes no commit). Nothing is written in check mode, or when pins are read-only.
        """
        path = self._pin_file()
        if path is None:
            return None, False
        self.known_keys()
        if self._pinned:
            return self.pin_relative, False
        if not self.check.write_pins or self.presented is None:
            return None, False
        if check_mode:
            return None, True
        address = self.address if _SAFE_ADDRESS.fullmatch(self.address) else clean_value(self.device)
        line = f"{address} {key_type_of(self.presented)} {base64.b64encode(self.presented).decode('ascii')}\n"
        text = (
            f"# SSH host key of device {clean_value(self.device)}, pinned by netops.nautobot_backup on first contact.\n"
            "# Delete this file to accept a new key for the device: the next backup pins the key it then finds.\n"
            + line
        )
        try:
            write_if_changed(path, text)
        except OSError as exc:
            raise KnownHostsError(f"cannot write the pin file {self.pin_relative}: {exc.strerror or exc}") from exc
        self._pinned = True
        return self.pin_relative, True


def _no_common_host_key(exc: BaseException) -> bool:
    """Tell whether a failed session failed because the device offered none of the allowed host key types."""
    seen: Set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, IncompatiblePeer) and "host key" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


class _CheckPolicy(MissingHostKeyPolicy):  # type: ignore[misc,valid-type]
    """paramiko missing-host-key policy that runs DeviceHostKeys.verify (paramiko itself knows no keys)."""

    def __init__(self, keys: DeviceHostKeys) -> None:
        self._keys = keys

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        """Called by SSHClient.connect after the key exchange, before any authentication request."""
        try:
            self._keys.verify(key.asbytes())
        except HostKeyMismatchError as exc:
            self._keys.rejection = exc
            # An SSHException, so that netmiko closes the transport; open() raises the rejection itself.
            raise SSHException("host key rejected") from exc
