"""Table tests for plugins/module_utils/validation.py: every rule, on real lab fault captures."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup_commands import platform_commands
from ansible_collections.netops.nautobot_backup.plugins.module_utils.cleaning import clean_output
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import FAILURE_CLASSES, NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.validation import (
    ERROR_MARKERS,
    InvalidOutputError,
    validate_config,
)

FIXTURES = Path(__file__).parent / "fixtures" / "configs"

GOOD = [
    ("cisco_ios", "running", "cisco_ios_running_1.txt"),
    ("cisco_ios", "running", "cisco_ios_running_transcript.txt"),
    ("cisco_ios", "startup", "cisco_ios_startup_1.txt"),
    ("cisco_ios", "running", "cisco_ios_unsaved_running.txt"),
    ("cisco_xe", "running", "cisco_xe_running_1.txt"),
    ("cisco_xe", "startup", "cisco_xe_startup.txt"),
    ("cisco_nxos", "running", "cisco_nxos_running_transcript.txt"),
    ("cisco_nxos", "startup", "cisco_nxos_startup_1.txt"),
    ("arista_eos", "running", "arista_eos_running_unstripped.txt"),
    ("arista_eos", "startup", "arista_eos_startup_1.txt"),
    ("juniper_junos", "running", "juniper_junos_running_1.txt"),
    ("juniper_junos", "running", "juniper_junos_running_unstripped.txt"),
    ("cisco_xr", "running", "cisco_xr_running_1.txt"),
    ("cisco_asa", "running", "cisco_asa_running_1.txt"),
    ("cisco_asa", "startup", "cisco_asa_startup.txt"),
    ("hp_comware", "running", "hp_comware_running_transcript.txt"),
    ("hp_comware", "startup", "hp_comware_startup.txt"),
    ("huawei_vrp", "running", "huawei_running_1.txt"),
    ("huawei_vrp", "startup", "huawei_startup.txt"),
]

# (platform, kind, fixture, rule, fragments of the message) -- real lab captures of each fault
FAULTS = [
    ("cisco_ios", "running", "cisco_ios_running_empty.txt", "empty", ["'show running-config'", "empty output"]),
    (
        "cisco_ios",
        "running",
        "cisco_ios_running_truncated.txt",
        "no_end_marker",
        ["'show running-config'", "the last line (line 114)", "end marker 'end'", "truncated"],
    ),
    (
        "cisco_ios",
        "startup",
        "cisco_ios_startup_invalid.txt",
        "error_message",
        ["'show startup-config'", "startup configuration", "line 2 matches the error marker 'invalid input'"],
    ),
    (
        "cisco_ios",
        "running",
        "cisco_ios_running_noenable.txt",
        "error_message",
        ["'show running-config'", "invalid input"],
    ),
    (
        "arista_eos",
        "running",
        "arista_eos_running_noenable.txt",
        "error_message",
        ["line 1 matches the error marker 'invalid input'"],
    ),
    (
        "juniper_junos",
        "running",
        "juniper_junos_startup_unsupported.txt",
        "error_message",
        ["line 2 matches the error marker 'unknown command'"],
    ),
    ("cisco_xr", "running", "cisco_xr_startup_unsupported.txt", "error_message", ["error marker 'invalid input'"]),
    ("cisco_ios", "running", "cisco_ios_running_paged.txt", "pager", ["line 26 of the raw output", "paging was not"]),
    (
        "juniper_junos",
        "running",
        "juniper_junos_running_paged.txt",
        "pager",
        ["line 26 of the raw output is a pager prompt", "'show configuration'"],
    ),
]


def fixture(name: str) -> str:
    """Return a fixture file's text exactly as captured."""
    return (FIXTURES / name).read_bytes().decode()


