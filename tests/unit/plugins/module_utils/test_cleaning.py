"""Table tests for plugins/module_utils/cleaning.py on real lab captures and real-world samples.

The fixtures under fixtures/configs/ were read from the device lab with netmiko
(``*_1``/``*_2``: two reads whose volatile lines differ; ``*_unstripped``: netmiko
with strip_prompt/strip_command off; ``*_transcript``/``*_paged``: raw paramiko
shell bytes with CRLF, echo, prompt and pager) or written by hand from real devices
(cisco_xe, cisco_asa, hp_comware, huawei). See fixtures/configs/README.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup_commands import platform_commands
from ansible_collections.netops.nautobot_backup.plugins.module_utils.cleaning import clean_output, unsaved_changes

FIXTURES = Path(__file__).parent / "fixtures" / "configs"
LAB_PLATFORMS = ("cisco_ios", "cisco_nxos", "arista_eos", "juniper_junos", "cisco_xr")


def fixture(name: str) -> str:
    """Return a fixture file's text exactly as captured (CR bytes included)."""
    return (FIXTURES / name).read_bytes().decode()


def clean(platform: str, name: str, **kwargs) -> str:
    """Clean a fixture with the platform's commands."""
    return clean_output(fixture(name), platform_commands(platform), **kwargs)


# (platform, first read, second read): same configuration, different volatile lines or framing.
SAME_CONFIG = [
    ("cisco_ios", "cisco_ios_running_1.txt", "cisco_ios_running_2.txt"),
    ("cisco_nxos", "cisco_nxos_running_1.txt", "cisco_nxos_running_2.txt"),
    ("cisco_nxos", "cisco_nxos_startup_1.txt", "cisco_nxos_startup_2.txt"),
    ("arista_eos", "arista_eos_running_1.txt", "arista_eos_running_2.txt"),
    ("juniper_junos", "juniper_junos_running_1.txt", "juniper_junos_running_2.txt"),
    ("cisco_xr", "cisco_xr_running_1.txt", "cisco_xr_running_2.txt"),
    ("cisco_xe", "cisco_xe_running_1.txt", "cisco_xe_running_2.txt"),
    ("cisco_asa", "cisco_asa_running_1.txt", "cisco_asa_running_2.txt"),
    ("huawei", "huawei_running_1.txt", "huawei_running_2.txt"),
    # netmiko without prompt/echo stripping, and raw CRLF shell transcripts
    ("cisco_ios", "cisco_ios_running_1.txt", "cisco_ios_running_unstripped.txt"),
    ("cisco_ios", "cisco_ios_running_1.txt", "cisco_ios_running_transcript.txt"),
    ("cisco_nxos", "cisco_nxos_running_1.txt", "cisco_nxos_running_unstripped.txt"),
    ("cisco_nxos", "cisco_nxos_running_1.txt", "cisco_nxos_running_transcript.txt"),
    ("arista_eos", "arista_eos_running_1.txt", "arista_eos_running_unstripped.txt"),
    ("juniper_junos", "juniper_junos_running_1.txt", "juniper_junos_running_unstripped.txt"),
    ("cisco_xr", "cisco_xr_running_1.txt", "cisco_xr_running_unstripped.txt"),
    ("hp_comware", "hp_comware_running_1.txt", "hp_comware_running_transcript.txt"),
]


@pytest.mark.parametrize(("platform", "first", "second"), SAME_CONFIG)
def test_two_reads_clean_to_identical_bytes(platform, first, second):
    assert fixture(first) != fixture(second)  # the reads really differ
    a, b = clean(platform, first), clean(platform, second)
    assert a.encode() == b.encode()
    assert len(a.splitlines()) > 40


@pytest.mark.parametrize("platform", LAB_PLATFORMS)
def test_matches_lab_canonical_config(platform):
    """The lab knows the canonical text; cleaning must reproduce it (trailing blanks trimmed)."""
    platforms = pytest.importorskip("lab.platforms")
    canonical = platforms.strip_volatile(platform, fixture(f"{platform}_running_1.txt"))
    expected = "".join(line.rstrip() + "\n" for line in canonical.splitlines())
    for name in (f"{platform}_running_1.txt", f"{platform}_running_unstripped.txt"):
        assert clean(platform, name) == expected


