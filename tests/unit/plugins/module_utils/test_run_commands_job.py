"""Table tests for plugins/module_utils/run_commands_job.py and device_jobs.execute: templates, errors, storage."""

from __future__ import annotations

from typing import List, Sequence, Tuple

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_jobs import CommandsRequest
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import ConnectionSettings, DeviceError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.run_commands_job import (
    CommandTemplateError,
    format_outputs,
    render_commands,
    run_device_commands,
)

FACTS = {"name": "ios-r1", "location": {"name": "BER1", "parent": {"name": "Berlin"}}, "tags": [{"name": "core"}]}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("show version", ["show version"]),
        (
            "show run | include hostname {{ nautobot.name }}\n\n  show clock  \n",
            ["show run | include hostname ios-r1", "show clock"],
        ),
        (
            "{% if nautobot.location.parent.name == 'Berlin' %}show version{% endif %}\nshow clock",
            ["show version", "show clock"],
        ),
        ("{% for tag in nautobot.tags %}show {{ tag.name }}\n{% endfor %}", ["show core"]),
        ("show interfaces {{ job_parameters.interface }}", ["show interfaces Gi1"]),
    ],
)
def test_render(template, expected):
    assert render_commands(template, FACTS, {"interface": "Gi1"}, "ios-r1") == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("", "no command template was given"),
        ("   \n", "no command template was given"),
        ("{% if false %}show version{% endif %}\n\n", "rendered to no command"),
        ("show {{ nautobot.serial }}", "failed to render: 'dict object' has no attribute 'serial'"),
        ("show {{ nope }}", "failed to render: 'nope' is undefined"),
        ("show {% if %}", "failed to render"),
        ("{{ ''.__class__.__mro__ }}", "failed to render"),
    ],
)
def test_render_errors_name_the_device(template, message):
    with pytest.raises(CommandTemplateError) as caught:
        render_commands(template, FACTS, {}, "ios-r1")
    assert str(caught.value).startswith("ios-r1: ") and message in str(caught.value)


def test_jinja_in_nautobot_data_is_never_executed():
    facts = {"name": "{{ 7 * 7 }}", "description": "{% for x in range(3) %}boom{% endfor %}"}
    commands = render_commands(
        "show run | include {{ nautobot.name }}\nshow {{ nautobot.description }}", facts, {}, "d"
    )
    assert commands == ["show run | include {{ 7 * 7 }}", "show {% for x in range(3) %}boom{% endfor %}"]


def _request(tmp_path=None, template="show version\nshow clock", **kw) -> CommandsRequest:
    settings = ConnectionSettings(host="127.0.0.1", device_type="cisco_ios", password="Secret-Pass-123")
    return CommandsRequest(
        device_name="ios-r1", settings=settings, template=template, facts=dict(FACTS), repo_dir=tmp_path, **kw
    )


def _runner(outputs: dict):
    calls: List[Tuple[Sequence[str], bool]] = []

    def run(settings, commands, enable):
        calls.append((list(commands), enable))
        return [(command, outputs.get(command, f"output of {command}")) for command in commands]

    run.calls = calls
    return run


def test_run_collects_outputs_in_order_with_enable_and_scrubs_secrets():
    run = _runner({"show clock": "10:00 Secret-Pass-123"})
    info = run_device_commands(_request(), run=run)
    assert info.success and info.error is None
    assert run.calls == [(["show version", "show clock"], True)]
    assert [(o.command, o.output) for o in info.outputs] == [
        ("show version", "output of show version"),
        ("show clock", "10:00 ********"),
    ]


def test_template_error_fails_before_contacting_the_device():
    run = _runner({})
    info = run_device_commands(_request(template="{{ nope }}"), run=run)
    assert not info.success and info.error_class == "other" and "nope" in info.error
    assert run.calls == []


def test_device_error_keeps_the_commands_and_class():
    def run(settings, commands, enable):
        raise DeviceError("authentication failed for user 'x' at 127.0.0.1:22", "auth_failed")

    info = run_device_commands(_request(), run=run)
    assert info.error_class == "auth_failed" and info.commands == ["show version", "show clock"] and not info.success


def test_rejected_command_is_invalid_output_with_outputs_kept():
    info = run_device_commands(
        _request(template="show bogus"),
        run=_runner({"show bogus": "        ^\n% Invalid input detected at '^' marker."}),
    )
    assert info.error_class == "invalid_output" and "'show bogus'" in info.error
    assert info.outputs[0].command == "show bogus"


def test_store_writes_once_then_reports_unchanged(tmp_path):
    run = _runner({})
    first = run_device_commands(
        _request(tmp_path, output_path_template="cmd/{location.parent.name}/{device_name}.txt"), run=run
    )
    assert first.output_file == "cmd/Berlin/ios-r1.txt" and first.changed
    text = (tmp_path / first.output_file).read_text()
    assert text == format_outputs(first.outputs) and text.startswith("### show version\noutput of show version\n")
    second = run_device_commands(
        _request(tmp_path, output_path_template="cmd/{location.parent.name}/{device_name}.txt"), run=run
    )
    assert not second.changed
    check = run_device_commands(_request(tmp_path / "other"), check_mode=True, run=run)
    assert check.changed and not (tmp_path / "other").exists()


def test_bad_output_path_is_a_device_error(tmp_path):
    info = run_device_commands(_request(tmp_path, output_path_template="../{device_name}"), run=_runner({}))
    assert not info.success and info.error


