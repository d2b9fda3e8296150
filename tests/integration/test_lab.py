"""The SSH device lab behaves like real devices for netmiko's own drivers.

Every test talks to the session ``lab`` fixture (a real lab process) with netmiko's
``ConnectHandler`` or, for the pager, a raw paramiko shell, and checks what a backup
tool would see: prompts, configuration end markers, volatile lines, config changes,
``write memory`` and each fault.
"""

from __future__ import annotations

import re
import time
from typing import Any

import paramiko
import pytest
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadException

from lab.client import LabClient, LabError
from lab.platforms import get_platform, strip_volatile

pytestmark = pytest.mark.lab

PLATFORM_DEVICES = {
    "cisco_ios": ("ios-r1", "ios-r1#"),
    "cisco_nxos": ("nxos-s1", "nxos-s1#"),
    "arista_eos": ("eos-s1", "eos-s1#"),
    "juniper_junos": ("junos-r1", "netops@junos-r1>"),
    "cisco_xr": ("xr-r1", "RP/0/RP0/CPU0:xr-r1#"),
}
LAST_LINE = {"cisco_ios": "end", "arista_eos": "end", "cisco_xr": "end", "juniper_junos": "}"}
INVALID = "% Invalid input detected at '^' marker."


def show_config_cmd(platform: str) -> str:
    """Return the command that prints the running configuration."""
    return "show configuration" if platform == "juniper_junos" else "show running-config"


def connect(lab: LabClient, name: str, **overrides: Any) -> Any:
    """Open a netmiko connection to a lab device."""
    return ConnectHandler(**lab.netmiko_params(name, **overrides))


def canonical(platform: str, output: str) -> str:
    """Return device output without volatile lines, as the lab's running_config() gives it."""
    return strip_volatile(platform, output)


@pytest.mark.parametrize("platform", sorted(PLATFORM_DEVICES))
def test_platform_read_running_and_startup(lab: LabClient, platform: str) -> None:
    """Each platform: prompt, config end marker, volatile lines change between reads, startup."""
    name, prompt = PLATFORM_DEVICES[platform]
    cmd = show_config_cmd(platform)
    with connect(lab, name) as conn:
        conn.enable()
        assert conn.find_prompt() == prompt
        first = conn.send_command(cmd)
        second = conn.send_command(cmd)
        startup = conn.send_command("show startup-config")
        version = conn.send_command("show version")

    assert first != second, "volatile lines must differ between two reads"
    assert canonical(platform, first) == canonical(platform, second) == lab.running_config(name)
    diff = [a for a, b in zip(first.splitlines(), second.splitlines(), strict=False) if a != b]
    volatile = get_platform(platform).volatile
    assert diff and all(any(rx.match(line) for rx in volatile) for line in diff), diff
    if platform in LAST_LINE:
        assert first.rstrip().splitlines()[-1] == LAST_LINE[platform]
    assert f"hostname {name}" in first or f"host-name {name};" in first
    assert "secret" in first or "password" in first, "configs carry secrets for the sanitizers"
    assert len(first.splitlines()) > 100

    if get_platform(platform).has_startup:
        assert canonical(platform, startup) == lab.startup_config(name)
    elif platform == "juniper_junos":
        assert "unknown command." in startup
    else:
        assert INVALID in startup
    assert get_platform(platform).version in version


def test_ios_user_exec_cannot_show_config(lab: LabClient) -> None:
    """Without 'enable', IOS rejects show running-config with the caret error."""
    with connect(lab, "ios-r1") as conn:
        assert conn.find_prompt() == "ios-r1>"
        out = conn.send_command("show running-config")
        assert INVALID in out
        caret = out.splitlines()[0]
        assert caret.index("^") == len("ios-r1>show ")
        assert "Current privilege level is 1" in conn.send_command("show privilege")


def test_wrong_enable_secret_is_denied(lab: LabClient) -> None:
    """A wrong enable secret leaves the session in user exec ('% Access denied')."""
    with connect(lab, "ios-r1", secret="wrong") as conn:
        with pytest.raises(ValueError, match="enable mode"):
            conn.enable()
        assert conn.find_prompt() == "ios-r1>"