def check(platform: str, kind: str, raw: str, with_raw: bool = True, overrides=None) -> None:
    """Clean raw like the backup does and validate it."""
    cmds = platform_commands(platform, overrides)
    command = cmds.running if kind == "running" else cmds.startup
    validate_config(clean_output(raw, cmds, command=command), cmds, kind=kind, raw=raw if with_raw else None)


@pytest.mark.parametrize(("platform", "kind", "name"), GOOD)
def test_good_configs_pass(platform, kind, name):
    check(platform, kind, fixture(name))


@pytest.mark.parametrize(("platform", "kind", "name", "rule", "fragments"), FAULTS)
def test_lab_faults_are_invalid(platform, kind, name, rule, fragments):
    with pytest.raises(InvalidOutputError) as err:
        check(platform, kind, fixture(name))
    message = str(err.value)
    assert err.value.rule == rule
    assert f"rule '{rule}'" in message
    for fragment in fragments:
        assert fragment in message
    assert err.value.kind == kind
    assert err.value.failure_class == "invalid_output"
    assert err.value.failure_class in FAILURE_CLASSES
    assert isinstance(err.value, NautobotBackupError)
    # The message names the rule and a line number, never what the device printed.
    for line in fixture(name).splitlines():
        if len(line.strip()) > 3 and not line.strip().endswith(err.value.command):  # the command's echo
            assert line.strip() not in message, line


@pytest.mark.parametrize(
    ("platform", "name", "rule"),
    [
        # the pager prompt was erased by the device's backspaces: only raw shows it, but the
        # cut shows in the cleaned text too (IOS has no 'end', Junos has open blocks)
        ("cisco_ios", "cisco_ios_running_paged.txt", "no_end_marker"),
        ("juniper_junos", "juniper_junos_running_paged.txt", "unbalanced_braces"),
    ],
)
def test_pager_cut_is_caught_without_raw(platform, name, rule):
    with pytest.raises(InvalidOutputError) as err:
        check(platform, "running", fixture(name), with_raw=False)
    assert err.value.rule == rule


def test_pager_in_cleaned_text():
    """netmiko deletes backspaces without applying them: the pager prompt stays in the text."""
    raw = fixture("cisco_ios_running_paged.txt").replace("\x08", "")
    with pytest.raises(InvalidOutputError) as err:
        check("cisco_ios", "running", raw, with_raw=False)
    assert err.value.rule == "pager"


@pytest.mark.parametrize(
    "pager",
    [
        " --More-- ",
        "--More--",
        "---(more)---",
        "---(more 45%)---",
        "<--- More --->",
        "  ---- More ----",
        "-- MORE --, next",
    ],
)
def test_pager_prompts(pager):
    good = fixture("cisco_ios_running_1.txt")
    cmds = platform_commands("cisco_ios")
    with pytest.raises(InvalidOutputError, match="rule 'pager'"):
        validate_config(
            clean_output(good, cmds), cmds, raw=good.replace("logging buffered", pager + "\nlogging buffered")
        )


@pytest.mark.parametrize(
    "error_line",
    [
        "% Invalid input detected at '^' marker.",
        "% Invalid command at '^' marker.",
        "% Invalid input (at token 1: 'startup-config')",
        "% Incomplete command.",
        '% Ambiguous command:  "show r"',
        "% Authorization failed.",
        "Command authorization failed.",
        "% This command is not authorized",
        "% Permission denied for the role",
        "Permission denied",
        "% Access denied",
        "% Bad secrets",
        "% Unrecognized command found at '^' position.",
        "Error: Unrecognized command found at '^' position.",
        "unknown command.",
        "syntax error, expecting <command>.",
        "'sh' is ambiguous.",
        "error: could not open configuration database",
        "ERROR: % Invalid input detected at '^' marker.",
        "startup-config is not present",
        "%Error opening nvram:/startup-config (No such file or directory)",
        "% Non-volatile configuration memory invalid or not present",
    ],
)
def test_error_markers(error_line):
    cmds = platform_commands("cisco_ios")
    for text in (error_line + "\n", "         ^\n" + error_line + "\n"):
        with pytest.raises(InvalidOutputError, match="rule 'error_message'"):
            validate_config(text, cmds, kind="startup")