# Every character the issue lists, plus the rest of the refused categories (command_lines).
SPLITTERS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
OTHER_UNSAFE = ["\t", "\x00", "\x03", "\x1a", "\x1b", "\x1f", "\x7f", "\u200b", "\u202e", "\ufeff", "\ud800"]


@pytest.mark.parametrize("char", SPLITTERS + OTHER_UNSAFE, ids=lambda c: f"U+{ord(c[0]):04X}")
def test_a_value_with_a_line_break_or_control_character_fails_the_device(char):
    facts = dict(FACTS, serial=f"x{char}reload")
    with pytest.raises(CommandTemplateError) as caught:
        render_commands("show version | include {{ nautobot.serial }}", facts, {}, "ios-r1")
    message = str(caught.value)
    assert message.startswith("ios-r1: the value of nautobot.serial contains ")
    assert f"U+{ord(char[0]):04X}" in message and "was not contacted" in message
    assert "reload" not in message, "the untrusted value is never echoed"
    # The same value from job_parameters, or deep in a list, or changed by a filter.
    with pytest.raises(CommandTemplateError, match="the value of job_parameters.interface contains"):
        render_commands("show interfaces {{ job_parameters.interface }}", FACTS, {"interface": f"Gi1{char}"}, "d")
    with pytest.raises(CommandTemplateError, match=r"the value of nautobot.tags\[1\].name contains"):
        render_commands(
            "{% for t in nautobot.tags %}show {{ t.name }}\n{% endfor %}",
            {"tags": [{"name": "ok"}, {"name": f"a{char}b"}]},
            {},
            "d",
        )
    with pytest.raises(CommandTemplateError, match="the value of nautobot.serial contains"):
        render_commands("show {{ nautobot.serial | upper }}", facts, {}, "d")


@pytest.mark.parametrize("char", SPLITTERS[1:] + OTHER_UNSAFE, ids=lambda c: f"U+{ord(c[0]):04X}")
def test_a_template_line_with_a_control_character_is_refused(char):
    """Defence in depth: the template's own text may only break lines with a line feed."""
    if char in ("\r", "\r\n"):
        # Jinja reads the template's own CR and CRLF as line breaks (an AWX textarea sends CRLF).
        assert render_commands(f"show version{char}show clock", FACTS, {}, "d") == ["show version", "show clock"]
        return
    with pytest.raises(CommandTemplateError, match=r"^d: line 2 of the rendered command template contains U\+"):
        render_commands(f"show clock\nshow version{char}reload", FACTS, {}, "d")


def test_only_the_templates_own_lines_are_commands():
    template = (
        "{% macro show(what) %}show {{ what }}\nshow clock{% endmacro %}"
        "{{ show(nautobot.name) }}\n"
        "\tshow run | include {{ nautobot.location.name }}  \n"
    )
    assert render_commands(template, FACTS, {}, "ios-r1") == [
        "show ios-r1",
        "show clock",
        "show run | include BER1",
    ]
    facts = dict(FACTS, name="r1\nreload")
    with pytest.raises(CommandTemplateError, match="the value of nautobot.name contains U\\+000A"):
        render_commands(template, facts, {}, "ios-r1")


def test_a_computed_value_is_named_as_such():
    with pytest.raises(CommandTemplateError, match="a value an expression inserts contains U\\+000A"):
        render_commands("show {{ 'a' ~ '\\n' ~ 'reload' }}", FACTS, {}, "d")


def test_unsafe_value_fails_before_the_device_is_contacted_and_others_are_unaffected():
    run = _runner({})
    bad = _request(template="show run | include {{ nautobot.asset_tag }}")
    bad.facts = dict(FACTS, asset_tag="x\u2028reload")
    info = run_device_commands(bad, run=run)
    assert info.error_class == "other" and "U+2028 (line separator)" in info.error and run.calls == []
    good = _request(template="show run | include {{ nautobot.name }}")
    assert run_device_commands(good, run=run).success and run.calls == [(["show run | include ios-r1"], True)]


def test_execute_refuses_a_command_with_a_control_character():
    """check_queues and run_commands send commands through execute(): it checks each one first."""
    run = _runner({})
    info = run_device_commands(_request(template="show clock"), run=run)
    assert info.success
    from ansible_collections.netops.nautobot_backup.plugins.module_utils.command_lines import UnsafeCommandError
    from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_jobs import execute

    with pytest.raises(UnsafeCommandError, match="command 2 contains U\\+000D"):
        execute(_request(), ["show clock", "show run\rreload"], run=run)
    assert run.calls == [(["show clock"], True)]


def test_rejected_command_message_quotes_no_output():
    info = run_device_commands(
        _request(template="show bogus"),
        run=_runner({"show bogus": "snmp-server community Comm-5ecret RO\n        ^\n% Invalid input Comm-5ecret"}),
    )
    assert info.error == "the device rejected 1 command(s): 'show bogus' (output line 3 matches the error marker " \
        "'invalid input')"


def test_unexpected_error_fails_the_device_with_class_other_and_no_text():
    def run(settings, commands, enable):
        raise RuntimeError("snmp-server community Comm-5ecret RO")

    info = run_device_commands(_request(), run=run)
    assert info.error_class == "other" and info.error.startswith("unexpected RuntimeError at test_run_commands_job.py:")
    assert "Comm-5ecret" not in info.error and info.commands == ["show version", "show clock"]
