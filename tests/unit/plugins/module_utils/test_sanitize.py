"""Table tests for plugins/module_utils/sanitize.py on the lab configs (which carry real-looking secrets)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils import _deps, sanitize
from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup_commands import platform_commands
from ansible_collections.netops.nautobot_backup.plugins.module_utils.cleaning import clean_output
from ansible_collections.netops.nautobot_backup.plugins.module_utils.sanitize import (
    PLACEHOLDER,
    SanitizePatternError,
    filters_for,
    sanitize_config,
)

FIXTURES = Path(__file__).parent / "fixtures" / "configs"

# (platform, fixture, regexes whose group 1 is a secret present in the config, lines that must remain)
SECRETS = [
    (
        "cisco_ios",
        "cisco_ios_running_1.txt",
        [
            r"^enable secret 9 (\S+)",
            r"^username \S+ privilege 15 secret 9 (\S+)",
            r"^snmp-server community (\S+)",
            r"^ key 7 (\S+)",
        ],
        ["enable secret 9 <removed>", "snmp-server community <removed> RO SNMP-RO", " key 7 <removed>"],
    ),
    (
        "cisco_nxos",
        "cisco_nxos_running_1.txt",
        [r"^username \S+ password 5 (\S+)", r'^tacacs-server key 7 ("\S+")', r"^snmp-server community (\S+)"],
        ["username admin password 5 <removed>  role network-admin", "tacacs-server key 7 <removed>"],
    ),
    (
        "arista_eos",
        "arista_eos_running_1.txt",
        [
            r"^username \S+ .* secret sha512 (\S+)",
            r"^enable password sha512 (\S+)",
            r"^tacacs-server host \S+ key 7 (\S+)",
            r"^snmp-server community (\S+)",
        ],
        ["enable password sha512 <removed>", "tacacs-server host 10.0.0.50 key 7 <removed>"],
    ),
    (
        "juniper_junos",
        "juniper_junos_running_1.txt",
        [r'encrypted-password "([^"]+)"', r'^\s+secret "([^"]+)"', r"^\s+community (\S+) \{"],
        ['        encrypted-password "<removed>"; ## SECRET-DATA', '    community "<removed>" {'],
    ),
    (
        "cisco_xr",
        "cisco_xr_running_1.txt",
        [r"^ secret 10 (\S+)", r"^ key 7 (\S+)", r"^snmp-server community (\S+)"],
        [" secret 10 <removed>", "snmp-server community <removed> RO"],
    ),
    (
        "cisco_xe",
        "cisco_xe_running_1.txt",
        [r"^enable secret 9 (\S+)", r"^username admin .* secret 9 (\S+)", r"^ key 7 (\S+)", r"^ password 7 (\S+)"],
        [" password 7 <removed>"],
    ),
    (
        "cisco_asa",
        "cisco_asa_running_1.txt",
        [r"^enable password (\S+)", r"^username admin password (\S+)", r"^ key (\S+)", r"community (\S+)"],
        ["enable password <removed> pbkdf2", "username admin password <removed> pbkdf2 privilege 15"],
    ),
    (
        "hp_comware",
        "hp_comware_running_1.txt",
        [r"community read cipher (\S+)", r"key authentication cipher (\S+)", r"password hash (\S+)"],
        [" password hash <removed>", " key authorization cipher <removed>"],
    ),
    (
        "huawei_vrp",
        "huawei_running_1.txt",
        [r"irreversible-cipher (\S+)", r"shared-key cipher (\S+)", r"community read cipher (\S+)"],
        ["snmp-agent community read cipher <removed>"],
    ),
]


def cleaned(platform: str, name: str) -> str:
    """Return a fixture as the backup would store it before sanitizing."""
    return clean_output((FIXTURES / name).read_bytes().decode(), platform_commands(platform))


@pytest.mark.parametrize(("platform", "name", "finders", "expected_lines"), SECRETS)
def test_secrets_removed(platform, name, finders, expected_lines):
    text = cleaned(platform, name)
    secrets = [m.group(1) for rx in finders for m in re.finditer(rx, text, re.MULTILINE)]
    assert len(secrets) >= len(finders)  # every finder found at least one secret
    result = sanitize_config(text, platform)
    for secret in secrets:
        assert secret not in result
    assert result.count(PLACEHOLDER) >= len(secrets)
    lines = result.splitlines()
    for line in expected_lines:
        assert line in lines


@pytest.mark.parametrize(("platform", "name", "_finders", "_expected"), SECRETS)
def test_only_secret_lines_change_and_idempotent(platform, name, _finders, _expected):
    text = cleaned(platform, name)
    result = sanitize_config(text, platform)
    before, after = text.splitlines(), result.splitlines()
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        assert old == new or PLACEHOLDER in new
    assert sanitize_config(result, platform) == result
    assert sanitize_config(result, platform, [r"(?P<secret>\$9\$\S+)"]) == result


@pytest.mark.parametrize(
    ("platform", "line"),
    [
        ("cisco_ios", "key chain OSPF"),
        ("cisco_ios", " key 1"),  # a key id, not a secret
        ("cisco_ios", " key 7"),
        ("cisco_ios", "hostname secret-lab"),
        ("cisco_ios", " description password reset portal"),
        ("cisco_ios", "no service password-encryption"),
        ("juniper_junos", "        community CUST-A members 65000:100;"),  # a BGP community, not SNMP
        ("juniper_junos", "            then community add CUST-A;"),
        ("hp_comware", " password-recovery enable"),
    ],
)
def test_non_secrets_untouched(platform, line):
    assert sanitize_config(line + "\n", platform) == line + "\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("enable secret s3cr3t", "enable secret <removed>"),
        ("enable password 7 0822455D0A16", "enable password 7 <removed>"),
        ("enable secret level 5 5 $1$abc$def", "enable secret level 5 5 <removed>"),
        ("username bob password 0 Plain-Pass", "username bob password 0 <removed>"),
        ("username bob password 123456", "username bob password <removed>"),
        (" password 7 045802150C2E1D1C5A", " password 7 <removed>"),
        ("snmp-server host 10.0.0.9 version 2c Pub1ic", "snmp-server host 10.0.0.9 version 2c <removed>"),
        ("snmp-server host 10.0.0.9 traps version 1 Pub1ic", "snmp-server host 10.0.0.9 traps version 1 <removed>"),
        ("radius-server key 7 1234567890", "radius-server key 7 <removed>"),
        (" key 7 12345678901234", " key 7 <removed>"),  # an all-digit type 7 key is still a key
        (" key Plain-Key", " key <removed>"),
        (" key-string 7 0822455D0A16", " key-string 7 <removed>"),
        ("crypto isakmp key 0 psk-value address 0.0.0.0", "crypto isakmp key 0 <removed> address 0.0.0.0"),
        (" neighbor 10.0.0.2 password 7 0822455D0A16", " neighbor 10.0.0.2 password 7 <removed>"),
        (" ip ospf message-digest-key 1 md5 7 0822455D0A16", " ip ospf message-digest-key 1 md5 7 <removed>"),
        (
            "snmp-server user mon grp v3 auth sha AuthPass1 priv aes 128 PrivPass1",
            "snmp-server user mon grp v3 auth sha <removed> priv aes 128 <removed>",
        ),
    ],
)
def test_cisco_rules(line, expected):
    assert sanitize_config(line + "\n", "cisco_ios") == expected + "\n"
    assert sanitize_config(expected + "\n", "cisco_ios") == expected + "\n"


@pytest.mark.parametrize(
    ("patterns", "text", "expected"),
    [
        (
            [r"10\.0\.0\.\d+"],
            "ntp server 10.0.0.1\nntp server 10.0.0.2\n",
            "ntp server <removed>\nntp server <removed>\n",
        ),
        ([r"^banner motd .*$"], "banner motd Site BER1\nend\n", "<removed>\nend\n"),
        ([r"^ntp server (?P<secret>\S+)"], "ntp server 10.0.0.1\n", "ntp server <removed>\n"),
        ([r"(?:a|(?P<secret>b))"], "xa\nxb\n", "xa\nx<removed>\n"),  # group not in the match: kept
        ([r"(?P<secret>x?)y"], "y\n", "y\n"),  # empty secret group: nothing to hide
        ([r"z*"], "abc\n", "abc\n"),  # empty matches insert nothing
        (
            ["location (?P<secret>.+)$", "contact (?P<secret>.+)$"],
            "location A\ncontact B\n",
            "location <removed>\ncontact <removed>\n",
        ),
        ("location (?P<secret>.+)$", "location A\n", "location <removed>\n"),  # one pattern as a string
    ],
)
def test_user_patterns(patterns, text, expected):
    result = sanitize_config(text, "cisco_nxos", patterns)
    assert result == expected
    assert sanitize_config(result, "cisco_nxos", patterns) == result


def test_user_patterns_after_builtin_rules():
    text = cleaned("cisco_ios", "cisco_ios_running_1.txt")
    result = sanitize_config(text, "cisco_ios", [r"^snmp-server location (?P<secret>\S+)"])
    assert "snmp-server location <removed>" in result
    assert "enable secret 9 <removed>" in result


@pytest.mark.parametrize(
    ("pattern", "fragment"), [("[unclosed", "'[unclosed'"), ("(?P<x>a", "'(?P<x>a'"), ("", "non-empty")]
)
def test_invalid_user_pattern(pattern, fragment):
    with pytest.raises(SanitizePatternError) as err:
        sanitize_config("hostname r1\n", "cisco_ios", ["ok", pattern])
    assert fragment in str(err.value)
    assert err.value.pattern == pattern
    assert err.value.failure_class == "other"


def test_non_string_pattern():
    with pytest.raises(SanitizePatternError, match="non-empty string"):
        sanitize_config("hostname r1\n", "cisco_ios", [42])  # type: ignore[list-item]


def test_unknown_device_type_uses_every_rule():
    text = (
        'enable secret 5 $1$abc\n        encrypted-password "$6$x"; ## SECRET-DATA\n local-user a password cipher X\n'
    )
    assert sanitize_config(text, "fortinet").count(PLACEHOLDER) == 3
    assert len(filters_for("fortinet")) == sum(len(rules) for rules in sanitize.FILTERS.values())
    assert filters_for("cisco_ios_telnet") == filters_for("cisco_ios")


def test_rules_run_through_netutils(monkeypatch):
    seen = []

    def spy(config, filters):
        seen.append(filters)
        return config

    monkeypatch.setattr(sanitize, "netutils_sanitize", spy)
    assert sanitize_config("enable secret 5 x\n", "cisco_ios") == "enable secret 5 x\n"
    assert seen == [filters_for("cisco_ios")]
    assert all(set(item) == {"regex", "replace"} for item in seen[0])


def test_missing_netutils(monkeypatch):
    monkeypatch.setitem(_deps._IMPORT_ERRORS, "netutils", "No module named 'netutils'")
    with pytest.raises(_deps.MissingLibraryError, match="netutils"):
        sanitize_config("hostname r1\n", "cisco_ios")


def test_module_utils_import_without_netutils():
    """The modules must import where netutils is missing (ansible-test import sanity, minimal controllers)."""
    code = (
        "import sys; sys.modules['netutils'] = None\n"
        "from ansible_collections.netops.nautobot_backup.plugins.module_utils import "
        "backup_commands, cleaning, validation, sanitize\n"
        "c = backup_commands.platform_commands('cisco_ios')\n"
        "t = cleaning.clean_output('show running-config\\n!\\nhostname r1\\n!\\n!\\nend\\nr1#', c)\n"
        "validation.validate_config(t, c)\n"
        "print(sanitize.netutils_sanitize)\n"
    )
    paths = [p for p in sys.path if p]
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": ":".join(paths)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
