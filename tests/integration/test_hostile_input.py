"""Hostile input on the real test bed (issue #12, items 2, 5 and 6).

- Nautobot values and job parameters that hold a line break never become commands: the device
  fails before it is contacted (the lab's connection log is empty for it) and nothing like
  ``reload`` is ever typed; check_queues sends its own command whatever Nautobot holds.
- No configuration text in messages, the JSON report, the -vvv output or the set_stats data.
- ``--diff`` shows configurations only when asked (backup_show_diff) or sanitized.
- One bad host (non-numeric or out-of-range ansible_port, an odd platform, an unusable address,
  an int password), even the FIRST host of the play, fails alone; the others are backed up.
- Command-line credentials (-u / --ask-pass / --ask-become-pass, as AWX passes a Machine
  credential, through ansible-runner) reach every host without its own, while a first host with its
  own password keeps it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import ansible_runner
import pytest
import yaml

from testbed.ansible_run import BIN, ansible_env, lab_inventory, run_playbook
from testbed.procs import REPO_ROOT
from testbed.runner import AwxJob

pytestmark = [pytest.mark.lab]

BACKUP = REPO_ROOT / "playbooks" / "backup.yml"
RUN_JOB = REPO_ROOT / "playbooks" / "run_job.yml"
COMMUNITY = "Comm-5ecret-Zq81"


def _bare_remote(tmp_path: Path, name: str = "remote.git") -> str:
    """A fresh, empty bare repository; returns its file:// URL."""
    remote = tmp_path / name
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    return f"file://{remote}"


def _vars_file(tmp_path: Path, name: str, data: Mapping[str, Any]) -> Path:
    """Inputs in a 0600 vars file (never on the command line)."""
    path = tmp_path / f"{name}.vars.yml"
    path.write_text(yaml.safe_dump(dict(data)), encoding="utf-8")
    path.chmod(0o600)
    return path


def _credentials(lab) -> Dict[str, str]:
    device = lab.entry("ios-r1")
    return {
        "ansible_user": device["username"],
        "ansible_password": device["password"],
        "ansible_become_password": device["secret"],
    }


def _commands_typed(lab) -> List[str]:
    return [event.get("command") or "" for event in lab.connection_log(event="command")]


def _config_lines(text: str) -> List[str]:
    """The lines of a configuration that carry something (what must never be quoted)."""
    return [line.strip() for line in text.splitlines() if len(line.strip()) >= 12]


# ----------------------------------------------------------------------------- item 2: no command injection
@pytest.mark.nautobot
def test_nautobot_values_with_line_breaks_never_become_commands(tmp_path, lab, nautobot_clean):
    """A serial with LF, an asset tag with U+2028: those devices fail before contact; the clean one runs."""
    api = nautobot_clean.api()
    api.dcim.devices.get(name="ios-r1").update({"serial": "SN1\nreload"})
    api.dcim.devices.get(name="eos-s1").update({"asset_tag": "AT1\u2028reload"})
    names = ("ios-r1", "eos-s1", "nxos-s1")
    inventory = tmp_path / "job_nautobot.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "plugin": "netops.nautobot_backup.nautobot",
                "url": nautobot_clean.url,
                "device_names": list(names),
                "compose": {"ansible_port": lab.port},
            }
        ),
        encoding="utf-8",
    )
    env = {"NAUTOBOT_TOKEN": nautobot_clean.admin_token}
    result_path = tmp_path / "job.json"
    template = (
        "show running-config | include hostname {{ nautobot.name }}\n"
        "show version | include {{ nautobot.serial | default('Version', true) }}"
        "{{ nautobot.asset_tag | default('', true) }}\n"
    )

    def run(job_type: str, parameters: Mapping[str, Any], limit: Optional[str] = None) -> subprocess.CompletedProcess:
        data = {**_credentials(lab), "job_type": job_type, "job_parameters": dict(parameters),
                "job_result_path": str(result_path)}
        result_path.unlink(missing_ok=True)
        args = ["-e", f"@{_vars_file(tmp_path, job_type, data)}"] + (["--limit", limit] if limit else [])
        return run_playbook(RUN_JOB, inventory, args=args, env=env)

    lab.clear_log()
    proc = run("run_commands", {"template": template})
    assert proc.returncode != 0, "the two devices with hostile values fail"
    devices = {d["device_name"]: d for d in json.loads(result_path.read_text())["devices"]}
    ios, eos, nxos = devices["ios-r1"], devices["eos-s1"], devices["nxos-s1"]
    assert ios["error_class"] == "other" and eos["error_class"] == "other"
    assert "the value of nautobot.serial contains U+000A (line feed)" in ios["error"]
    assert "the value of nautobot.asset_tag contains U+2028 (line separator)" in eos["error"]
    assert "was not contacted" in ios["error"] and ios["commands"] == [] and ios["outputs"] == []
    assert nxos["success"] and nxos["commands"][0] == "show running-config | include hostname nxos-s1"
    assert lab.connection_log(device="ios-r1") == [] and lab.connection_log(device="eos-s1") == []
    assert lab.connection_log(device="nxos-s1", event="connect"), "the clean device ran"
    assert not [c for c in _commands_typed(lab) if "reload" in c.lower()], _commands_typed(lab)
    assert "reload" not in ios["error"] + eos["error"], "the untrusted value is never echoed"

    # A job parameter with a carriage return: every device fails before contact (the clean one too).
    lab.clear_log()
    proc = run(
        "run_commands",
        {"template": "show interfaces {{ job_parameters.interface }}", "interface": "Ethernet1\rreload"},
        limit="nxos-s1",
    )
    assert proc.returncode != 0
    nxos = json.loads(result_path.read_text())["devices"][0]
    assert "the value of job_parameters.interface contains U+000D (carriage return)" in nxos["error"]
    assert lab.connection_log() == []

    # check_queues: no Nautobot value reaches its commands; the hostile devices run their own command only.
    lab.clear_log()
    proc = run("check_queues", {"drop_threshold": 10**9})
    assert proc.returncode == 0, proc.stdout[-3000:]
    devices = {d["device_name"]: d for d in json.loads(result_path.read_text())["devices"]}
    assert devices["ios-r1"]["commands"] == ["show interfaces"] and devices["eos-s1"]["commands"] == ["show interfaces"]
    assert devices["nxos-s1"]["commands"] == ["show interface"]
    assert not [c for c in _commands_typed(lab) if "reload" in c.lower() or "SN1" in c or "AT1" in c]