@pytest.mark.parametrize(
    ("platform", "name", "gone"),
    [
        ("cisco_ios", "cisco_ios_running_1.txt", ("Building configuration", "Current configuration", "clock-period")),
        ("cisco_ios", "cisco_ios_startup_1.txt", ("Using ", "! Last configuration change", "! NVRAM config")),
        ("cisco_xe", "cisco_xe_startup.txt", ("Using ", "Uncompressed configuration", "clock-period")),
        ("cisco_nxos", "cisco_nxos_running_1.txt", ("!Command:", "!Time:", "!Running configuration last done")),
        ("cisco_nxos", "cisco_nxos_startup_1.txt", ("!Startup config saved at",)),
        ("arista_eos", "arista_eos_running_1.txt", ("! Command:", "! device:", "! Startup-config")),
        ("juniper_junos", "juniper_junos_running_1.txt", ("## Last commit",)),
        ("cisco_xr", "cisco_xr_running_1.txt", (".344 UTC", "Building configuration", "!! IOS XR", "!! Last config")),
        ("cisco_asa", "cisco_asa_running_1.txt", (": Saved", ": Written by", "Cryptochecksum")),
        ("huawei", "huawei_running_1.txt", ("!Last configuration was",)),
    ],
)
def test_volatile_lines_dropped(platform, name, gone):
    raw, text = fixture(name), clean(platform, name)
    for fragment in gone:
        assert fragment in raw
        assert fragment not in text


@pytest.mark.parametrize(
    ("platform", "name", "first", "last"),
    [
        ("cisco_ios", "cisco_ios_running_transcript.txt", "!", "end"),
        ("cisco_ios", "cisco_ios_running_unstripped.txt", "!", "end"),
        (
            "cisco_nxos",
            "cisco_nxos_running_transcript.txt",
            "version 10.3(3) Bios:version",
            "    address-family ipv4 unicast",
        ),
        ("arista_eos", "arista_eos_running_unstripped.txt", "!", "end"),
        ("juniper_junos", "juniper_junos_running_unstripped.txt", "version 23.2R1.13;", "}"),
        ("cisco_xr", "cisco_xr_running_unstripped.txt", "!", "end"),
        ("hp_comware", "hp_comware_running_transcript.txt", "#", "return"),
    ],
)
def test_echo_and_prompt_stripped(platform, name, first, last):
    text = clean(platform, name)
    lines = text.split("\n")
    assert (lines[0], lines[-2], lines[-1]) == (first, last, "")
    assert "show running-config" not in text and "display current" not in text
    assert "\r" not in text


def test_junos_routing_engine_banner_before_prompt():
    raw = "show configuration\nversion 1;\nsystem {\n}\n\n{master:0}\nnetops@j1> "
    assert clean_output(raw, platform_commands("juniper_junos")) == "version 1;\nsystem {\n}\n"


def test_fixtures_really_are_raw():
    assert b"\r\n" in (FIXTURES / "cisco_ios_running_transcript.txt").read_bytes()
    assert b"\x08" in (FIXTURES / "cisco_ios_running_paged.txt").read_bytes()
    assert fixture("cisco_ios_running_unstripped.txt").rstrip().endswith("ios-r1#")


