"""Tests for plugins/module_utils/queues.py against the lab's per-platform 'show interfaces' text."""

from __future__ import annotations

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup_commands import UnsupportedPlatformError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_jobs import CommandsRequest
from ansible_collections.netops.nautobot_backup.plugins.module_utils.queues import (
    QueueParseError,
    check_device_queues,
    parse_queue_drops,
    queue_parser,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import ConnectionSettings
from lab.interfaces import render

CASES = [
    ("cisco_ios", "GigabitEthernet2", "show interfaces"),
    ("cisco_xe", "GigabitEthernet2", "show interfaces"),
    ("cisco_nxos", "Ethernet1/1", "show interface"),
    ("arista_eos", "Ethernet2", "show interfaces"),
]


@pytest.mark.parametrize(("device_type", "interface", "command"), CASES)
def test_parse_and_flag(device_type, interface, command):
    lab_platform = "cisco_ios" if device_type == "cisco_xe" else device_type
    text = "\n".join(render(lab_platform, "dev1", {interface: {"input": 7, "output": 250}}))
    assert queue_parser(device_type).command == command
    rows = parse_queue_drops(device_type, text, threshold=100)
    assert len(rows) == 4
    by_name = {row.interface: row for row in rows}
    assert (by_name[interface].input_drops, by_name[interface].output_drops) == (7, 250)
    assert [row.interface for row in rows if row.over_threshold] == [interface]
    assert not any(row.over_threshold for row in parse_queue_drops(device_type, text, threshold=250))
    assert [row.interface for row in parse_queue_drops(device_type, text, threshold=6) if row.over_threshold] == [
        interface
    ]


def test_unsupported_platform_and_unparsable_output():
    with pytest.raises(UnsupportedPlatformError, match="juniper_junos"):
        queue_parser("juniper_junos")
    with pytest.raises(QueueParseError):
        parse_queue_drops("arista_eos", "% Invalid input", threshold=0)


def _request(device_type: str) -> CommandsRequest:
    return CommandsRequest(device_name="d", settings=ConnectionSettings(host="h", device_type=device_type), template="")


def test_check_device_fails_with_the_flagged_interfaces():
    text = "\n".join(render("cisco_nxos", "d", {"Ethernet1/2": {"input": 500, "output": 0}}))
    info = check_device_queues(_request("cisco_nxos"), 100, run=lambda s, c, e: [(c[0], text)])
    assert not info.success and info.flagged_interfaces == ["Ethernet1/2"]
    assert info.error == "1 interface(s) over the queue-drop threshold of 100: Ethernet1/2 (in 500, out 0)"
    assert info.commands == ["show interface"] and info.outputs == []
    ok = check_device_queues(_request("cisco_nxos"), 500, run=lambda s, c, e: [(c[0], text)])
    assert ok.success and ok.flagged_interfaces == [] and len(ok.interfaces) == 4


def test_check_device_errors_before_contact():
    def run(*_args):
        raise AssertionError("must not connect")

    assert check_device_queues(_request("juniper_junos"), 0, run=run).error_class == "unsupported_platform"
    assert "drop_threshold" in check_device_queues(_request("cisco_ios"), -1, run=run).error


def test_parse_error_quotes_no_device_output():
    """TextFSM's own message quotes the input line it stopped at; the device's error never does."""
    text = "Ethernet1/1 is up\nadmin state is up, Dedicated Interface\n  snmp-server community Comm-5ecret RO\n"
    with pytest.raises(QueueParseError) as caught:
        parse_queue_drops("cisco_nxos", text, threshold=0)
    assert "Comm-5ecret" in str(caught.value.__cause__)
    assert str(caught.value) == "cannot parse the output of 'show interface' with its TextFSM template"


def test_no_nautobot_value_or_template_reaches_the_commands():
    """check_queues sends its table's command only, whatever the facts and the template hold."""
    request = _request("cisco_ios")
    request.facts = {"name": "d\nreload", "asset_tag": "x\u2028reload", "serial": "x\rreload"}
    request.template = "reload\n{{ nautobot.name }}"
    request.job_parameters = {"template": "reload", "interface": "Gi1\nreload"}
    sent = []

    def run(settings, commands, enable):
        sent.extend(commands)
        return [(commands[0], "\n".join(render("cisco_ios", "d", {})))]

    assert check_device_queues(request, 0, run=run).success
    assert sent == ["show interfaces"]


def test_unexpected_error_is_the_devices_failure():
    def run(*_args):
        raise KeyError("snmp-server community Comm-5ecret")

    info = check_device_queues(_request("cisco_ios"), 0, run=run)
    assert info.error_class == "other" and info.error.startswith("unexpected KeyError at ")
    assert "Comm-5ecret" not in info.error