# ----------------------------------------------------------------------------- item 5: no config text
@pytest.mark.git
@pytest.mark.parametrize("mode", ["batch", "per_host"])
def test_config_text_never_in_messages_report_or_stats(tmp_path, lab, lab_restore, mode):
    """A truncated config whose every line carries an SNMP community: its failure names the rule and line only."""
    lab_restore("ios-truncated")
    config = ["hostname ios-truncated", "!"] + [f"snmp-server community {COMMUNITY}-{i} RO" for i in range(40)]
    lab.set_running_config("ios-truncated", "\n".join(config + ["end", ""]))
    devices = [d for d in lab.devices if d["name"] in ("ios-truncated", "ios-r1")]
    inventory = lab_inventory(devices, tmp_path / "inventory.yml")
    report = tmp_path / "report.json"
    inputs = {
        "backup_repo_url": _bare_remote(tmp_path),
        "backup_repo_dir": str(tmp_path / "checkout"),
        "backup_report_path": str(report),
        "backup_mode": mode,
        "backup_read_timeout": 15,
    }
    proc = run_playbook(
        BACKUP,
        inventory,
        args=["-e", f"@{_vars_file(tmp_path, 'backup', inputs)}", "-vvv"],
        env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, "the truncated device fails the run"
    data = json.loads(report.read_text())
    failed = {d["device_name"]: d for d in data["failed_devices"]}
    assert failed["ios-truncated"]["error_class"] == "invalid_output"
    error = failed["ios-truncated"]["error"]
    assert "rule 'no_end_marker'" in error and re.search(r"the last line \(line \d+\)", error), error
    assert [d["device_name"] for d in data["backed_up_devices"]] == ["ios-r1"]
    assert "CUSTOM STATS" in output and "backup_run" in output, "the set_stats data is in the output"
    assert "fatal: [ios-truncated]" in output
    for where, text in (("output", output), ("report", report.read_text())):
        assert COMMUNITY not in text, where
        for line in _config_lines("\n".join(config)):
            assert line not in text, (where, line)


# ----------------------------------------------------------------------------- item 5: diffs
@pytest.mark.git
def test_diff_shows_configurations_only_when_asked_or_sanitized(tmp_path, lab):
    devices = [d for d in lab.devices if d["name"] == "ios-r1"]
    inventory = lab_inventory(devices, tmp_path / "inventory.yml")
    url = _bare_remote(tmp_path)
    secret_lines = [line for line in _config_lines(lab.running_config("ios-r1")) if "community" in line]
    assert secret_lines, "the lab config carries an SNMP community"

    def run(name: str, **inputs: Any) -> str:
        data = {
            "backup_repo_url": url,
            "backup_repo_dir": str(tmp_path / "checkout"),
            "backup_report_path": str(tmp_path / f"{name}.json"),
            # A new file per run: each run writes (and diffs) a whole configuration.
            "backup_running_path_template": f"{name}/{{device_name}}.running-config",
            "backup_startup_path_template": f"{name}/{{device_name}}.startup-config",
            **inputs,
        }
        proc = run_playbook(BACKUP, inventory, args=["-e", f"@{_vars_file(tmp_path, name, data)}", "--diff"])
        assert proc.returncode == 0, proc.stdout[-3000:]
        return proc.stdout + proc.stderr

    for name, mode in (("default", "batch"), ("default-per-host", "per_host")):
        output = run(name, backup_mode=mode)
        assert f"{name}/ios-r1.running-config changed (content not shown: set show_diff or sanitize)" in output
        assert "hostname ios-r1" not in output
        for line in secret_lines:
            assert line not in output, (name, line)

    shown = run("show-diff", backup_show_diff=True)
    assert "+hostname ios-r1" in shown and "show-diff/ios-r1.running-config" in shown
    assert any(line in shown for line in secret_lines), "show_diff shows the configuration as it is"

    sanitized = run("sanitized", backup_sanitize=True)
    assert "+hostname ios-r1" in sanitized
    assert COMMUNITY not in sanitized
    for line in secret_lines:
        assert line not in sanitized, line


# ----------------------------------------------------------------------------- item 6: one bad host
def _bad_hosts_inventory(lab, path: Path) -> Path:
    """The bad hosts sort (and so run) first: the first host of the play is one of them."""
    entry = {d["name"]: d for d in lab.devices}

    def host(device: str, **extra: Any) -> Dict[str, Any]:
        values = {"ansible_host": entry[device]["host"], "ansible_port": lab.port,
                  "netmiko_device_type": entry[device]["platform"]}
        values.update(extra)
        return {key: value for key, value in values.items() if value is not None}

    hosts = {
        "0a-badport": host("eos-s1", ansible_port="ssh"),
        "0b-bigport": host("ios-badstartup", ansible_port=70000),
        "0c-listplatform": host("nxos-s1", netmiko_device_type=None, nautobot={"platform": ["Cisco NX-OS"]}),
        "0d-longhost": host("xr-r1", ansible_host="x" * 300),
        "0e-intpassword": host("junos-r1", ansible_password=12345),
        "ios-r1": host("ios-r1"),
        # No ansible_host: the inventory name is the address (a per-host task delegated to localhost would
        # address the controller instead).
        entry["ios-r2"]["host"]: host("ios-r2", ansible_host=None),
    }
    # The credentials as group variables, as a vault or AWX would give them.
    inventory = {"all": {"hosts": hosts, "vars": _credentials(lab)}}
    path.write_text(yaml.safe_dump(inventory, sort_keys=True), encoding="utf-8")
    return path


BAD_HOSTS = {
    "0a-badport": ("other", "port"),
    "0b-bigport": ("other", "ansible_port must be an integer from 1 to 65535, got 70000 (int)"),
    "0c-listplatform": ("other", "the platform of device '0c-listplatform' must be a string, got a list"),
    "0d-longhost": ("other", "ansible_host is not a usable host name or address (it is longer than 253 characters)"),
    "0e-intpassword": ("auth_failed", "authentication failed"),
}


@pytest.mark.git
@pytest.mark.parametrize("mode", ["batch", "per_host"])
def test_one_bad_host_never_stops_the_run(tmp_path, lab, mode):
    inventory = _bad_hosts_inventory(lab, tmp_path / "inventory.yml")
    report = tmp_path / "report.json"
    inputs = {
        "backup_repo_url": _bare_remote(tmp_path),
        "backup_repo_dir": str(tmp_path / "checkout"),
        "backup_report_path": str(report),
        "backup_mode": mode,
        "backup_read_timeout": 15,
    }
    lab.clear_log()
    proc = run_playbook(BACKUP, inventory, args=["-e", f"@{_vars_file(tmp_path, 'backup', inputs)}"])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-3000:]
    data = json.loads(report.read_text())
    good = sorted(["ios-r1", lab.entry("ios-r2")["host"]])
    assert sorted(d["device_name"] for d in data["backed_up_devices"]) == good, output[-3000:]
    failed = {d["device_name"]: d for d in data["failed_devices"]}
    assert set(failed) == set(BAD_HOSTS)
    for name, (error_class, message) in BAD_HOSTS.items():
        assert failed[name]["error_class"] == error_class, failed[name]
        assert message in failed[name]["error"], failed[name]
        assert re.search(rf"fatal: \[{name}( -> localhost)?\]: FAILED! => .*{re.escape(message)}", output), name
    if mode == "batch":
        assert "ansible_port must be an integer from 1 to 65535, got 'ssh' (str)" in failed["0a-badport"]["error"]
    # (backup.yml's last play fails 0a-badport from the controller: Ansible cannot use its port on the host.)
    # The bad hosts were never contacted (the int password is a real login attempt that fails).
    for device in ("eos-s1", "ios-badstartup", "nxos-s1", "xr-r1"):
        assert lab.connection_log(device=device) == [], device
    assert lab.connection_log(device="ios-r1", event="auth_ok") and lab.connection_log(device="ios-r2", event="auth_ok")
    checkout = tmp_path / "checkout" / "backups"
    assert sorted(p.name for p in checkout.iterdir()) == sorted(
        f"{name}.{kind}-config" for name in good for kind in ("running", "startup")
    )
    assert _credentials(lab)["ansible_password"] not in output


