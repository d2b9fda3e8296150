"""Table tests for plugins/module_utils/command_jobs.py: template rendering, untrusted facts, errors, storage."""

from __future__ import annotations

from typing import List, Sequence, Tuple

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.command_jobs import (
    CommandsRequest,
    CommandTemplateError,
    format_outputs,
    render_commands,
    run_device_commands,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import ConnectionSettings, DeviceError

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
