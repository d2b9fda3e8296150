"""SSH host key checking on the real lab: pins on first contact, a changed key fails before any credential is sent.

The proof that no credential reached a device is the lab's own connection log: the lab logs ``auth_begin``
when a client sends its first authentication request (which carries the user name, and with paramiko the
password), before any password is checked, then ``auth_ok`` / ``auth_failed`` and every ``command``. A device
whose key was refused shows its ``connect`` and none of those. Events of earlier sessions (a late
``disconnect``, say) are told apart by the client's address and port (``peer``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest
import yaml

from testbed.ansible_run import lab_inventory, run_playbook
from testbed.procs import REPO_ROOT

pytestmark = [pytest.mark.lab]

THREE = ["ios-r1", "eos-s1", "junos-r1"]
CREDENTIAL_EVENTS = {"auth_begin", "auth_ok", "auth_failed", "command"}

BACKUP = """
- name: Back up with host key checking
  hosts: all
  gather_facts: false
  tasks:
    - name: Back up every device of the play
      netops.nautobot_backup.device_config_backup_batch:
        repo_dir: "{{ repo_dir }}"
        known_hosts_file: "{{ known_hosts_file | default(omit) }}"
        allow_telnet: "{{ allow_telnet | default(omit) }}"
        auth_timeout: 5
        read_timeout: 15
      register: backup
      run_once: true
      when: mode == 'batch'

    - name: Back up one device
      netops.nautobot_backup.device_config_backup:
        repo_dir: "{{ repo_dir }}"
        known_hosts_file: "{{ known_hosts_file | default(omit) }}"
        allow_telnet: "{{ allow_telnet | default(omit) }}"
        auth_timeout: 5
        read_timeout: 15
      register: one
      ignore_errors: true
      when: mode == 'per_host'

    - name: Record every host's result
      ansible.builtin.copy:
        content: >-
          {{ (backup.hosts if mode == 'batch' else dict(ansible_play_hosts_all | zip(ansible_play_hosts_all
              | map('extract', hostvars, 'one')))) | to_nice_json }}
        dest: "{{ results_file }}"
        mode: "0600"
      delegate_to: localhost
      run_once: true
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

