"""playbooks/run_job.yml end to end: the real lab, the real Nautobot (inventory plugin) and a real Git remote."""

from __future__ import annotations

import getpass
import json
import re
import subprocess
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import pytest
import yaml

from testbed.ansible_run import lab_inventory, run_playbook
from testbed.procs import REPO_ROOT

PLAYBOOK = REPO_ROOT / "playbooks" / "run_job.yml"
THREE = ("ios-r1", "nxos-s1", "eos-s1")


class Job:
    """Run run_job.yml with inputs in a 0600 vars file and read the job result back."""

    def __init__(self, tmp_path: Path, lab) -> None:
        self.tmp, self.lab = tmp_path, lab
        self.runs = 0
        self.last: Optional[subprocess.CompletedProcess] = None
        entry = lab.entry("ios-r1")
        self.secrets = [entry["password"], entry["secret"]]

    def static_inventory(self, names: Sequence[str]) -> Path:
        devices = [d for d in self.lab.devices if d["name"] in names]
        return lab_inventory(devices, self.tmp / f"static-{self.runs}.yml")

    def nautobot_inventory(self, nautobot, names: Sequence[str]) -> Path:
        path = self.tmp / f"nautobot-{self.runs}_nautobot.yml"
        config = {
            "plugin": "netops.nautobot_backup.nautobot",
            "url": nautobot.url,
            "device_names": list(names),
            "compose": {"ansible_port": self.lab.port},
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def run(self, inventory: Path, env: Optional[Dict[str, str]] = None, **inputs: Any):
        self.runs += 1
        device = self.lab.entry("ios-r1")
        data = {
            "ansible_user": device["username"],
            "ansible_password": device["password"],
            "ansible_become_password": device["secret"],
            "job_result_path": str(self.result_path),
        }
        data.update(inputs)
        self.result_path.unlink(missing_ok=True)
        vars_file = self.tmp / f"vars-{self.runs}.yml"
        vars_file.write_text(yaml.safe_dump(data), encoding="utf-8")
        vars_file.chmod(0o600)
        self.last = run_playbook(PLAYBOOK, inventory, args=["-e", f"@{vars_file}"], env=env)
        return self.last

    @property
    def result_path(self) -> Path:
        return self.tmp / "job.json"

    def result(self) -> Dict[str, Any]:
        return json.loads(self.result_path.read_text(encoding="utf-8"))

    def devices(self) -> Dict[str, Dict[str, Any]]:
        return {d["device_name"]: d for d in self.result()["devices"]}

    def output(self) -> str:
        assert self.last is not None
        return self.last.stdout + self.last.stderr

    def assert_no_secrets(self) -> None:
        text = self.output() + (self.result_path.read_text() if self.result_path.exists() else "")
        for secret in self.secrets:
            assert secret not in text


@pytest.fixture
def job(tmp_path, lab):
    return Job(tmp_path, lab)


# ----------------------------------------------------------------------------- dispatcher
@pytest.mark.lab
@pytest.mark.parametrize(
    ("job_type", "message"),
    [
        ("nope", "Unknown job type: nope. Known job types: backup, check_queues, run_commands"),
        ("sync_devices", "sync_devices is not available in this version"),
        ("compare_devices", "compare_devices is not available in this version"),
    ],
)
def test_unknown_and_retired_types_fail_before_any_device_is_contacted(job, lab, job_type, message):
    inventory = job.static_inventory(THREE)
    lab.clear_log()
    proc = job.run(inventory, job_type=job_type)
    assert proc.returncode != 0
    assert f'"msg": "{message}"' in job.output()
    assert lab.connection_log() == [], "no device may be contacted for an unknown or retired job type"
    assert not job.result_path.exists()


@pytest.mark.lab
@pytest.mark.parametrize(
    ("job_type", "inputs", "named"),
    [
        # A typo in job_parameters: command_template instead of template.
        (
            "run_commands",
            {"job_parameters": {"command_template": "show clock"}},
            "job_parameters key 'command_template'",
        ),
        # A typo in a <job_type>_<parameter> extra var.
        ("run_commands", {"run_commands_command_template": "show clock"}, "extra var 'run_commands_command_template'"),
        ("check_queues", {"job_parameters": {"drop_treshold": 5}}, "job_parameters key 'drop_treshold'"),
        ("backup", {"backup_repo_ulr": "file:///nowhere"}, "extra var 'backup_repo_ulr'"),
    ],
)
def test_unknown_parameters_fail_before_any_device_is_contacted(job, lab, job_type, inputs, named):
    inventory = job.static_inventory(THREE)
    lab.clear_log()
    proc = job.run(inventory, job_type=job_type, **inputs)
    assert proc.returncode != 0
    output = job.output()
    message = re.search(r'"msg": "(job type [^"]*)"', output)
    assert message, output[-3000:]
    assert message.group(1).startswith(f"job type {job_type} has no such parameter: {named}. Known parameters")
    known = {"run_commands": "store, template", "check_queues": "drop_threshold", "backup": "repo_url"}[job_type]
    assert all(name in message.group(1) for name in known.split(", ")), message.group(1)
    assert lab.connection_log() == [], "no device may be contacted when a parameter is unknown"
    assert not job.result_path.exists()


# ----------------------------------------------------------------------------- run_commands
TEMPLATE = """\
show running-config | include hostname {{ nautobot.name }}
{% if nautobot.location.parent.name == "Berlin" %}show version{% endif %}

show clock
"""


@pytest.mark.lab
@pytest.mark.nautobot
@pytest.mark.git
def test_run_commands_on_three_platforms_with_nautobot_facts_auth_failure_and_git(job, lab, nautobot, git_remotes):
    remote = Path(git_remotes.http_remote.path)
    before = subprocess.run(
        ["git", f"--git-dir={remote}", "rev-parse", "main"], capture_output=True, text=True, check=True
    )
    inventory = job.nautobot_inventory(nautobot, (*THREE, "ios-authfail"))
    proc = job.run(
        inventory,
        env={"NAUTOBOT_TOKEN": nautobot.admin_token},
        job_type="run_commands",
        job_parameters={
            "template": TEMPLATE,
            "store": True,
            "output_path_template": "commands/{location.name}/{device_name}.txt",
        },
        backup_repo_url=git_remotes.http_url,
        backup_repo_username=git_remotes.http_username,
        backup_repo_token=git_remotes.http_password,
        backup_repo_dir=str(job.tmp / "checkout"),
    )
    assert proc.returncode != 0, "the device that fails auth fails the run"
    # The failed device is a failed host in the recap (the last play fails exactly it), the others are not.
    assert re.search(r"fatal: \[ios-authfail\]: FAILED! .*auth_failed", job.output())
    for name in THREE:
        assert f"fatal: [{name}]" not in job.output()
    result = job.result()
    assert result["job_type"] == "run_commands" and result["triggered_by"] == "manual"
    assert sorted(result["devices_succeeded"]) == sorted(THREE) and result["devices_failed"] == ["ios-authfail"]
    devices = job.devices()
    # Nautobot facts drive the commands: the name, and the parent location (Berlin: ios-r1, nxos-s1; Munich: eos-s1).
    for name in THREE:
        info = devices[name]
        assert info["success"] and info["error"] is None
        assert info["commands"][0] == f"show running-config | include hostname {name}"
        assert [o["command"] for o in info["outputs"]] == info["commands"]
        assert info["outputs"][0]["output"].strip().startswith(f"hostname {name}")
    assert devices["ios-r1"]["commands"][1:] == ["show version", "show clock"]
    assert devices["eos-s1"]["commands"][1:] == ["show clock"]
    assert "Cisco IOS XE Software" in devices["ios-r1"]["outputs"][1]["output"]
    assert "Cisco Nexus Operating System" in devices["nxos-s1"]["outputs"][1]["output"]
    failed = devices["ios-authfail"]
    assert failed["error_class"] == "auth_failed" and not failed["success"] and failed["outputs"] == []
    # Stored in Git: one commit with the three devices' files, nothing for the failed one.
    log = subprocess.run(
        ["git", f"--git-dir={remote}", "log", "--format=%s", f"{before.stdout.strip()}..main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(log) == 1 and log[0].startswith("Command outputs ") and "3 device(s), 1 failed" in log[0]
    files = subprocess.run(
        ["git", f"--git-dir={remote}", "show", "--name-only", "--format=", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(files) == ["commands/BER1/ios-r1.txt", "commands/BER1/nxos-s1.txt", "commands/MUC1/eos-s1.txt"]
    stored = subprocess.run(
        ["git", f"--git-dir={remote}", "show", "main:commands/BER1/ios-r1.txt"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert stored.startswith("### show running-config | include hostname ios-r1\nhostname ios-r1\n")
    job.assert_no_secrets()
    for secret in (git_remotes.http_password, nautobot.admin_token):
        assert secret not in job.output() + job.result_path.read_text()


@pytest.mark.lab
@pytest.mark.git
def test_run_commands_push_refused_fails_the_job(job, tmp_path):
    """Outputs go through the publish role; a remote that refuses the push fails the job clearly."""
    remote = tmp_path / "refusing.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    seed = tmp_path / "seed"
    subprocess.run(["git", "clone", "-q", str(remote), str(seed)], check=True, capture_output=True)
    (seed / "README").write_text("seed\n")
    git = ["git", "-C", str(seed), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "add", "README"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "seed"], check=True)
    subprocess.run([*git, "push", "-q", "origin", "HEAD:main"], check=True)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    proc = job.run(
        job.static_inventory(THREE[:1]),
        job_type="run_commands",
        job_parameters={"template": "show clock", "store": True},
        backup_repo_url=f"file://{remote}",
        backup_repo_dir=str(tmp_path / "checkout"),
    )
    assert proc.returncode != 0
    assert "storing the outputs in Git failed" in job.output()
    head = subprocess.run(["git", f"--git-dir={remote}", "log", "--format=%s", "main"],
                          capture_output=True, text=True, check=True).stdout.split("\n")
    assert head[0] == "seed", "nothing reached the remote"
    job.assert_no_secrets()


@pytest.mark.lab
def test_run_commands_template_errors_are_per_device(job, lab):
    inventory = job.static_inventory(("ios-r1", "eos-s1"))
    lab.clear_log()
    proc = job.run(
        inventory,
        job_type="run_commands",
        job_parameters={"template": "{% if job_parameters.only is defined and inventory_hostname %}x{% endif %}"},
    )
    assert proc.returncode != 0
    devices = job.devices()
    assert "rendered to no command" in devices["ios-r1"]["error"]
    proc = job.run(inventory, job_type="run_commands", job_parameters={"template": "show {{ nautobot.name }}"})
    devices = job.devices()
    assert devices["eos-s1"]["error"].startswith("eos-s1: the command template failed to render")
    assert lab.connection_log() == [], "a template error is found before the device is contacted"


@pytest.mark.lab
def test_run_commands_output_is_shown_per_device_headed_by_the_command(job):
    proc = job.run(
        job.static_inventory(("ios-r1", "eos-s1")),
        job_type="run_commands",
        job_parameters={"template": "show running-config | include hostname\nshow version"},
    )
    assert proc.returncode == 0, job.output()
    stdout = proc.stdout
    devices = job.devices()
    for name, version in (("ios-r1", "Cisco IOS XE Software"), ("eos-s1", "Arista")):
        # The device's debug output: its own block, the command header, then the output's lines.
        block = re.search(rf"^ok: \[{name}\] => \{{\n(.*?)^\}}", stdout, re.MULTILINE | re.DOTALL)
        assert block, stdout[-4000:]
        text = block.group(1)
        assert '"### show running-config | include hostname"' in text and '"### show version"' in text
        assert f'"hostname {name}"' in text
        assert version in text
        header, line, next_header = ('"### show running-config', f'"hostname {name}"', '"### show version"')
        assert text.index(header) < text.index(line) < text.index(next_header)
        # ... and the outputs stay in the JSON result.
        commands = [o["command"] for o in devices[name]["outputs"]]
        assert commands == ["show running-config | include hostname", "show version"]
    job.assert_no_secrets()


@pytest.mark.lab
def test_check_queues_shows_a_table_of_the_flagged_interfaces(job, lab, lab_restore):
    for name in ("ios-r1", "eos-s1"):
        lab_restore(name)
    lab.set_queue_drops("ios-r1", {"GigabitEthernet2": {"input": 5, "output": 900}})
    lab.set_queue_drops("eos-s1", {"Ethernet2": {"input": 20, "output": 40}})
    proc = job.run(job.static_inventory(("ios-r1", "eos-s1")), job_type="check_queues", check_queues_drop_threshold=100)
    assert proc.returncode != 0, "ios-r1 has an interface over the threshold"
    stdout = proc.stdout
    assert '"### show interfaces: 1 of ' in stdout and 'interface(s) over 100 drops"' in stdout
    assert re.search(r'"interface +input drops  output drops"', stdout), stdout[-4000:]
    assert re.search(r'"GigabitEthernet2 +5 +900"', stdout), stdout[-4000:]
    assert re.search(r'"### show interfaces: \d+ interface\(s\), none over 100 drops"', stdout), "eos-s1: none flagged"
    assert job.devices()["ios-r1"]["flagged_interfaces"] == ["GigabitEthernet2"], "still in the JSON result"


# ----------------------------------------------------------------------------- check_queues
@pytest.mark.lab
@pytest.mark.nautobot
def test_check_queues_with_and_without_drops_over_the_threshold(job, lab, lab_restore, nautobot):
    for name in THREE:
        lab_restore(name)
    lab.set_queue_drops("ios-r1", {"GigabitEthernet2": {"input": 5, "output": 900}})
    lab.set_queue_drops("nxos-s1", {"Ethernet1/1": {"input": 300, "output": 0}})
    lab.set_queue_drops("eos-s1", {"Ethernet2": {"input": 20, "output": 40}})
    inventory = job.nautobot_inventory(nautobot, THREE)
    env = {"NAUTOBOT_TOKEN": nautobot.admin_token}

    proc = job.run(inventory, env=env, job_type="check_queues", job_parameters={"drop_threshold": 100})
    assert proc.returncode != 0
    devices = job.devices()
    assert devices["ios-r1"]["flagged_interfaces"] == ["GigabitEthernet2"]
    assert (
        devices["ios-r1"]["error"]
        == "1 interface(s) over the queue-drop threshold of 100: GigabitEthernet2 (in 5, out 900)"
    )
    assert devices["nxos-s1"]["flagged_interfaces"] == ["Ethernet1/1"] and not devices["nxos-s1"]["success"]
    assert devices["eos-s1"]["success"] and devices["eos-s1"]["flagged_interfaces"] == []
    eth2 = next(i for i in devices["eos-s1"]["interfaces"] if i["interface"] == "Ethernet2")
    assert (eth2["input_drops"], eth2["output_drops"], eth2["over_threshold"]) == (20, 40, False)
    assert sorted(job.result()["devices_failed"]) == ["ios-r1", "nxos-s1"]
    assert "GigabitEthernet2 (in 5, out 900)" in job.output()

    proc = job.run(inventory, env=env, job_type="check_queues", job_parameters={"drop_threshold": 1000})
    assert proc.returncode == 0, job.output()
    assert all(d["success"] for d in job.devices().values())
    job.assert_no_secrets()


# ----------------------------------------------------------------------------- precedence and who/how
@pytest.mark.lab
def test_job_parameters_precedence_defaults_then_job_parameters_then_extra_vars(job, lab, lab_restore):
    lab_restore("eos-s1")
    lab.set_queue_drops("eos-s1", {"Ethernet1": {"input": 50, "output": 0}})
    inventory = job.static_inventory(("eos-s1",))
    cases = [
        ({}, 0, False),  # the table's default: 0
        ({"job_parameters": {"drop_threshold": 100}}, 100, True),  # job_parameters over the default
        ({"job_parameters": {"drop_threshold": 100}, "check_queues_drop_threshold": 10}, 10, False),  # extra var wins
    ]
    for inputs, threshold, success in cases:
        proc = job.run(inventory, job_type="check_queues", **inputs)
        info = job.devices()["eos-s1"]
        assert info["drop_threshold"] == threshold, inputs
        assert info["success"] is success and (proc.returncode == 0) is success, job.output()


@pytest.mark.lab
def test_triggered_by_and_executed_by_with_and_without_awx_variables(job):
    inventory = job.static_inventory(("eos-s1",))
    job.run(inventory, job_type="check_queues", check_queues_drop_threshold=10**9)
    result = job.result()
    assert (result["job_type"], result["triggered_by"], result["executed_by"]) == (
        "check_queues",
        "manual",
        getpass.getuser(),
    )
    job.run(inventory, job_type="check_queues", check_queues_drop_threshold=10**9, awx_user_name="alice")
    assert (job.result()["triggered_by"], job.result()["executed_by"]) == ("manual", "alice")
    job.run(
        inventory, job_type="check_queues", check_queues_drop_threshold=10**9, awx_schedule_id=42, awx_user_name="bob"
    )
    assert (job.result()["triggered_by"], job.result()["executed_by"]) == ("schedule", "bob")


# ----------------------------------------------------------------------------- backup through the dispatcher
@pytest.mark.lab
@pytest.mark.git
def test_job_type_backup_runs_backup_yml(job, git_remotes):
    inventory = job.static_inventory(("ios-r1",))
    report = job.tmp / "backup.report.json"
    proc = job.run(
        inventory,
        job_type="backup",
        job_parameters={"repo_url": git_remotes.file_url, "repo_dir": str(job.tmp / "bk"), "report_path": str(report)},
    )
    assert proc.returncode == 0, job.output()
    assert (job.tmp / "bk" / "backups" / "ios-r1.running-config").is_file()
    assert json.loads(report.read_text())["devices_backed_up"] == 1
    assert job.result()["job_type"] == "backup" and job.result()["triggered_by"] == "manual"
    job.assert_no_secrets()


@pytest.mark.lab
@pytest.mark.nautobot
def test_jinja_inside_nautobot_data_is_never_executed(job, nautobot_clean):
    device = nautobot_clean.api().dcim.devices.get(name="eos-s1")
    device.update({"asset_tag": "{{ 7 * 7 }}{{ lookup('env', 'HOME') }}"})
    inventory = job.nautobot_inventory(nautobot_clean, ("eos-s1",))
    job.run(
        inventory,
        env={"NAUTOBOT_TOKEN": nautobot_clean.admin_token},
        job_type="run_commands",
        job_parameters={"template": "show running-config | include {{ nautobot.asset_tag }}"},
    )
    info = job.devices()["eos-s1"]
    assert info["commands"] == ["show running-config | include {{ 7 * 7 }}{{ lookup('env', 'HOME') }}"], info