@pytest.mark.parametrize(
    ("raw", "command", "prompt", "expected"),
    [
        ("show running-config\n!\nhostname r1\nend\nr1#", None, None, "!\nhostname r1\nend\n"),
        ("r1#show running-config\n!\nhostname r1\nend\nr1#", None, None, "!\nhostname r1\nend\n"),
        ("\n\nr1#sh run\nhostname r1\nend\nr1#", "sh run", "r1#", "hostname r1\nend\n"),
        ("show startup-config\nhostname r1\nend\n", None, None, "hostname r1\nend\n"),
        ("hostname r1\nshow running-config\nend\n", None, None, "hostname r1\nshow running-config\nend\n"),
        ("hostname r1\nend\nRP/0/RP0/CPU0:r1#", None, "RP/0/RP0/CPU0:r1#", "hostname r1\nend\n"),
        ("show configuration\nversion 1;\n}\n\nnetops@j1> ", "show configuration", None, "version 1;\n}\n"),
        (
            "<HPE>display current-configuration\n#\n sysname HPE\nreturn\n<HPE>",
            "display current-configuration",
            None,
            "#\n sysname HPE\nreturn\n",
        ),
        ("#\n sysname HW\nreturn\n[~HW]", None, None, "#\n sysname HW\nreturn\n"),
        ("hostname r1\nend\nr1(config)#", None, None, "hostname r1\nend\n"),
        ("hostname r1\nend\nr1#", None, "other#", "hostname r1\nend\n"),
        ("hostname r1\n  ip address 10.0.0.1/24\n", None, None, "hostname r1\n  ip address 10.0.0.1/24\n"),
        ("r1#", None, None, ""),
        ("show running-config\nr1#", None, None, ""),
    ],
)
def test_echo_and_prompt(raw, command, prompt, expected):
    assert clean_output(raw, platform_commands("cisco_ios"), command=command, prompt=prompt) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\r\nb\r\n", "a\nb\n"),  # CRLF
        ("a\rb\rc", "a\nb\nc\n"),  # lone CR
        ("a\n\rb\n\rc", "a\nb\nc\n"),  # LF CR
        ("a\r\r\nb\r\r\r\nc", "a\nb\nc\n"),  # CR CR LF
        ("a\r\n\r\nb", "a\n\nb\n"),  # blank lines inside stay
        ("\n\n\na\nb\n\n\n", "a\nb\n"),  # surrounding blank lines go
        ("a   \nb\t\n", "a\nb\n"),  # trailing whitespace
        ("  indented\n", "  indented\n"),  # leading whitespace is configuration
        ("abc\x08\x08xy\n", "axy\n"),  # backspace edits the line
        ("\x08\x08abc\n", "abc\n"),  # stray backspaces at the start
        ("\x1b[32mgreen\x1b[0m text\n", "green text\n"),  # ANSI colour
        ("a\x1b[K\n", "a\n"),  # erase to end of line
        ("abc\x1b[2Dxy\n", "axy\n"),  # cursor left acts like backspaces
        ("  ---- More ----\x1b[16D                \x1b[16Dinterface X\n", "interface X\n"),  # Huawei pager erase
        (" --More-- " + "\x08" * 10 + " " * 10 + "\x08" * 10 + "line\n", "line\n"),  # IOS pager erase
        ("a\x00b\x07c\x7fd\n", "abcd\n"),  # other control characters
        ("", ""),
        ("\r\n\r\n   \r\n", ""),
    ],
)
def test_normalisation(raw, expected):
    assert clean_output(raw, platform_commands("cisco_nxos")) == expected


@pytest.mark.parametrize(("platform", "first", "_second"), SAME_CONFIG)
def test_deterministic_and_idempotent(platform, first, _second):
    cmds = platform_commands(platform)
    text = clean_output(fixture(first), cmds)
    assert clean_output(fixture(first), cmds) == text
    assert clean_output(text, cmds) == text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert text.strip("\n") and not text.startswith("\n")
    assert all(line == line.rstrip() for line in text.splitlines())


def test_volatile_extra_override_drops_lines():
    cmds = platform_commands("cisco_ios", {"volatile_extra": [r"snmp-server location "]})
    assert "snmp-server location" in clean("cisco_ios", "cisco_ios_running_1.txt")
    assert "snmp-server location" not in clean_output(fixture("cisco_ios_running_1.txt"), cmds)


def test_volatile_override_keeps_lines():
    cmds = platform_commands("cisco_ios", {"volatile": []})
    assert "ntp clock-period" in clean_output(fixture("cisco_ios_running_1.txt"), cmds)


# --- unsaved_changes -------------------------------------------------------------------