def test_one_bad_host_never_stops_run_commands(tmp_path, lab):
    inventory = _bad_hosts_inventory(lab, tmp_path / "inventory.yml")
    result_path = tmp_path / "job.json"
    data = {"job_type": "run_commands", "job_parameters": {"template": "show clock"},
            "job_result_path": str(result_path)}
    proc = run_playbook(RUN_JOB, inventory, args=["-e", f"@{_vars_file(tmp_path, 'job', data)}"])
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    result = json.loads(result_path.read_text())
    assert sorted(result["devices_succeeded"]) == sorted(["ios-r1", lab.entry("ios-r2")["host"]]), output[-3000:]
    devices = {d["device_name"]: d for d in result["devices"]}
    for name, (error_class, message) in BAD_HOSTS.items():
        if name == "0a-badport":
            continue  # Ansible fails this host's per-host task itself, before the action runs (see the recap)
        assert devices[name]["error_class"] == error_class and message in devices[name]["error"], devices[name]
    assert re.search(r"fatal: \[0a-badport\].*port", output)
    assert re.search(r"^0a-badport\s+: .*failed=1", output, re.MULTILINE)


# ----------------------------------------------------------------------------- item 6: per-host credentials
CREDENTIALS_PLAYBOOK = """
- name: Every device with the command-line credentials unless it has its own
  hosts: all
  gather_facts: false
  tasks:
    - name: Batch
      netops.nautobot_backup.device_config_backup_batch:
        repo_dir: "{{ repo_dir }}/batch"
        read_timeout: 15
        processes: 1
      register: batch
      run_once: true
      delegate_to: localhost

    - name: Per host
      netops.nautobot_backup.device_config_backup:
        repo_dir: "{{ repo_dir }}/per_host"
        read_timeout: 15
      register: per_host
      ignore_errors: true

    - name: Commands
      netops.nautobot_backup.run_commands:
        template: show clock
      register: commands
      ignore_errors: true

    - name: Record the results
      ansible.builtin.copy:
        content: "{{ {'first': ansible_play_batch[0], 'batch': batch.hosts,
                      'per_host': dict(names | zip(per_host_results)),
                      'commands': dict(names | zip(command_results))} | to_nice_json }}"
        dest: "{{ results_file }}"
        mode: "0600"
      delegate_to: localhost
      run_once: true
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
        names: "{{ ansible_play_hosts_all }}"
        per_host_results: "{{ names | map('extract', hostvars, 'per_host') }}"
        command_results: "{{ names | map('extract', hostvars, 'commands') }}"
"""


