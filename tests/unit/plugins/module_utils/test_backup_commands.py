"""Table tests for plugins/module_utils/backup_commands.py: per-platform commands, aliases, overrides."""

from __future__ import annotations

import re

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup_commands import (
    OVERRIDE_KEYS,
    SUPPORTED_PLATFORMS,
    PlatformCommands,
    UnsupportedPlatformError,
    canonical_device_type,
    platform_commands,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import FAILURE_CLASSES, NautobotBackupError


@pytest.mark.parametrize(
    ("device_type", "running", "startup", "enable", "end_marker"),
    [
        ("cisco_ios", "show running-config", "show startup-config", True, "end"),
        ("cisco_xe", "show running-config", "show startup-config", True, "end"),
        ("cisco_nxos", "show running-config", "show startup-config", False, None),
        ("cisco_asa", "show running-config", "show startup-config", True, ": end"),
        ("arista_eos", "show running-config", "show startup-config", True, "end"),
        ("juniper_junos", "show configuration", None, False, None),
        ("cisco_xr", "show running-config", None, False, "end"),
        ("hp_comware", "display current-configuration", "display saved-configuration", False, "return"),
        ("huawei", "display current-configuration", "display saved-configuration", False, "return"),
        ("huawei_vrp", "display current-configuration", "display saved-configuration", False, "return"),
        ("huawei_vrpv8", "display current-configuration", "display saved-configuration", False, "return"),
    ],
)
def test_table(device_type, running, startup, enable, end_marker):
    cmds = platform_commands(device_type)
    assert (cmds.running, cmds.startup, cmds.enable, cmds.end_marker) == (running, startup, enable, end_marker)
    assert cmds is SUPPORTED_PLATFORMS[device_type]


@pytest.mark.parametrize("device_type", sorted(SUPPORTED_PLATFORMS))
def test_entries_are_consistent(device_type):
    cmds = SUPPORTED_PLATFORMS[device_type]
    assert cmds.min_lines >= 1
    for pattern in (*cmds.volatile, *([cmds.end_marker] if cmds.end_marker else [])):
        re.compile(pattern)
    # a platform without a startup configuration says why; one with it has no reason
    assert (cmds.startup is None) == bool(cmds.startup_missing_reason)


@pytest.mark.parametrize("device_type", sorted(SUPPORTED_PLATFORMS))
def test_keys_are_netmiko_device_types(device_type):
    netmiko_dispatcher = pytest.importorskip("netmiko.ssh_dispatcher")
    assert device_type in netmiko_dispatcher.CLASS_MAPPER


@pytest.mark.parametrize(
    ("volatile_line", "device_type"),
    [
        ("Building configuration...", "cisco_ios"),
        ("Current configuration : 3841 bytes", "cisco_xe"),
        ("! Last configuration change at 00:55:18 UTC Tue Nov 24 2026 by netops", "cisco_ios"),
        ("! NVRAM config last updated at 00:55:02 UTC Tue Nov 24 2026 by netops", "cisco_ios"),
        ("ntp clock-period 17180377", "cisco_xe"),
        ("Using 3815 out of 262144 bytes", "cisco_ios"),
        ("Using 1893 out of 33554432 bytes, uncompressed size = 4172 bytes", "cisco_xe"),
        ("!Command: show running-config", "cisco_nxos"),
        ("!Time: Tue Nov 24 00:55:19 2026", "cisco_nxos"),
        ("!Startup config saved at: Tue Nov 24 00:55:02 2026", "cisco_nxos"),
        ("! device: eos-s1 (vEOS-lab, EOS-4.30.1F)", "arista_eos"),
        ("! Startup-config last modified at Tue Nov 24 00:55:02 2026 by netops", "arista_eos"),
        (": Saved", "cisco_asa"),
        (": Written by enable_15 at 10:02:11.452 UTC Mon Nov 3 2025", "cisco_asa"),
        ("Cryptochecksum:5c2b0a1e 1f0c7a8b 9d3e4f50 6a7b8c9d", "cisco_asa"),
        ("## Last commit: 2026-11-24 00:55:22 UTC by netops", "juniper_junos"),
        ("{master:0}", "juniper_junos"),
        ("Tue Nov 24 00:55:23.344 UTC", "cisco_xr"),
        ("Mon Nov  3 09:00:00.001 CET", "cisco_xr"),
        ("!! Last configuration change at Tue Nov 24 00:55:23 2026 by netops", "cisco_xr"),
        ("!Last configuration was updated at 2025-11-03 10:12:44+00:00 by admin", "huawei"),
    ],
)
def test_volatile_lines(volatile_line, device_type):
    assert any(re.match(p, volatile_line) for p in platform_commands(device_type).volatile)


@pytest.mark.parametrize(
    ("config_line", "device_type"),
    [
        ("hostname ios-r1", "cisco_ios"),
        ("ntp server 10.0.0.1", "cisco_ios"),
        ("! boot system flash:/vEOS-lab.swi", "arista_eos"),
        ("version 23.2R1.13;", "juniper_junos"),
        (": Serial Number: JAD21470ABC", "cisco_asa"),
        ("!Software Version V800R021C10SPC600", "huawei"),
    ],
)
def test_config_lines_are_not_volatile(config_line, device_type):
    assert not any(re.match(p, config_line) for p in platform_commands(device_type).volatile)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("cisco_ios", "cisco_ios"),
        ("cisco_ios_telnet", "cisco_ios"),
        ("cisco_xe_ssh", "cisco_xe"),
        ("cisco_nxos_ssh", "cisco_nxos"),
        ("arista_eos_telnet", "arista_eos"),
        ("juniper", "juniper_junos"),
        ("hp_comware_ssh", "hp_comware"),
        ("h3c_comware", "hp_comware"),
        ("huawei_vrp_ssh", "huawei_vrp"),
        (" Cisco_IOS ", "cisco_ios"),
        ("cisco_iosxe", None),
        ("fortinet", None),
        ("", None),
    ],
)
def test_canonical_device_type(given, expected):
    assert canonical_device_type(given) == expected