JOBS = """
- name: Run a device job with host key checking
  hosts: all
  gather_facts: false
  tasks:
    - name: Run commands
      netops.nautobot_backup.run_commands:
        template: show version
        pins_repo_dir: "{{ pins_repo_dir }}"
      register: job
      ignore_errors: true
      when: job_type == 'run_commands'

    - name: Check queues
      netops.nautobot_backup.check_queues:
        pins_repo_dir: "{{ pins_repo_dir }}"
        drop_threshold: 1000000
      register: queues
      ignore_errors: true
      when: job_type == 'check_queues'

    - name: Record every host's result
      ansible.builtin.copy:
        content: >-
          {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all
             | map('extract', hostvars, 'job' if job_type == 'run_commands' else 'queues'))) | to_nice_json }}
        dest: "{{ results_file }}"
        mode: "0600"
      delegate_to: localhost
      run_once: true
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""


class Runner:
    """Runs the BACKUP (or JOBS) playbook on lab hosts with a static inventory; returns per-host results."""

    def __init__(self, lab, tmp_path: Path, mode: str) -> None:
        self.lab, self.tmp, self.mode = lab, tmp_path, mode
        self.repo = tmp_path / "repo"
        self.repo.mkdir(exist_ok=True)
        self.last: Optional[subprocess.CompletedProcess] = None
        self.runs = 0

    def run(self, hosts: Sequence[str], playbook: str = BACKUP, host_vars: Optional[Dict[str, Any]] = None,
            env: Optional[Dict[str, str]] = None, **extra: Any) -> Dict[str, Any]:
        self.runs += 1
        path = self.tmp / f"play-{self.runs}.yml"
        path.write_text(playbook, encoding="utf-8")
        devices = [d for d in self.lab.devices if d["name"] in set(hosts)]
        inventory = lab_inventory(devices, self.tmp / f"inventory-{self.runs}.yml", host_vars=host_vars)
        results = self.tmp / f"results-{self.runs}.json"
        variables = {"repo_dir": str(self.repo), "results_file": str(results), "mode": self.mode, **extra}
        self.last = run_playbook(path, inventory, extra_vars=variables, env=env)
        assert results.exists(), self.last.stdout + self.last.stderr
        return json.loads(results.read_text(encoding="utf-8"))

    def pin(self, name: str) -> str:
        return (self.repo / ".known_hosts" / name).read_text(encoding="utf-8")

    def config(self, name: str) -> bytes:
        return (self.repo / "backups" / f"{name}.running-config").read_bytes()


@pytest.fixture(params=["batch", "per_host"])
def runner(request, lab, tmp_path):
    return Runner(lab, tmp_path, request.param)


@pytest.fixture
def batch(lab, tmp_path):
    return Runner(lab, tmp_path, "batch")


def session_events(lab, device: str) -> List[str]:
    """The events of the sessions opened since the last clear_log() (told apart by peer), in order."""
    log = lab.connection_log(device=device)
    peers = {event["peer"] for event in log if event["event"] == "connect"}
    return [event["event"] for event in log if event["peer"] in peers]


def assert_contacted_without_credentials(lab, device: str) -> None:
    """The device was connected to, and received no authentication request and no command."""
    events = session_events(lab, device)
    assert "connect" in events, f"{device} was not contacted at all: {events}"
    assert not CREDENTIAL_EVENTS & set(events), f"{device} received credentials or commands: {events}"


def change_key(lab, lab_restore, name: str, seed: str = "intruder", key_type: str = "ssh-ed25519") -> Dict[str, str]:
    """Make the device present another host key (restored after the test); return the new key."""
    lab_restore(name)
    return lab.set_host_key(name, seed, key_type)


# ---------------------------------------------------------------------------------------------- modules
@pytest.mark.parametrize("key_type", ["ssh-ed25519", "ecdsa-sha2-nistp256"])
def test_changed_key_fails_before_any_credential_and_keeps_the_backup(runner, lab, lab_restore, key_type):
    first = runner.run(THREE)
    assert all(first[name]["host_key_file"] == f".known_hosts/{name}" for name in THREE), first
    old_key = lab.host_key("ios-r1")
    assert old_key["public_key"] in runner.pin("ios-r1"), "the pin holds the key the device presented"
    pin, config = runner.pin("ios-r1"), runner.config("ios-r1")

    second = runner.run(THREE)
    assert not any(result.get("failed") or result["changed"] for result in second.values()), second

    lab_restore("ios-r1")
    lab.change_config("ios-r1")  # a real change that a backup would have saved
    new_key = lab.set_host_key("ios-r1", "intruder", key_type)
    lab.clear_log()
    third = runner.run(THREE)
    failed = third["ios-r1"]
    assert failed["failed"] is True and failed["error_class"] == "host_key_mismatch", failed
    assert failed["running_config_success"] is False and failed["ssh_connection_success"] is False
    assert old_key["fingerprint"] in failed["error"] and ".known_hosts/ios-r1" in failed["error"]
    if key_type == "ssh-ed25519":
        assert new_key["fingerprint"] in failed["error"], "both fingerprints are named"
    assert "Nothing was sent to the device" in failed["error"]
    assert_contacted_without_credentials(lab, "ios-r1")
    assert runner.config("ios-r1") == config, "the previous backup stays"
    assert runner.pin("ios-r1") == pin, "the pin is never replaced by the new key"
    for name in ("eos-s1", "junos-r1"):
        assert third[name]["running_config_success"] is True, third[name]
        assert "auth_ok" in session_events(lab, name), "the other devices logged in as usual"
    for secret in (lab.entry("ios-r1")["password"], lab.entry("ios-r1")["secret"]):
        assert secret not in runner.last.stdout + runner.last.stderr + json.dumps(third)


def test_known_hosts_file_and_user_known_hosts(runner, lab, tmp_path):
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    wrong = " ".join(stranger.with_suffix(".pub").read_text().split()[:2])
    entry = lab.entry("ios-r1")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[{entry['host']}]:{entry['port']} {wrong}\n{lab.known_hosts_line('eos-s1')}\n")
    lab.clear_log()
    results = runner.run(THREE, known_hosts_file=str(known_hosts))
    assert results["ios-r1"]["error_class"] == "host_key_mismatch", results["ios-r1"]
    assert f"{known_hosts} line 1" in results["ios-r1"]["error"] and "ssh-keygen -R" in results["ios-r1"]["error"]
    assert_contacted_without_credentials(lab, "ios-r1")
    assert not (runner.repo / ".known_hosts" / "ios-r1").exists(), "a refused key is never pinned"
    assert results["eos-s1"]["running_config_success"] is True, "a key the file lists is accepted"
    assert results["junos-r1"]["running_config_success"] is True, "a device no source knows: trust on first use"

    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text(f"[{entry['host']}]:{entry['port']} {wrong}\n")
    lab.clear_log()
    results = runner.run(["ios-r1", "eos-s1"], env={"HOME": str(home)})
    assert results["ios-r1"]["error_class"] == "host_key_mismatch", results["ios-r1"]
    assert "~/.ssh/known_hosts line 1" in results["ios-r1"]["error"]
    assert_contacted_without_credentials(lab, "ios-r1")
    assert results["eos-s1"]["running_config_success"] is True


@pytest.mark.parametrize("how", ["env", "ansible.cfg", "host variable"])
def test_checking_off_lets_a_changed_key_through_as_before(batch, lab, lab_restore, tmp_path, how):
    batch.run(["ios-r1"])
    pin = batch.pin("ios-r1")
    change_key(lab, lab_restore, "ios-r1")
    env: Dict[str, str] = {}
    host_vars: Dict[str, Any] = {}
    if how == "env":
        env["ANSIBLE_HOST_KEY_CHECKING"] = "False"
    elif how == "ansible.cfg":
        config = tmp_path / "ansible.cfg"
        config.write_text("[defaults]\nhost_key_checking = False\n", encoding="utf-8")
        env["ANSIBLE_CONFIG"] = str(config)
    else:
        host_vars = {"ios-r1": {"ansible_host_key_checking": False}}
    result = batch.run(["ios-r1"], env=env, host_vars=host_vars)["ios-r1"]
    assert result["running_config_success"] is True, result
    assert result["host_key_file"] is None, "with checking off nothing is pinned or reported"
    assert batch.pin("ios-r1") == pin


def test_the_host_variable_wins_over_the_environment(batch, lab, lab_restore):
    """As in AWX: ansible-runner exports ANSIBLE_HOST_KEY_CHECKING=False; ansible_host_key_checking=true wins."""
    batch.run(["ios-r1"], host_vars={"ios-r1": {"ansible_host_key_checking": True}},
              env={"ANSIBLE_HOST_KEY_CHECKING": "False"})
    change_key(lab, lab_restore, "ios-r1")
    lab.clear_log()
    result = batch.run(["ios-r1"], host_vars={"ios-r1": {"ansible_host_key_checking": "yes"}},
                       env={"ANSIBLE_HOST_KEY_CHECKING": "False"})["ios-r1"]
    assert result["error_class"] == "host_key_mismatch", result
    assert_contacted_without_credentials(lab, "ios-r1")


def test_telnet_is_refused_unless_allowed(runner, lab):
    telnet = {"ios-r1": {"netmiko_device_type": "cisco_ios_telnet"}}
    lab.clear_log()
    results = runner.run(["ios-r1", "eos-s1"], host_vars=telnet)
    assert results["ios-r1"]["error_class"] == "unsupported_platform", results["ios-r1"]
    assert "telnet" in results["ios-r1"]["error"] and "allow_telnet" in results["ios-r1"]["error"]
    assert lab.connection_log(device="ios-r1") == [], "refused before the device is contacted"
    assert results["eos-s1"]["running_config_success"] is True

    results = runner.run(["ios-r1"], host_vars=telnet, allow_telnet=True)
    assert results["ios-r1"]["error_class"] != "unsupported_platform", "allowed: the device is contacted by telnet"
    assert "connect" in session_events(lab, "ios-r1")


@pytest.mark.parametrize("job_type", ["run_commands", "check_queues"])
def test_device_jobs_check_the_backup_pins_before_any_credential(batch, lab, lab_restore, job_type):
    batch.run(["ios-r1", "eos-s1"])
    pin = batch.pin("ios-r1")
    ok = batch.run(["ios-r1", "eos-s1"], playbook=JOBS, job_type=job_type, pins_repo_dir=str(batch.repo))
    assert not any(result.get("failed") for result in ok.values()), ok
    change_key(lab, lab_restore, "ios-r1")
    lab.clear_log()
    results = batch.run(["ios-r1", "eos-s1"], playbook=JOBS, job_type=job_type, pins_repo_dir=str(batch.repo))
    assert results["ios-r1"]["error_class"] == "host_key_mismatch", results["ios-r1"]
    assert ".known_hosts/ios-r1" in results["ios-r1"]["error"]
    assert_contacted_without_credentials(lab, "ios-r1")
    assert not results["eos-s1"].get("failed"), results["eos-s1"]
    assert batch.pin("ios-r1") == pin, "device jobs only read pins"


# ---------------------------------------------------------------------------------------------- backup.yml
GOOD = ("ios-r1", "nxos-s1", "eos-s1", "xr-r1")


@pytest.mark.nautobot
@pytest.mark.git
@pytest.mark.parametrize("backup_mode", ["batch", "per_host"])
def test_backup_playbook_pins_commits_and_refuses_a_changed_key(tmp_path, lab, lab_restore, nautobot_clean,
                                                                git_remotes, backup_mode):
    remote = Path(git_remotes.seeded_remote.path)
    inventory = tmp_path / "hosts_nautobot.yml"
    inventory.write_text(yaml.safe_dump({"plugin": "netops.nautobot_backup.nautobot", "url": nautobot_clean.url,
                                         "device_names": list(GOOD), "compose": {"ansible_port": lab.port}}))
    device = lab.entry("ios-r1")
    inputs = tmp_path / "inputs.yml"
    inputs.write_text(yaml.safe_dump({
        "ansible_user": device["username"], "ansible_password": device["password"],
        "ansible_become_password": device["secret"], "backup_repo_url": f"file://{remote}",
        "backup_repo_dir": str(tmp_path / "checkout"), "backup_report_path": str(tmp_path / "report.json"),
        "backup_mode": backup_mode, "backup_read_timeout": 15,
    }))
    inputs.chmod(0o600)

    def run() -> subprocess.CompletedProcess:
        return run_playbook(REPO_ROOT / "playbooks" / "backup.yml", inventory, args=["-e", f"@{inputs}"],
                            env={"NAUTOBOT_TOKEN": nautobot_clean.admin_token})

    def git(*args: str) -> str:
        return subprocess.run(["git", f"--git-dir={remote}", *args], capture_output=True, text=True,
                              check=True).stdout

    first = run()
    assert first.returncode == 0, first.stdout[-3000:]
    committed = set(git("show", "--name-only", "--format=", "main").split())
    assert {f".known_hosts/{name}" for name in GOOD} <= committed, "pins are committed with the first backup"
    assert lab.host_key("ios-r1")["public_key"] in git("show", "main:.known_hosts/ios-r1")
    commits = git("rev-list", "--count", "main")

    second = run()
    assert second.returncode == 0, second.stdout[-3000:]
    assert git("rev-list", "--count", "main") == commits, "same keys: no new commit"

    config = git("show", "main:backups/ios-r1.running-config")
    lab_restore("ios-r1")
    lab.change_config("ios-r1")
    lab.set_host_key("ios-r1", "intruder")
    lab.clear_log()
    third = run()
    assert third.returncode != 0, "a refused device fails the play"
    report = json.loads((tmp_path / "report.json").read_text())
    assert {d["device_name"]: d["error_class"] for d in report["failed_devices"]} == {"ios-r1": "host_key_mismatch"}
    assert {d["device_name"] for d in report["backed_up_devices"]} == set(GOOD) - {"ios-r1"}
    assert "host_key_mismatch" in third.stdout and "fatal: [ios-r1]" in third.stdout
    assert_contacted_without_credentials(lab, "ios-r1")
    assert git("show", "main:backups/ios-r1.running-config") == config, "the previous backup is kept"
    assert (tmp_path / "checkout" / "backups" / "ios-r1.running-config").read_text() == config
    # One commit: only ios-r1's status record for the front page (ok -> failed); its config and pin are kept.
    assert int(git("rev-list", "--count", "main")) == int(commits) + 1
    assert git("show", "--name-only", "--format=", "main").split() == [".status/ios-r1.json"]