@pytest.mark.parametrize("name", ["ios-r2", "eos-s1", "nxos-s1"])
def test_config_change_then_write_memory(lab: LabClient, lab_restore: Any, name: str) -> None:
    """A change is visible in the next read; netmiko's save_config makes startup equal running."""
    platform = lab_restore(name)["platform"]
    with connect(lab, name) as conn:
        conn.enable()
        before = conn.send_command("show running-config")
        line = lab.change_config(name)
        after = conn.send_command("show running-config")
        assert line not in before and line in after
        assert canonical(platform, after) == lab.running_config(name)
        assert canonical(platform, conn.send_command("show startup-config")) != lab.running_config(name)
        conn.save_config()
        startup = conn.send_command("show startup-config")
    assert canonical(platform, startup) == lab.running_config(name) == lab.startup_config(name)
    assert line in startup


def test_set_running_config_and_control_write_memory(lab: LabClient, lab_restore: Any) -> None:
    """set_running_config replaces the config verbatim; write_memory via control saves it."""
    lab_restore("ios-r2")
    text = "\n".join(
        ["!", "hostname ios-r2", "!", "interface Loopback9", " ip address 10.9.9.9 255.255.255.255", "!"]
        + ["ntp server 10.0.0.9", "end", ""]
    )
    lab.set_running_config("ios-r2", text)
    assert lab.running_config("ios-r2") == text
    assert lab.write_memory("ios-r2") is True
    assert lab.startup_config("ios-r2") == text
    assert lab.write_memory("xr-r1") is False
    with connect(lab, "ios-r2") as conn:
        conn.enable()
        out = conn.send_command("show running-config")
    assert re.search(r"^ntp clock-period \d+$", out, re.M)
    assert canonical("cisco_ios", out) == text


def _read_until(chan: paramiko.Channel, marker: str, timeout: float = 10.0) -> str:
    """Read from a raw paramiko shell until marker appears."""
    data = ""
    deadline = time.monotonic() + timeout
    while marker not in data:
        if time.monotonic() > deadline:
            raise AssertionError(f"{marker!r} not seen in {data[-300:]!r}")
        if chan.recv_ready():
            data += chan.recv(65536).decode()
        else:
            time.sleep(0.01)
    return data


def test_paging_stops_at_more_until_terminal_length_0(lab: LabClient) -> None:
    """Without 'terminal length 0' output pauses at ' --More-- '; space continues, q stops."""
    dev = lab.entry("ios-r1")
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        dev["host"], port=dev["port"], username=dev["username"], password=dev["password"],
        look_for_keys=False, allow_agent=False,
    )  # fmt: skip
    try:
        chan = client.invoke_shell(width=200, height=1000)
        _read_until(chan, "ios-r1>")
        chan.send("enable\n")
        _read_until(chan, "Password: ")
        chan.send(dev["secret"] + "\n")
        _read_until(chan, "ios-r1#")
        chan.send("show running-config\n")
        page = _read_until(chan, " --More-- ")
        lines = page.split("\r\n")
        assert lines[0] == "show running-config"
        assert len(lines[1:-1]) == 24, lines
        assert lines[-1] == " --More-- "
        time.sleep(0.3)
        assert not chan.recv_ready(), "output must wait for a key at --More--"
        chan.send(" ")
        _read_until(chan, " --More-- ")
        chan.send("q")
        _read_until(chan, "ios-r1#")
        chan.send("terminal length 0\n")
        _read_until(chan, "ios-r1#")
        chan.send("show running-config\n")
        full = _read_until(chan, "\r\nend\r\nios-r1#")
        assert "--More--" not in full
    finally:
        client.close()


def test_fault_auth_failure(lab: LabClient) -> None:
    """auth_failure: netmiko raises its authentication exception."""
    with pytest.raises(NetmikoAuthenticationException):
        connect(lab, "ios-authfail")
    assert lab.wait_for_event("ios-authfail", "auth_failed")