@pytest.mark.parametrize("device_type", ["fortinet", "paloalto_panos", "linux", "", "cisco_ios_xe"])
def test_unknown_platform(device_type):
    with pytest.raises(UnsupportedPlatformError) as err:
        platform_commands(device_type)
    assert err.value.failure_class == "unsupported_platform"
    assert err.value.failure_class in FAILURE_CLASSES
    assert f"'{device_type}'" in str(err.value)
    assert "cisco_ios" in str(err.value)  # lists what is supported
    assert err.value.device_type == device_type
    assert isinstance(err.value, NautobotBackupError)


@pytest.mark.parametrize("overrides", [None, {}])
def test_no_overrides_returns_table_entry(overrides):
    assert platform_commands("cisco_ios", overrides) is SUPPORTED_PLATFORMS["cisco_ios"]


@pytest.mark.parametrize(
    ("device_type", "overrides", "expected"),
    [
        ("cisco_ios", {"running": "show running-config all"}, {"running": "show running-config all"}),
        ("cisco_ios", {"running": "  show run  "}, {"running": "show run"}),
        ("cisco_ios", {"end_marker": None}, {"end_marker": None}),
        ("cisco_nxos", {"end_marker": r"(?:end|\S.*)"}, {"end_marker": r"(?:end|\S.*)"}),
        ("cisco_ios", {"enable": False}, {"enable": False}),
        ("cisco_ios", {"min_lines": 50}, {"min_lines": 50}),
        (
            "cisco_ios",
            {"startup": None},
            {
                "startup": None,
                "startup_missing_reason": "startup configuration disabled by the 'startup' command override",
            },
        ),
        ("cisco_ios", {"startup": None, "startup_missing_reason": "no NVRAM"}, {"startup_missing_reason": "no NVRAM"}),
        (
            "juniper_junos",
            {"startup": "show configuration | display rollback 0"},
            {"startup": "show configuration | display rollback 0", "startup_missing_reason": None},
        ),
        (
            "juniper_junos",
            {"running": "show configuration | display set", "balanced_braces": False},
            {"balanced_braces": False},
        ),
        ("cisco_nxos", {"volatile": []}, {"volatile": ()}),
        ("cisco_nxos", {"volatile": ["^!Time"]}, {"volatile": ("^!Time",)}),
    ],
)
def test_overrides(device_type, overrides, expected):
    cmds = platform_commands(device_type, overrides)
    assert isinstance(cmds, PlatformCommands)
    for key, value in expected.items():
        assert getattr(cmds, key) == value
    assert SUPPORTED_PLATFORMS[device_type] != cmds  # the table itself is never changed


@pytest.mark.parametrize("extra", [["^logging host "], "^logging host ", ("^logging host ", r"^\s*description ")])
def test_volatile_extra_appends(extra):
    base = SUPPORTED_PLATFORMS["cisco_ios"].volatile
    cmds = platform_commands("cisco_ios", {"volatile_extra": extra})
    assert cmds.volatile[: len(base)] == base
    assert "^logging host " in cmds.volatile[len(base) :]


def test_volatile_and_volatile_extra_combine():
    cmds = platform_commands("cisco_ios", {"volatile": ["a"], "volatile_extra": ["b"]})
    assert cmds.volatile == ("a", "b")


def test_override_keys_cover_every_field():
    assert set(PlatformCommands.__dataclass_fields__) <= set(OVERRIDE_KEYS)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"runing": "show run"}, "unknown command override key(s) for 'cisco_ios': runing"),
        ({"foo": 1, "bar": 2}, "bar, foo"),
        ({"running": ""}, "'running'"),
        ({"running": None}, "'running'"),
        ({"running": ["show run"]}, "'running'"),
        ({"startup": 5}, "'startup'"),
        ({"enable": "yes"}, "true or false"),
        ({"min_lines": 0}, "positive integer"),
        ({"min_lines": True}, "positive integer"),
        ({"min_lines": "5"}, "positive integer"),
        ({"end_marker": "(end"}, "invalid regular expression"),
        ({"end_marker": ""}, "'end_marker'"),
        ({"volatile_extra": ["ok", "[unclosed"]}, "'volatile_extra'"),
        ({"volatile_extra": {"a": 1}}, "list of regular expressions"),
        ({"volatile": [None]}, "'volatile'"),
    ],
)
def test_invalid_overrides(overrides, fragment):
    with pytest.raises(NautobotBackupError) as err:
        platform_commands("cisco_ios", overrides)
    assert fragment in str(err.value)
    assert err.value.failure_class == "other"
    assert not isinstance(err.value, UnsupportedPlatformError)


def test_overrides_must_be_a_mapping():
    with pytest.raises(NautobotBackupError, match="must be a dict"):
        platform_commands("cisco_ios", ["running"])  # type: ignore[arg-type]


def test_unknown_platform_wins_over_overrides():
    with pytest.raises(UnsupportedPlatformError):
        platform_commands("fortinet", {"running": "show full-configuration"})
