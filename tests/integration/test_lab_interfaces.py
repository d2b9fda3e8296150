"""The lab's 'show interfaces' per platform: ntc-templates parse it, and drop counters are settable per device."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from netmiko import ConnectHandler
from ntc_templates.parse import parse_output

from lab.client import LabClient
from lab.interfaces import INTERFACE_NAMES, check_drops
from lab.spec import SpecError, expand_spec
from testbed.procs import REPO_ROOT

PLATFORMS = [
    ("ios-r1", "cisco_ios", "show interfaces", "GigabitEthernet2", ("queue_drops", "queue_output_drops")),
    ("nxos-s1", "cisco_nxos", "show interface", "Ethernet1/1", ("input_discards", "output_discards")),
    ("eos-s1", "arista_eos", "show interfaces", "Ethernet2", None),
]


def _show(lab: LabClient, name: str, command: str) -> str:
    conn = ConnectHandler(**lab.netmiko_params(name))
    try:
        return conn.send_command(command)
    finally:
        conn.disconnect()


@pytest.mark.lab
@pytest.mark.parametrize(("name", "platform", "command", "interface", "fields"), PLATFORMS)
def test_show_interfaces_parses_and_drops_are_settable(
    lab: LabClient, lab_restore: Any, name: str, platform: str, command: str, interface: str, fields: Any
) -> None:
    lab_restore(name)
    before = _show(lab, name, command)
    rows = parse_output(platform=platform, command=command, data=before)
    assert [row["interface"] for row in rows] == list(INTERFACE_NAMES[platform])
    assert before == _show(lab, name, command), "counters are stable between reads"
    lab.set_queue_drops(name, {interface: {"input": 12, "output": 3456}})
    after = _show(lab, name, command)
    rows = {row["interface"]: row for row in parse_output(platform=platform, command=command, data=after)}
    if fields:  # ntc-templates reads the drop counters on IOS and NX-OS
        assert (rows[interface][fields[0]], rows[interface][fields[1]]) == ("12", "3456")
        others = [row for key, row in rows.items() if key != interface]
        assert all(row[fields[0]] == "0" and row[fields[1]] == "0" for row in others)
    else:  # EOS: the text carries them (the collection parses them with its own template)
        block = after.split(f"{interface} is up", 1)[1].split(" is up,", 1)[0]
        assert "12 input discards" in block and "3456 output discards" in block
    assert lab.device(name)["queue_drops"] == {interface: {"input": 12, "output": 3456}}


@pytest.mark.lab
def test_drops_restore_reset_and_cli(lab: LabClient, lab_restore: Any) -> None:
    lab_restore("ios-r2")
    snap = lab.snapshot("ios-r2")
    assert snap["queue_drops"] == {}
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "tests")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "set-drops",
            "ios-r2",
            "GigabitEthernet3",
            "--input",
            "4",
            "--output",
            "5",
            "--state-dir",
            str(lab.state_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        check=True,
    ).stdout
    assert "GigabitEthernet3 in=4 out=5" in out
    assert lab.device("ios-r2")["queue_drops"] == {"GigabitEthernet3": {"input": 4, "output": 5}}
    lab.restore("ios-r2", snap)
    assert lab.device("ios-r2")["queue_drops"] == {}
    with pytest.raises(Exception, match="unknown interface"):
        lab.set_queue_drops("ios-r2", {"Ethernet9": {"input": 1}})
    bad = subprocess.run(
        [sys.executable, "-m", "lab", "set-drops", "ios-r2", "Nope1", "--state-dir", str(lab.state_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        check=False,
    )
    assert bad.returncode != 0


def test_spec_queue_drops_are_validated() -> None:
    spec = expand_spec(
        {"devices": [{"name": "a", "platform": "arista_eos", "queue_drops": {"Ethernet1": {"input": 9}}}]}
    )
    assert spec.devices[0].options["queue_drops"] == {"Ethernet1": {"input": 9, "output": 0}}
    with pytest.raises(SpecError, match="unknown interface"):
        expand_spec({"devices": [{"name": "a", "platform": "cisco_ios", "queue_drops": {"Ethernet1": {}}}]})
    with pytest.raises(SpecError, match="must not be negative"):
        expand_spec(
            {"devices": [{"name": "a", "platform": "cisco_ios", "queue_drops": {"GigabitEthernet1": {"input": -1}}}]}
        )
    assert check_drops("juniper_junos", {}) == {}
