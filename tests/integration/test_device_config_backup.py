"""device_config_backup and device_config_backup_batch against the SSH device lab (all five platforms).

The inventory is a plain static YAML file: the modules must work with any inventory.
Each run records every host's result (failed hosts included) into a JSON file. Every test
runs twice: with the per-host module (one task per host) and with the batch module (one
task for the play batch, per-host results in its ``hosts``), which must behave the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from testbed.ansible_run import lab_inventory, run_playbook

pytestmark = [pytest.mark.lab]

GOOD = ["ios-r1", "nxos-s1", "eos-s1", "junos-r1", "xr-r1"]
NO_STARTUP = {"junos-r1", "xr-r1"}

PLAYBOOK = """
- name: Back up the lab
  hosts: all
  gather_facts: false
  tasks:
    - name: Back up one device
      netops.nautobot_backup.device_config_backup:
        repo_dir: "{{ repo_dir }}"
        running_path_template: "{{ running_path_template | default(omit) }}"
        show_diff: "{{ show_diff | default(false) }}"
        banner_timeout: 3
        auth_timeout: 5
        read_timeout: "{{ read_timeout | default(15) }}"
      register: backup
      ignore_errors: true

    - name: Record every host's result
      ansible.builtin.copy:
        content: "{{ dict(ansible_play_hosts_all | zip(results)) | to_nice_json }}"
        dest: "{{ results_file }}"
        mode: "0600"
      delegate_to: localhost
      run_once: true
      check_mode: false
      vars:
        results: "{{ ansible_play_hosts_all | map('extract', hostvars, 'backup') }}"
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""