def test_error_marker_table_is_named():
    assert all(name and rx for name, rx in ERROR_MARKERS)


def test_error_after_a_partial_config():
    text = "".join(fixture("cisco_ios_running_1.txt").splitlines(keepends=True)[:60]) + "% Authorization failed.\n"
    with pytest.raises(InvalidOutputError, match="authorization failed"):
        validate_config(clean_output(text, platform_commands("cisco_ios")), platform_commands("cisco_ios"))


def test_more_in_a_description_is_no_pager():
    cmds = platform_commands("cisco_ios")
    text = clean_output(fixture("cisco_ios_running_1.txt"), cmds).replace(
        " description Router-ID", " description -- more uplinks -- see NET-42"
    )
    validate_config(text, cmds, raw=text)


def test_error_words_inside_a_config_are_fine():
    cmds = platform_commands("cisco_ios")
    lines = clean_output(fixture("cisco_ios_running_1.txt"), cmds).splitlines(keepends=True)
    banner = ["banner motd ^C\n", "Permission denied to unauthorized users.\n", "error: nothing\n", "^C\n"]
    validate_config("".join(lines[:40] + banner + lines[40:]), cmds)


@pytest.mark.parametrize(
    ("text", "min_lines", "ok"),
    [
        ("hostname r1\nend\n", 5, False),
        ("!\nhostname r1\n!\n!\nend\n", 5, True),
        ("!\nhostname r1\n\n\n\n\nend\n", 5, False),  # blank lines do not count
        ("hostname r1\nend\n", 2, True),
    ],
)
def test_min_lines(text, min_lines, ok):
    cmds = platform_commands("cisco_ios", {"min_lines": min_lines})
    if ok:
        validate_config(text, cmds)
    else:
        with pytest.raises(InvalidOutputError, match=rf"rule 'too_short': only \d non-empty line\(s\), .* {min_lines}"):
            validate_config(text, cmds)


BODY = "hostname r1\n!\ninterface Loopback0\n ip address 10.0.0.1 255.255.255.255\n!\n"


@pytest.mark.parametrize(
    ("platform", "last", "ok"),
    [
        ("cisco_ios", "end", True),
        ("cisco_ios", "end   ", True),
        ("cisco_ios", "!", False),
        ("cisco_ios", "endless", False),
        ("cisco_xe", "end", True),
        ("arista_eos", "end", True),
        ("arista_eos", "   mtu 9214", False),
        ("cisco_xr", "end", True),
        ("cisco_xr", "!", False),
        ("cisco_asa", ": end", True),
        ("cisco_asa", "end", False),
        ("hp_comware", "return", True),
        ("hp_comware", "#", False),
        ("huawei", "return", True),
        ("cisco_nxos", "  exec-timeout 15", True),  # NX-OS has no end marker
        ("juniper_junos", "system {\n}", True),  # Junos neither: braces instead
    ],
)
def test_end_marker_per_platform(platform, last, ok):
    cmds = platform_commands(platform)
    text = BODY + last + "\n"
    if ok:
        validate_config(text, cmds)
    else:
        with pytest.raises(InvalidOutputError, match="rule 'no_end_marker'"):
            validate_config(text, cmds)


def test_end_marker_override_off_accepts_truncated():
    raw = fixture("cisco_ios_running_truncated.txt")
    with pytest.raises(InvalidOutputError):
        check("cisco_ios", "running", raw)
    check("cisco_ios", "running", raw, overrides={"end_marker": None})


def test_end_marker_override_custom():
    cmds = platform_commands("cisco_nxos", {"end_marker": r"line vty|.*exec-timeout \d+"})
    validate_config(BODY + "line vty\n", cmds)
    with pytest.raises(InvalidOutputError, match=r"line 6\) does not match the end marker 'line vty\|"):
        validate_config(BODY + "line console\n", cmds)


