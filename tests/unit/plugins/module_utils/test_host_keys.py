"""Tests for plugins/module_utils/host_keys.py: known_hosts parsing and lookup, the key check, pins, transports.

Keys, fingerprints and hashed known_hosts files come from OpenSSH's own ssh-keygen, so the parser and the
matcher are checked against what OpenSSH writes, not against this module's idea of it.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from typing import Dict, Tuple

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.host_keys import (
    PIN_DIR,
    HostKeyCheck,
    HostKeyMismatchError,
    KnownHostsError,
    KnownHostsFile,
    TransportRefusedError,
    fingerprint,
    host_matches,
    insecure_transport,
    key_type_of,
    known_hosts_name,
    parse_known_hosts,
    pin_path,
    refuse_insecure_transport,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.report import backed_up_files

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")

_KEYS: Dict[Tuple[str, str], Tuple[str, bytes, str]] = {}


def ssh_key(tmp_path_factory: pytest.TempPathFactory, name: str, key_type: str = "ed25519") -> Tuple[str, bytes, str]:
    """(public key line "type base64", blob, fingerprint by ssh-keygen) of a fresh key, cached per name."""
    if (name, key_type) not in _KEYS:
        path = tmp_path_factory.mktemp("keys") / name
        subprocess.run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", "", "-f", str(path)], check=True)
        line = " ".join(path.with_suffix(".pub").read_text().split()[:2])
        printed = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path.with_suffix(".pub"))],
                                 capture_output=True, text=True, check=True).stdout.split()[1]
        _KEYS[(name, key_type)] = (line, base64.b64decode(line.split()[1]), printed)
    return _KEYS[(name, key_type)]


@pytest.fixture
def keys(tmp_path_factory):
    return lambda name, key_type="ed25519": ssh_key(tmp_path_factory, name, key_type)


# ------------------------------------------------------------------------------- keys and names
@pytest.mark.parametrize("key_type, name", [("ed25519", "ssh-ed25519"), ("ecdsa", "ecdsa-sha2-nistp256"),
                                            ("rsa", "ssh-rsa")])
def test_key_type_and_fingerprint_match_ssh_keygen(keys, key_type, name):
    line, blob, printed = keys(f"k-{key_type}", key_type)
    assert key_type_of(blob) == name == line.split()[0]
    assert fingerprint(blob) == printed


@pytest.mark.parametrize("host, port, name", [("127.1.0.1", 22, "127.1.0.1"), ("R1.Example", 22, "r1.example"),
                                              ("127.1.0.1", 10022, "[127.1.0.1]:10022")])
def test_known_hosts_name_is_what_openssh_files(host, port, name):
    assert known_hosts_name(host, port) == name


@pytest.mark.parametrize("patterns, name, expected", [
    ("127.1.0.1", "127.1.0.1", True),
    ("[127.1.0.1]:10022", "[127.1.0.1]:10022", True),   # brackets are literal, not a character class
    ("[127.1.0.1]:10022", "127.1.0.1", False),
    ("a,b,[127.1.0.1]:10022", "[127.1.0.1]:10022", True),
    ("127.1.0.*", "127.1.0.77", True),
    ("127.1.0.?", "127.1.0.77", False),
    ("127.1.0.*,!127.1.0.5", "127.1.0.5", False),        # a matching negation wins
    ("R1.EXAMPLE", "r1.example", True),
])
def test_host_patterns(patterns, name, expected):
    assert host_matches(patterns, name) is expected


def test_hashed_names_written_by_ssh_keygen_are_found(keys, tmp_path):
    line, blob, _fp = keys("hashed")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.1.0.9]:2222 {line}\n127.1.0.8 {line}\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert "127.1.0" not in known.read_text(), "ssh-keygen -H hashes the names"
    parsed = KnownHostsFile.read(known)
    assert [k.blob for k in parsed.keys_for("[127.1.0.9]:2222")] == [blob]
    assert [k.blob for k in parsed.keys_for("127.1.0.8")] == [blob]
    assert parsed.keys_for("127.1.0.9") == []


def test_parser_skips_what_it_cannot_use_and_keeps_revoked_keys(keys):
    good, blob, _fingerprint = keys("good")
    other, other_blob, _fingerprint = keys("other")
    text = "\n".join([
        "# a comment", "", f"r1 {good} comment words", "r2 ssh-ed25519 not-base64!", "r3 ssh-ed25519",
        f"@cert-authority *.example {other}", f"@revoked r1 {other}",
    ])
    entries = parse_known_hosts(text, "file")
    assert [(e.patterns, e.key.blob, e.key.revoked, e.key.line) for e in entries] == [
        ("r1", blob, False, 3), ("r1", other_blob, True, 7),
    ]


# ------------------------------------------------------------------------------- the check
def _check(tmp_path, keys_text: str = "", pin: str = "", write: bool = True) -> HostKeyCheck:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    if pin:
        (repo / PIN_DIR).mkdir(exist_ok=True)
        (repo / PIN_DIR / "r1").write_text(pin)
    files = ()
    if keys_text:
        path = tmp_path / "known_hosts"
        path.write_text(keys_text)
        files = (KnownHostsFile.read(path, "known_hosts_file"),)
    return HostKeyCheck(files, repo, write)


def test_first_contact_is_trusted_and_pinned_once(keys, tmp_path):
    _line, blob, _fingerprint = keys("device")
    device = _check(tmp_path).for_device("r1", "127.1.0.1", 10022)
    device.verify(blob)
    assert device.save_pin(check_mode=True) == (None, True)
    assert not (tmp_path / "repo" / PIN_DIR).exists(), "check mode writes nothing"
    assert device.save_pin() == (".known_hosts/r1", True)
    pinned = (tmp_path / "repo" / ".known_hosts" / "r1").read_text()
    assert pinned.splitlines()[-1] == f"[127.1.0.1]:10022 ssh-ed25519 {base64.b64encode(blob).decode()}"
    again = _check(tmp_path).for_device("r1", "127.1.0.1", 10022)
    again.verify(blob)
    assert again.save_pin() == (".known_hosts/r1", False), "an existing pin is reported, never rewritten"


def test_a_changed_key_is_a_mismatch_naming_both_fingerprints_and_the_fix(keys, tmp_path):
    line, blob, old_fp = keys("device")
    _new_line, new_blob, new_fp = keys("intruder")
    device = _check(tmp_path, pin=f"[127.1.0.1]:10022 {line}\n").for_device("r1", "127.1.0.1", 10022)
    with pytest.raises(HostKeyMismatchError) as caught:
        device.verify(new_blob)
    message = str(caught.value)
    assert caught.value.failure_class == "host_key_mismatch"
    for part in ("r1 at 127.1.0.1:10022", "ssh-ed25519", new_fp, old_fp, ".known_hosts/r1 in the backup repository",
                 "delete .known_hosts/r1", "Nothing was sent to the device"):
        assert part in message, part
    assert device.save_pin() == (".known_hosts/r1", False)
    assert line in (tmp_path / "repo" / ".known_hosts" / "r1").read_text(), "the pin is never replaced"
    device.verify(blob)


def test_a_pin_belongs_to_the_device_not_to_its_address(keys, tmp_path):
    line, blob, _fingerprint = keys("device")
    moved = _check(tmp_path, pin=f"[127.1.0.1]:10022 {line}\n").for_device("r1", "203.0.113.9", 22)
    moved.verify(blob)
    with pytest.raises(HostKeyMismatchError):
        moved.verify(keys("intruder")[1])


def test_every_source_that_knows_the_type_must_agree(keys, tmp_path):
    line, blob, _fingerprint = keys("device")
    other, other_blob, _fingerprint = keys("intruder")
    # The known-hosts file vouches for the presented key, but the device's pin holds another one.
    device = _check(tmp_path, f"[127.1.0.1]:10022 {other}\n", pin=f"x {line}\n").for_device("r1", "127.1.0.1", 10022)
    with pytest.raises(HostKeyMismatchError, match="delete .known_hosts/r1"):
        device.verify(other_blob)
    # The pin vouches for it, but the known-hosts file holds another key for the address.
    with pytest.raises(HostKeyMismatchError, match=r"known_hosts_file line 1.*ssh-keygen -R"):
        device.verify(blob)
    # Two keys for one address in one file: either is accepted (as OpenSSH does).
    both = _check(tmp_path, f"[127.1.0.1]:10022 {line}\n[127.1.0.1]:10022 {other}\n").for_device("r9", "127.1.0.1",
                                                                                                 10022)
    both.verify(blob)
    both.verify(other_blob)


def test_a_key_of_another_type_than_the_known_ones_is_a_mismatch(keys, tmp_path):
    line, _blob, _fingerprint = keys("device")
    _ecdsa_line, ecdsa_blob, _fingerprint = keys("device-ecdsa", "ecdsa")
    device = _check(tmp_path, pin=f"x {line}\n").for_device("r1", "127.1.0.1", 22)
    assert device.host_key_algorithms() == {"ssh-ed25519"}, "only the known type is offered"
    with pytest.raises(HostKeyMismatchError):
        device.verify(ecdsa_blob)
    (tmp_path / "repo" / PIN_DIR / "r2").write_text(f"x {keys('device-rsa', 'rsa')[0]}\n")
    rsa = _check(tmp_path).for_device("r2", "h", 22)
    assert rsa.host_key_algorithms() == {"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}, "RSA keys: the SHA-2 algorithms"


def test_a_revoked_key_is_refused_even_without_other_keys(keys, tmp_path):
    line, blob, _fingerprint = keys("device")
    device = _check(tmp_path, f"@revoked * {line}\n").for_device("r1", "127.1.0.1", 22)
    with pytest.raises(HostKeyMismatchError, match="@revoked"):
        device.verify(blob)


def test_a_pin_without_a_usable_key_fails_closed(keys, tmp_path):
    device = _check(tmp_path, pin="# emptied\n").for_device("r1", "127.1.0.1", 22)
    with pytest.raises(KnownHostsError, match="holds no usable host key; delete it"):
        device.verify(keys("device")[1])


def test_read_only_pins_are_never_written(keys, tmp_path):
    device = _check(tmp_path, write=False).for_device("r1", "127.1.0.1", 22)
    device.verify(keys("device")[1])
    assert device.save_pin() == (None, False)
    assert not (tmp_path / "repo" / PIN_DIR).exists()


def test_a_pin_directory_symlinked_out_of_the_checkout_is_refused(keys, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    check = _check(tmp_path)
    (tmp_path / "repo" / PIN_DIR).symlink_to(outside)
    with pytest.raises(NautobotBackupError, match="outside the repository"):
        check.for_device("r1", "127.1.0.1", 22).verify(keys("device")[1])


@pytest.mark.parametrize("name, expected", [("ios-r1", ".known_hosts/ios-r1"), ("../../etc/passwd", None),
                                            ("r1 core\n[x] ssh-ed25519 AAAA", None)])
def test_pin_names_are_path_safe(name, expected):
    path = pin_path(name)
    if expected:
        assert path == expected
    assert path.startswith(".known_hosts/") and "/" not in path[len(".known_hosts/"):] and ".." not in path
    assert not any(char.isspace() for char in path)


def test_user_known_hosts_and_the_input_file(keys, tmp_path):
    line, blob, _fingerprint = keys("device")
    user = tmp_path / "home_known_hosts"
    user.write_text(f"127.1.0.1 {line}\n")
    check = HostKeyCheck.load(None, None, user_known_hosts=str(user))
    assert [k.source for k in check.for_device("r1", "127.1.0.1", 22).known_keys()] == [str(user)]
    with pytest.raises(KnownHostsError, match="does not exist"):
        HostKeyCheck.load(str(tmp_path / "missing"), None, user_known_hosts=str(user))
    assert HostKeyCheck.load(None, None, user_known_hosts=str(tmp_path / "none")).known_hosts == ()
    assert blob


# ------------------------------------------------------------------------------- transports and publish
@pytest.mark.parametrize("device_type, transport", [("cisco_ios", None), ("cisco_ios_telnet", "telnet"),
                                                    ("generic_termserver_telnet", "telnet"),
                                                    ("cisco_ios_serial", "serial"), ("juniper_junos", None)])
def test_insecure_transports(device_type, transport):
    assert insecure_transport(device_type) == transport
    if transport is None:
        refuse_insecure_transport(device_type, False, "r1")
        return
    with pytest.raises(TransportRefusedError) as caught:
        refuse_insecure_transport(device_type, False, "r1")
    assert caught.value.failure_class == "unsupported_platform"
    if transport == "telnet":
        assert "allow_telnet" in str(caught.value)
        refuse_insecure_transport(device_type, True, "r1")
    else:
        with pytest.raises(TransportRefusedError):
            refuse_insecure_transport(device_type, True, "r1")


def test_publish_commits_the_pins_of_backed_up_devices():
    results = {
        "r1": {"running_config_success": True, "running_config_file": "b/r1", "host_key_file": ".known_hosts/r1"},
        "r2": {"running_config_success": False, "host_key_file": ".known_hosts/r2"},
    }
    files, counts = backed_up_files(results)
    assert files == ["b/r1", ".known_hosts/r1"]
    assert counts == {"devices_backed_up": 1, "devices_failed": 1}