def _machine_job(tmp_path: Path, lab, ident: str, own_password: str) -> Dict[str, Any]:
    """Run CREDENTIALS_PLAYBOOK through ansible-runner with AWX's Machine credential prompts."""
    entry = {d["name"]: d for d in lab.devices}
    names = ("eos-s1", "ios-r1", "nxos-s1")
    hosts = {name: {"ansible_host": entry[name]["host"], "ansible_port": lab.port,
                    "netmiko_device_type": entry[name]["platform"]} for name in names}
    hosts["eos-s1"]["ansible_password"] = own_password  # the FIRST host has its own password
    device = lab.entry("ios-r1")
    results = tmp_path / f"{ident}.json"
    job = AwxJob(
        base=tmp_path / "jobs",
        ident=ident,
        playbook="credentials.yml",
        inventory={},
        extravars={"repo_dir": str(tmp_path / ident), "results_file": str(results)},
        envvars={},
        machine={"username": device["username"], "password": device["password"],
                 "become_password": device["secret"]},
        machine_mode="prompt",
    )
    pdd = job.prepare()
    (pdd / "inventory" / "nautobot.yml").unlink()
    (pdd / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}), encoding="utf-8")
    (pdd / "project" / "credentials.yml").write_text(CREDENTIALS_PLAYBOOK, encoding="utf-8")
    runner = ansible_runner.run(private_data_dir=str(pdd), playbook="credentials.yml", ident=ident, quiet=True)
    assert runner.status == "successful", job.result().stdout()[-3000:]
    data = json.loads(results.read_text(encoding="utf-8"))
    assert data["first"] == "eos-s1"
    texts = "\n".join(text for path, text in job.result().artifact_texts() if path.name != "command")
    assert device["password"] not in texts and device["secret"] not in texts
    return data