def test_fault_no_banner(lab: LabClient) -> None:
    """no_banner: TCP connects but SSH never starts; netmiko times out."""
    lab.clear_log()  # earlier tests may have used this device with its fault cleared
    start = time.monotonic()
    with pytest.raises(NetmikoTimeoutException):
        connect(lab, "ios-nobanner", banner_timeout=1, conn_timeout=2, auth_timeout=2)
    assert time.monotonic() - start < 10
    events = [e["event"] for e in lab.connection_log(device="ios-nobanner")]
    assert "connect" in events and "auth_ok" not in events


def test_fault_disconnect_mid_output(lab: LabClient) -> None:
    """disconnect_mid_output: the connection drops while the config is printed."""
    with connect(lab, "ios-disconnect") as conn:
        conn.enable()
        assert "Cisco IOS XE" in conn.send_command("show version")
        # paramiko never reports the closed channel to netmiko's reader, so netmiko
        # ends with ReadTimeout (a ReadException), as it does with real devices.
        with pytest.raises((ReadException, OSError, EOFError)):
            conn.send_command("show running-config", read_timeout=3)
        assert not conn.is_alive()
    assert lab.wait_for_event("ios-disconnect", "disconnect")


def test_fault_invalid_startup(lab: LabClient) -> None:
    """invalid_startup: show startup-config answers with the invalid-input error."""
    with connect(lab, "ios-badstartup") as conn:
        conn.enable()
        assert INVALID in conn.send_command("show startup-config")
        assert conn.send_command("show running-config").rstrip().endswith("end")


def test_fault_empty_output(lab: LabClient) -> None:
    """empty_output: show running-config prints nothing but the prompt."""
    with connect(lab, "ios-empty") as conn:
        conn.enable()
        assert conn.send_command("show running-config").strip() == ""


def test_fault_truncated_output(lab: LabClient) -> None:
    """truncated_output: the config stops before the final 'end'; the prompt comes back."""
    with connect(lab, "ios-truncated") as conn:
        conn.enable()
        out = conn.send_command("show running-config")
        assert out.strip() and "\nend" not in out
        assert lab.running_config("ios-truncated").startswith(canonical("cisco_ios", out))
        assert "Cisco IOS XE" in conn.send_command("show version")


def test_fault_slow_output(lab: LabClient) -> None:
    """slow_output: the config arrives in delayed chunks but completes with a long read_timeout."""
    with connect(lab, "ios-slow") as conn:
        conn.enable()
        start = time.monotonic()
        out = conn.send_command("show running-config", read_timeout=30)
        elapsed = time.monotonic() - start
    assert out.rstrip().endswith("end")
    assert elapsed >= 2.0


def test_faults_can_be_set_and_cleared_at_runtime(lab: LabClient, lab_restore: Any) -> None:
    """set_faults changes behaviour immediately and is reflected in lab.json."""
    lab_restore("ios-r2")
    lab.set_faults("ios-r2", ["auth_failure"])
    assert lab.entry("ios-r2")["faults"] == ["auth_failure"]
    with pytest.raises(NetmikoAuthenticationException):
        connect(lab, "ios-r2")
    lab.set_faults("ios-r2", ["empty_output"])
    with connect(lab, "ios-r2") as conn:
        conn.enable()
        assert conn.send_command("show running-config").strip() == ""
    lab.set_faults("ios-r2", [])
    assert lab.device("ios-r2")["faults"] == []


def test_connection_log_records_connects_and_commands(lab: LabClient) -> None:
    """The log shows connect, auth_ok, each command and disconnect, but never secrets."""
    lab.clear_log()
    assert lab.connection_log() == []
    with connect(lab, "eos-s1") as conn:
        conn.enable()
        conn.send_command("show version")
    lab.wait_for_event("eos-s1", "disconnect")
    events = lab.connection_log(device="eos-s1")
    kinds = [e["event"] for e in events]
    assert kinds[:3] == ["connect", "auth_begin", "auth_ok"] and kinds[-1] == "disconnect"
    assert events[1]["username"] == lab.entry("eos-s1")["username"]
    commands = [e["command"] for e in events if e["event"] == "command"]
    assert "show version" in commands and "terminal length 0" in commands
    assert all(e["host"] == lab.entry("eos-s1")["host"] and e["peer"].startswith("127.") for e in events)
    assert lab.entry("eos-s1")["secret"] not in lab.log_path.read_text(encoding="utf-8")
    assert not lab.connection_log(device="ios-r1")