UNSAVED = [
    # real lab captures: after a config change without write memory, and after write memory
    ("cisco_ios", "cisco_ios_unsaved_running.txt", "cisco_ios_unsaved_startup.txt", True),
    ("cisco_ios", "cisco_ios_saved_running.txt", "cisco_ios_saved_startup.txt", False),
    ("cisco_nxos", "cisco_nxos_unsaved_running.txt", "cisco_nxos_unsaved_startup.txt", True),
    ("cisco_nxos", "cisco_nxos_saved_running.txt", "cisco_nxos_saved_startup.txt", False),
    ("arista_eos", "arista_eos_unsaved_running.txt", "arista_eos_unsaved_startup.txt", True),
    ("arista_eos", "arista_eos_saved_running.txt", "arista_eos_saved_startup.txt", False),
    # untouched devices: running and startup differ only in headers and volatile lines
    ("cisco_ios", "cisco_ios_running_1.txt", "cisco_ios_startup_1.txt", False),
    ("cisco_nxos", "cisco_nxos_running_2.txt", "cisco_nxos_startup_1.txt", False),
    ("arista_eos", "arista_eos_running_1.txt", "arista_eos_startup_2.txt", False),
    ("cisco_xe", "cisco_xe_running_1.txt", "cisco_xe_startup.txt", False),
    ("cisco_asa", "cisco_asa_running_1.txt", "cisco_asa_startup.txt", False),
    ("hp_comware", "hp_comware_running_transcript.txt", "hp_comware_startup.txt", False),
    ("huawei", "huawei_running_1.txt", "huawei_startup.txt", False),
    # a different device's running config is a difference
    ("cisco_ios", "cisco_ios_running_1.txt", "cisco_ios_saved_startup.txt", True),
]


@pytest.mark.parametrize(("platform", "running", "startup", "expected"), UNSAVED)
def test_unsaved_changes(platform, running, startup, expected):
    cmds = platform_commands(platform)
    assert unsaved_changes(clean(platform, running), clean(platform, startup), cmds) is expected


def test_unsaved_change_is_the_added_line():
    cmds = platform_commands("cisco_ios")
    running = clean("cisco_ios", "cisco_ios_unsaved_running.txt").splitlines()
    startup = clean("cisco_ios", "cisco_ios_unsaved_startup.txt").splitlines()
    assert [line for line in running if line not in startup] == ["logging host 10.250.0.2"]
    assert unsaved_changes("\n".join(running), "\n".join(startup), cmds)


@pytest.mark.parametrize(
    ("running", "startup", "expected"),
    [
        ("!\nhostname r1\n!\nend\n", "hostname r1\nend\n", False),  # separators only
        ("hostname r1\n\n\nend\n", "hostname r1\nend\n", False),  # blank lines only
        ("hostname r1   \nend\n", "hostname r1\nend\n", False),  # trailing blanks only
        ("Using 3815 out of 262144 bytes\nhostname r1\nend\n", "hostname r1\nend\n", False),
        ("!Startup config saved at: Tue Nov 24 2026\nhostname r1\nend\n", "hostname r1\nend\n", False),
        ("! NVRAM config last updated at 10:00\nhostname r1\nend\n", "hostname r1\nend\n", False),
        ("hostname r1\nlogging host 10.0.0.9\nend\n", "hostname r1\nend\n", True),
        ("hostname r1\nend\n", "hostname r2\nend\n", True),
        ("hostname r1\n ip address 10.0.0.1\nend\n", "hostname r1\nip address 10.0.0.1\nend\n", True),  # indent
        ("a\nb\n", "b\na\n", True),  # order matters
    ],
)
def test_unsaved_changes_synthetic(running, startup, expected):
    # volatile=() shows that header lines are ignored even when an override removed them from the list
    for cmds in (platform_commands("cisco_ios"), platform_commands("cisco_ios", {"volatile": []})):
        assert unsaved_changes(running, startup, cmds) is expected


def test_unsaved_changes_respects_volatile_extra():
    running, startup = "hostname r1\nlogging host 10.0.0.9\nend\n", "hostname r1\nend\n"
    cmds = platform_commands("cisco_ios", {"volatile_extra": ["logging host "]})
    assert unsaved_changes(running, startup, cmds) is False