BATCH_PLAYBOOK = """
- name: Back up the lab in one batch
  hosts: all
  gather_facts: false
  tasks:
    - name: Back up every device of the play
      netops.nautobot_backup.device_config_backup_batch:
        repo_dir: "{{ repo_dir }}"
        running_path_template: "{{ running_path_template | default(omit) }}"
        show_diff: "{{ show_diff | default(false) }}"
        banner_timeout: 3
        auth_timeout: 5
        read_timeout: "{{ read_timeout | default(15) }}"
        workers: "{{ workers | default(50) }}"
        processes: "{{ processes | default(0) }}"
      register: backup
      run_once: true

    - name: Record every host's result
      ansible.builtin.copy:
        content: "{{ backup.hosts | to_nice_json }}"
        dest: "{{ results_file }}"
        mode: "0600"
      delegate_to: localhost
      run_once: true
      check_mode: false
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""


class Runner:
    """Runs the backup playbook (per-host or batch) on chosen lab hosts and returns per-host results."""

    def __init__(self, lab, tmp_path: Path, mode: str = "per_host") -> None:
        self.lab = lab
        self.tmp = tmp_path
        self.mode = mode
        self.repo = tmp_path / "repo"
        self.repo.mkdir(exist_ok=True)
        self.playbook = tmp_path / f"backup_{mode}.yml"
        self.playbook.write_text(PLAYBOOK if mode == "per_host" else BATCH_PLAYBOOK, encoding="utf-8")
        # "forked": the batch dealt out to 3 forked processes (below 100 devices it would not fork by itself).
        self.defaults: Dict[str, Any] = {"processes": 3} if mode == "forked" else {}
        self.last: Any = None

    def run(self, hosts, host_vars: Optional[Dict[str, Dict[str, Any]]] = None, args=(), **extra) -> Dict[str, Any]:
        devices = [d for d in self.lab.devices if d["name"] in set(hosts)]
        inventory = lab_inventory(devices, self.tmp / "inventory.yml", host_vars=host_vars)
        results = self.tmp / "results.json"
        results.unlink(missing_ok=True)
        self.last = run_playbook(
            self.playbook,
            inventory,
            extra_vars={"repo_dir": str(self.repo), "results_file": str(results), **self.defaults, **extra},
            args=args,
        )
        assert results.exists(), self.last.stdout + self.last.stderr
        return json.loads(results.read_text(encoding="utf-8"))

    def file(self, relative: str) -> bytes:
        return (self.repo / relative).read_bytes()


@pytest.fixture(params=["per_host", "batch", "forked"])
def runner(request, lab, tmp_path):
    return Runner(lab, tmp_path, mode=request.param)


def test_first_run_writes_then_rerun_is_unchanged_and_byte_identical(runner):
    first = runner.run(GOOD)
    for name in GOOD:
        result = first[name]
        assert not result.get("failed"), result
        assert result["changed"] is True
        assert result["running_config_success"] is True
        assert result["running_config_file"] == f"backups/{name}.running-config"
        assert result["running_config_bytes"] == len(runner.file(result["running_config_file"]))
        if name in NO_STARTUP:
            assert result["startup_config_success"] is False
            assert result["startup_config_reason"]
        else:
            assert result["startup_config_success"] is True
            assert result["unsaved_changes"] is False
        assert result["host_key_file"] == f".known_hosts/{name}", "host key checking is on by default: pinned"
    before = {p: p.read_bytes() for p in runner.repo.rglob("*") if p.is_file()}
    assert len(before) == len(GOOD) * 2 - len(NO_STARTUP) + len(GOOD)  # configs and one pin per device

    second = runner.run(GOOD)  # the devices' volatile lines (timestamps, byte counts) changed meanwhile
    assert all(second[name]["changed"] is False for name in GOOD), second
    after = {p: p.read_bytes() for p in runner.repo.rglob("*") if p.is_file()}
    assert after == before
    assert not list(runner.repo.rglob("*.tmp"))


def test_config_change_shows_as_changed_with_the_diff(runner, lab, lab_restore):
    runner.run(GOOD)
    for name in ("ios-r1", "junos-r1"):
        lab_restore(name)
    added = {name: lab.change_config(name) for name in ("ios-r1", "junos-r1")}
    results = runner.run(GOOD, args=["--diff"], show_diff=True)  # without show_diff the diff names the file only
    for name in GOOD:
        assert results[name]["changed"] is (name in added), name
    for name, line in added.items():
        assert line.strip() in runner.file(f"backups/{name}.running-config").decode()
        assert f"+{line.rstrip()}" in runner.last.stdout or f"+ {line.strip()}" in runner.last.stdout
    assert results["ios-r1"]["unsaved_changes"] is True  # running changed, startup not saved
    assert results["ios-r1"]["startup_config_success"] is True


@pytest.mark.parametrize(
    ("device", "fault", "error_class", "message"),
    [
        ("ios-authfail", ["auth_failure"], "auth_failed", "authentication failed"),
        ("ios-nobanner", ["no_banner"], "timeout", "no SSH banner"),
        ("ios-disconnect", ["disconnect_mid_output"], "unreachable", "closed the session"),
        ("ios-empty", ["empty_output"], "invalid_output", ""),
        ("ios-truncated", ["truncated_output"], "invalid_output", "end"),
    ],
)
def test_fault_keeps_previous_file_and_classifies(runner, lab, lab_restore, device, fault, error_class, message):
    lab_restore(device)
    lab.set_faults(device, [])
    good = runner.run([device, "ios-r1"])
    assert good[device]["running_config_success"] is True, good[device]
    previous = runner.file(f"backups/{device}.running-config")

    lab.set_faults(device, fault)
    lab.change_config(device)  # a real change the failed run must not half-write
    results = runner.run([device, "ios-r1", "eos-s1"], read_timeout=6)
    failed = results[device]
    assert failed["failed"] is True
    assert failed["error_class"] == error_class, failed
    assert message in failed["error"]
    assert failed["running_config_success"] is False
    assert runner.file(f"backups/{device}.running-config") == previous
    assert results["ios-r1"]["running_config_success"] is True  # the others in the same play succeed
    assert results["eos-s1"]["running_config_success"] is True


def test_invalid_input_on_running_command_keeps_previous_file(runner):
    runner.run(["ios-r2"])
    previous = runner.file("backups/ios-r2.running-config")
    typo = {"ios-r2": {"nautobot_backup_commands": {"running": "show runing-config"}}}
    results = runner.run(["ios-r2", "ios-r1"], host_vars=typo)
    assert results["ios-r2"]["error_class"] == "invalid_output"
    # The rule and the line, never the device's text (issue #12: no config text in messages).
    assert "matches the error marker 'invalid input'" in results["ios-r2"]["error"]
    assert runner.file("backups/ios-r2.running-config") == previous
    assert results["ios-r1"]["running_config_success"] is True


def test_rejected_startup_keeps_running_backup(runner):
    results = runner.run(["ios-badstartup"])
    result = results["ios-badstartup"]
    assert result["running_config_success"] is True and not result.get("failed")
    assert result["startup_config_success"] is False
    assert "matches the error marker 'invalid input'" in result["startup_config_reason"]
    assert result["unsaved_changes"] is None
    assert not (runner.repo / "backups/ios-badstartup.startup-config").exists()


def test_slow_output_completes(runner):
    result = runner.run(["ios-slow"], read_timeout=30)["ios-slow"]
    assert result["running_config_success"] is True, result


def test_check_mode_writes_nothing(runner):
    results = runner.run(["ios-r1", "xr-r1"], args=["--check"])
    assert all(r["changed"] is True and r["running_config_success"] for r in results.values())
    assert not [p for p in runner.repo.rglob("*") if p.is_file()]


def test_secrets_never_in_output_or_results(runner, lab):
    device = lab.entry("ios-r1")
    results = runner.run(GOOD + ["ios-authfail"], args=["-vvv"])
    text = runner.last.stdout + runner.last.stderr + json.dumps(results)
    for secret in (device["password"], device["secret"]):
        assert secret not in text


def test_network_os_from_a_static_inventory(runner, lab, tmp_path):
    devices = [d for d in lab.devices if d["name"] in GOOD]
    inventory = lab_inventory(devices, tmp_path / "netos.yml", use_network_os=True)
    results_file = tmp_path / "netos.json"
    run = run_playbook(
        runner.playbook, inventory, extra_vars={"repo_dir": str(runner.repo), "results_file": str(results_file)}
    )
    results = json.loads(results_file.read_text(encoding="utf-8"))
    assert all(results[name]["running_config_success"] for name in GOOD), run.stdout


def test_unknown_platform_fails_that_device_only(runner):
    unknown = {"nxos-s1": {"netmiko_device_type": None, "nautobot": {"platform": {"name": "Mystery OS"}}}}
    results = runner.run(["ios-r1", "nxos-s1"], host_vars=unknown)
    assert results["nxos-s1"]["error_class"] == "unsupported_platform"
    assert "Mystery OS" in results["nxos-s1"]["error"]
    assert results["ios-r1"]["running_config_success"] is True


# ---------------------------------------------------------------- batch only


@pytest.fixture
def batch(lab, tmp_path):
    return Runner(lab, tmp_path, mode="batch")


def _device_fields(result: Dict[str, Any]) -> Dict[str, Any]:
    """The DeviceBackupInfo fields of a result (what the report and the write-back read)."""
    keys = (
        "device_name device_ip platform nautobot_fetch_success ssh_connection_success running_config_success "
        "startup_config_success startup_config_reason running_config_bytes startup_config_bytes running_config_file "
        "startup_config_file unsaved_changes error_class"
    ).split()
    return {key: result.get(key) for key in keys}


def test_batch_gives_the_per_host_results_and_files(lab, tmp_path):
    """Same hosts, once per host and once in a batch: same DeviceBackupInfo per host, byte-identical files."""
    hosts = GOOD + ["ios-authfail", "ios-badstartup"]
    for sub in ("per_host", "batch", "forked"):
        (tmp_path / sub).mkdir()
    per_host = Runner(lab, tmp_path / "per_host", mode="per_host")
    one = per_host.run(hosts)
    files = sorted(p.relative_to(per_host.repo) for p in per_host.repo.rglob("*") if p.is_file())
    # "forked": the same batch dealt out to 3 processes must give the same results and files.
    order: List[str] = []
    for mode in ("batch", "forked"):
        batch = Runner(lab, tmp_path / mode, mode=mode)
        many = batch.run(hosts)
        order = order or list(many)
        assert list(many) == order, mode  # the play batch's order, however the devices were shared out
        assert set(one) == set(many) == set(hosts)
        for host in hosts:
            assert _device_fields(many[host]) == _device_fields(one[host]), (mode, host)
            assert bool(many[host].get("failed")) is bool(one[host].get("failed")) is (host == "ios-authfail")
            assert many[host]["msg"] == one[host]["msg"]
        assert files == sorted(p.relative_to(batch.repo) for p in batch.repo.rglob("*") if p.is_file())
        for relative in files:
            if "badstartup" not in str(relative):
                assert per_host.file(str(relative)) == batch.file(str(relative)), (mode, relative)
        # A device failure is data: the batch task itself succeeded, and a progress line names each device.
        assert batch.last.returncode == 0, batch.last.stdout
        assert "ok=2" in batch.last.stdout and "failed=0" in batch.last.stdout
        for host in hosts:
            state = r"failed \(auth_failed\): .*authentication failed" if host == "ios-authfail" else r"ok \(changed\)"
            assert re.search(rf"^\[\d/{len(hosts)}\] {host} {state}", batch.last.stdout, re.MULTILINE), host


def test_batch_per_host_paths_and_commands_from_hostvars(batch):
    host_vars = {
        "ios-r1": {"nautobot": {"location": {"name": "Berlin"}}, "nautobot_backup_commands": {"startup": None}},
        "eos-s1": {"nautobot": {"location": {"name": "Paris"}}},
    }
    results = batch.run(
        ["ios-r1", "eos-s1"], host_vars=host_vars, running_path_template="{location.name}/{device_name}.cfg"
    )
    assert results["ios-r1"]["running_config_file"] == "Berlin/ios-r1.cfg"
    assert results["eos-s1"]["running_config_file"] == "Paris/eos-s1.cfg"
    assert b"hostname" in batch.file("Berlin/ios-r1.cfg")
    assert results["ios-r1"]["startup_config_success"] is False  # this host's command override
    assert results["eos-s1"]["startup_config_success"] is True


def test_batch_limit_and_workers(batch):
    results = batch.run(GOOD, args=["--limit", "ios-r1,junos-r1"], workers=1)
    assert set(results) == {"ios-r1", "junos-r1"}
    assert all(r["running_config_success"] for r in results.values())
    assert sorted(p.name for p in (batch.repo / "backups").iterdir()) == [
        "ios-r1.running-config",
        "ios-r1.startup-config",
        "junos-r1.running-config",
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"workers": 0}, "workers must be at least 1"),
        ({"workers": "many"}, "workers"),
        ({"processes": -1}, "processes must be 0 (automatic) or more"),
    ],
    ids=["zero-workers", "bad-workers", "negative-processes"],
)
def test_batch_invalid_arguments_fail_the_task(batch, lab, extra, message):
    lab.clear_log()
    devices = [d for d in lab.devices if d["name"] in ("ios-r1",)]
    inventory = lab_inventory(devices, batch.tmp / "inventory.yml")
    run = run_playbook(
        batch.playbook,
        inventory,
        extra_vars={"repo_dir": str(batch.repo), "results_file": str(batch.tmp / "r.json"), **extra},
    )
    assert run.returncode != 0
    assert message in run.stdout + run.stderr
    assert lab.connection_log(event="connect") == []


def test_batch_rejects_per_host_only_options(batch, lab):
    playbook = batch.tmp / "device_name.yml"
    playbook.write_text(BATCH_PLAYBOOK.replace('workers: "{{ workers | default(50) }}"', "device_name: x"))
    devices = [d for d in lab.devices if d["name"] == "ios-r1"]
    run = run_playbook(
        playbook,
        lab_inventory(devices, batch.tmp / "inventory.yml"),
        extra_vars={"repo_dir": str(batch.repo), "results_file": str(batch.tmp / "r.json")},
    )
    assert run.returncode != 0
    assert "device_name" in run.stdout + run.stderr