COMMUNITY = "Comm-5ecret-9q"


@pytest.mark.parametrize(
    ("text", "raw", "rule", "where"),
    [
        # truncated: the last line (which a message quoting it would leak) carries the community
        (BODY + f"snmp-server community {COMMUNITY} RO\n", None, "no_end_marker", "the last line (line 6)"),
        # an error marker among config lines that carry it
        (f"snmp-server community {COMMUNITY} RO\n\n% Invalid input {COMMUNITY}\n" + BODY + "end\n", None,
         "error_message", "line 3 matches the error marker 'invalid input'"),
        (f"Error: snmp-server community {COMMUNITY} RW\n" + BODY + "end\n", None,
         "error_message", "line 1 matches the error marker 'error message'"),
        # a pager prompt next to it, in the raw output only
        (BODY + "end\n", f"snmp-server community {COMMUNITY} RO\n --More-- {COMMUNITY}\n", "pager",
         "line 2 of the raw output is a pager prompt"),
        (f"snmp-server community {COMMUNITY} RO\n", None, "too_short", "only 1 non-empty line(s)"),
        (f"snmp-server community {COMMUNITY} RO\nend\n", None, "too_short", "only 2 non-empty line(s)"),
    ],
    ids=["no_end_marker", "error_marker", "error_prefix", "pager", "too_short", "too_short_with_end"],
)
def test_messages_name_rule_and_line_never_the_content(text, raw, rule, where):
    with pytest.raises(InvalidOutputError) as err:
        validate_config(text, platform_commands("cisco_ios"), raw=raw)
    message = str(err.value)
    assert err.value.rule == rule and f"rule '{rule}'" in message and where in message, message
    assert COMMUNITY not in message and "snmp-server" not in message


def test_junos_braces_message_quotes_nothing():
    text = f'system {{\n    snmp {{ community "{COMMUNITY}"; }}\n'
    with pytest.raises(InvalidOutputError) as err:
        validate_config(text + "x;\ny;\nz;\n", platform_commands("juniper_junos"))
    assert err.value.rule == "unbalanced_braces" and COMMUNITY not in str(err.value)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("version 1;\nsystem {\n    host-name r1;\n}\ninterfaces {\n    lo0 {\n        unit 0;\n    }\n}\n", True),
        ("version 1;\nsystem {\n    host-name r1;\n}\ninterfaces {\n    lo0 {\n        unit 0;\n    }\n", False),
        ("version 1;\nsystem {\n    host-name r1;\n}\n}\ninterfaces {\n", False),  # closes before it opens
        ('version 1;\nsystem {\n    login {\n        message "a { b";\n    }\n}\n', True),  # braces in strings
        ("version 1;\nsystem {\n    /* {{ */\n    host-name r1; ## {\n}\nx;\n", True),  # and in comments
        ("set version 1\nset system host-name r1\nset system ntp server 10.0.0.1\nset a b\nset c d\n", True),
    ],
)
def test_junos_braces(text, ok):
    cmds = platform_commands("juniper_junos")
    if ok:
        validate_config(text, cmds)
    else:
        with pytest.raises(InvalidOutputError, match="rule 'unbalanced_braces'"):
            validate_config(text, cmds)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n"])
def test_empty(text):
    with pytest.raises(InvalidOutputError, match="rule 'empty'"):
        validate_config(text, platform_commands("juniper_junos"))


def test_message_names_startup_command_of_platform():
    cmds = platform_commands("hp_comware")
    with pytest.raises(InvalidOutputError) as err:
        validate_config("", cmds, kind="startup")
    assert err.value.command == "display saved-configuration"
    assert "'display saved-configuration' (startup configuration)" in str(err.value)


def test_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        validate_config(BODY + "end\n", platform_commands("cisco_ios"), kind="candidate")