def _server_key(lab: LabClient, name: str) -> paramiko.PKey:
    """The host key a device presents (key exchange only: no authentication is attempted)."""
    dev = lab.entry(name)
    with paramiko.Transport((dev["host"], dev["port"])) as transport:
        transport.start_client(timeout=10)
        return transport.get_remote_server_key()


def test_set_host_key_changes_one_device_key_until_restore(lab: LabClient, lab_restore: Any) -> None:
    """set_host_key: a device presents a seed-derived key of the chosen type; snapshot/restore/reset undo it."""
    shared = lab.host_key("ios-r2")
    assert shared == lab.host_key("eos-s1"), "all devices share the lab's key by default"
    assert _server_key(lab, "ios-r2").fingerprint == shared["fingerprint"]
    lab_restore("ios-r2")
    lab.clear_log()
    own = lab.set_host_key("ios-r2", "seed-1")
    assert own["type"] == "ssh-ed25519" and own["fingerprint"] != shared["fingerprint"]
    assert _server_key(lab, "ios-r2").fingerprint == own["fingerprint"]
    assert lab.set_host_key("ios-r2", "seed-1") == own, "same seed, same key"
    assert _server_key(lab, "eos-s1").fingerprint == shared["fingerprint"], "other devices keep the lab's key"
    ecdsa = lab.set_host_key("ios-r2", "seed-1", "ecdsa-sha2-nistp256")
    key = _server_key(lab, "ios-r2")
    assert (key.get_name(), key.fingerprint) == ("ecdsa-sha2-nistp256", ecdsa["fingerprint"])
    assert lab.known_hosts_line("ios-r2").endswith(ecdsa["public_key"])
    assert not {e["event"] for e in lab.connection_log(device="ios-r2")} & {"auth_begin", "auth_ok", "auth_failed"}
    snap = lab.snapshot("ios-r2")
    lab.set_host_key("ios-r2", None)
    assert lab.host_key("ios-r2") == shared
    lab.restore("ios-r2", snap)
    assert lab.host_key("ios-r2") == ecdsa
    lab.reset_device("ios-r2")
    assert lab.host_key("ios-r2") == shared
    with pytest.raises(LabError, match="unknown host key type"):
        lab.set_host_key("ios-r2", "x", "ssh-dss")


def test_auth_begin_is_logged_before_the_password_is_checked(lab: LabClient) -> None:
    """A rejected login still logs auth_begin (with the user name, never the password) before auth_failed."""
    lab.clear_log()
    with pytest.raises(NetmikoAuthenticationException):
        connect(lab, "ios-authfail")
    lab.wait_for_event("ios-authfail", "auth_failed")
    events = lab.connection_log(device="ios-authfail")
    kinds = [e["event"] for e in events]
    assert kinds.index("auth_begin") < kinds.index("auth_failed"), kinds
    begin = events[kinds.index("auth_begin")]
    assert begin["username"] == lab.entry("ios-authfail")["username"] and "password" not in begin


def test_state_file_contract(lab: LabClient) -> None:
    """lab.json has the keys other code relies on, and every device shares the lab port."""
    state = lab.reload()
    assert {"pid", "port", "control", "log", "devices"} <= set(state)
    keys = {"name", "platform", "host", "port", "username", "password", "secret", "faults", "role", "site"}
    for dev in state["devices"]:
        assert keys | {"tenant", "tags"} <= set(dev)
        assert dev["port"] == lab.port
    assert [d["host"] for d in state["devices"][:2]] == ["127.1.0.1", "127.1.0.2"]
    assert lab.ping()["listening"] == len(state["devices"])