def _succeeded(data: Dict[str, Any], name: str) -> Dict[str, bool]:
    return {
        "batch": data["batch"][name]["running_config_success"],
        "per_host": data["per_host"][name]["running_config_success"],
        "commands": data["commands"][name].get("success", False),
    }


def test_command_line_credentials_reach_every_host_without_its_own(tmp_path, lab):
    device = lab.entry("ios-r1")
    # The first host's own password is the right one: every device is backed up, the others with the
    # Machine credential (before the fix the batch gave them no password at all).
    data = _machine_job(tmp_path, lab, "job-1", own_password=device["password"])
    for name in ("eos-s1", "ios-r1", "nxos-s1"):
        assert _succeeded(data, name) == {"batch": True, "per_host": True, "commands": True}, (name, data)

    # The first host's own password is wrong: that host fails auth (its own variable wins), and the
    # others still log in with the Machine credential (the first host's password never reaches them).
    data = _machine_job(tmp_path, lab, "job-2", own_password="Not-The-Pass-42")
    assert data["batch"]["eos-s1"]["error_class"] == "auth_failed"
    assert data["per_host"]["eos-s1"]["error_class"] == "auth_failed"
    assert data["commands"]["eos-s1"]["error_class"] == "auth_failed"
    for name in ("ios-r1", "nxos-s1"):
        assert _succeeded(data, name) == {"batch": True, "per_host": True, "commands": True}, (name, data)


def test_ask_pass_on_the_command_line_reaches_every_host_without_its_own(tmp_path, lab):
    """Plain ansible-playbook -u --ask-pass --ask-become-pass (answers on stdin), batch task not delegated."""
    entry = {d["name"]: d for d in lab.devices}
    hosts = {name: {"ansible_host": entry[name]["host"], "ansible_port": lab.port,
                    "netmiko_device_type": entry[name]["platform"]} for name in ("eos-s1", "ios-r1", "nxos-s1")}
    hosts["eos-s1"]["ansible_password"] = "Not-The-Pass-42"  # the first host's own (wrong) password
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}), encoding="utf-8")
    playbook = tmp_path / "batch.yml"
    playbook.write_text(
        CREDENTIALS_PLAYBOOK.replace("      delegate_to: localhost\n\n    - name: Per host", "\n    - name: Per host"),
        encoding="utf-8",
    )
    assert "delegate_to: localhost\n\n    - name: Per host" not in playbook.read_text()
    device = lab.entry("ios-r1")
    results = tmp_path / "results.json"
    command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), "-u", device["username"],
               "--ask-pass", "--ask-become-pass",
               "-e", json.dumps({"repo_dir": str(tmp_path / "repo"), "results_file": str(results)})]
    proc = subprocess.run(command, input=f"{device['password']}\n{device['secret']}\n", capture_output=True,
                          text=True, env=ansible_env(), cwd=REPO_ROOT, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    data = json.loads(results.read_text())
    assert data["first"] == "eos-s1"
    assert data["batch"]["eos-s1"]["error_class"] == "auth_failed"
    for name in ("ios-r1", "nxos-s1"):
        assert _succeeded(data, name) == {"batch": True, "per_host": True, "commands": True}, (name, data)
    assert device["password"] not in proc.stdout + proc.stderr
