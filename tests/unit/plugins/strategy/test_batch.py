"""The strategy netops.nautobot_backup.batch against ansible.builtin.linear, with real ansible-playbook runs.

Local hosts only (no device, no network): the strategy must give every host_status task exactly the result,
recap and registered value that linear gives through a worker, and answer it without a worker. Workers are
counted: a sitecustomize on the playbook's PYTHONPATH counts the controller's os.fork calls (Ansible forks one
worker per host and task).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Tuple

import pytest
import yaml

from testbed.ansible_run import ansible_env

ROOT = Path(__file__).resolve().parents[4]
BIN = Path(sys.executable).parent
HOSTS = [f"dev{index:02d}" for index in range(12)]
# host_status tasks of PLAYBOOK the controller answers: 3 tasks x 12 hosts (the loop goes to a worker) + 2 failed hosts
ANSWERED = 3 * 12 + 2

FORK_COUNTER = """
import atexit
import os

_MAIN = os.getpid()
_FORKS = [0]
_fork = os.fork


def _counting_fork():
    pid = _fork()
    if pid:
        _FORKS[0] += 1
    return pid


def _write():
    if os.getpid() == _MAIN:
        with open(os.environ["FORK_COUNT_FILE"], "w", encoding="utf-8") as out:
            out.write(str(_FORKS[0]))


os.fork = _counting_fork
atexit.register(_write)
"""

PLAYBOOK = """
- name: Statuses
  hosts: all
  gather_facts: false
  strategy: "{{ strategy_under_test }}"
  tasks:
    - name: Sum up once
      ansible.builtin.set_fact:
        statuses: {"dev01": "changed", "dev02": "changed", "dev03": "ok"}
      run_once: true
      delegate_to: localhost

    - name: Status from the dict
      netops.nautobot_backup.host_status:
        statuses_var: statuses
      delegate_to: localhost
      register: from_dict

    - name: Skipped by its condition for all but dev04
      netops.nautobot_backup.host_status:
        status: changed
      delegate_to: localhost
      when: inventory_hostname == 'dev04'
      register: by_condition

    - name: A loop goes to a worker and still works
      netops.nautobot_backup.host_status:
        status: "{{ item }}"
      loop: [ok]
      delegate_to: localhost
      when: inventory_hostname == 'dev05'

    - name: Failed with its own message, ignored
      netops.nautobot_backup.host_status:
        status: failed
        msg: "dev06 says {{ inventory_hostname }}"
      delegate_to: localhost
      ignore_errors: true
      when: inventory_hostname == 'dev06'

    - name: Write what each host registered
      ansible.builtin.copy:
        content: "{{ {'from_dict': from_dict, 'by_condition': by_condition} | to_json }}"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost

- name: Fail some hosts
  hosts: dev07,dev08
  gather_facts: false
  strategy: "{{ strategy_under_test }}"
  tasks:
    - name: Report the failure
      netops.nautobot_backup.host_status:
        status: failed
        msg: "auth_failed: {{ inventory_hostname }} refused the login"
      # as playbooks/backup.yml: delegated only for a host whose port Ansible cannot read
      delegate_to: "{{ 'localhost' if (ansible_port | default(22) | string) is not match('[0-9]+$') else omit }}"
"""


def _run(tmp_path: Path, strategy: str, playbook: str = PLAYBOOK) -> Tuple[subprocess.CompletedProcess, Path]:
    """Run the playbook under the strategy; return the process and the directory of registered results (and forks)."""
    work = tmp_path / strategy.rsplit(".", 1)[-1]
    out = work / "out"
    out.mkdir(parents=True)
    (work / "site").mkdir()
    (work / "site" / "sitecustomize.py").write_text(FORK_COUNTER, encoding="utf-8")
    inventory = work / "hosts.yml"
    hosts = {name: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable} for name in HOSTS}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}), encoding="utf-8")
    (work / "play.yml").write_text(playbook, encoding="utf-8")
    env = ansible_env({"PYTHONPATH": str(work / "site"), "FORK_COUNT_FILE": str(work / "forks")})
    extra = json.dumps({"strategy_under_test": strategy, "out_dir": str(out)})
    command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(work / "play.yml"), "-e", extra, "-f", "5"]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=work, timeout=300, check=False)
    return proc, out


def _recap(stdout: str) -> Dict[str, str]:
    """host -> its PLAY RECAP line's counts."""
    found = re.findall(r"^(dev\d+)\s+:\s+(.*?)\s*$", stdout, flags=re.MULTILINE)
    return dict(found)


def _task_lines(stdout: str, task: str) -> str:
    """The output of one task, up to the next task or play."""
    part = stdout.split(f"TASK [{task}]", 1)[1]
    return re.split(r"^(?:TASK|PLAY) ", part, maxsplit=1, flags=re.MULTILINE)[0]


@pytest.fixture(scope="module", name="runs")
def fixture_runs(tmp_path_factory):
    """The playbook under linear and under batch, once each."""
    tmp_path = tmp_path_factory.mktemp("strategies")
    strategies = ("ansible.builtin.linear", "netops.nautobot_backup.batch")
    return {strategy: _run(tmp_path, strategy) for strategy in strategies}


def test_batch_gives_the_recap_and_results_of_linear(runs):
    """Same recap (ok, changed, failed, skipped, ignored) and same registered results, host by host."""
    (linear, linear_out), (batch, batch_out) = runs["ansible.builtin.linear"], runs["netops.nautobot_backup.batch"]
    assert linear.returncode == batch.returncode == 2, batch.stdout + batch.stderr
    assert _recap(batch.stdout) == _recap(linear.stdout)
    assert sorted(_recap(batch.stdout)) == HOSTS
    recap = _recap(batch.stdout)
    # changed: the status task where it says so, and the copy task everywhere
    assert recap["dev01"].startswith("ok=2    changed=2 ") and recap["dev03"].startswith("ok=2    changed=1 ")
    assert recap["dev04"].startswith("ok=3    changed=2 ")
    assert "failed=1" in recap["dev07"] and "failed=1" not in recap["dev06"] and "ignored=1" in recap["dev06"]
    skipped = {}
    for proc, _out in runs.values():
        skipped[proc is batch] = _task_lines(proc.stdout, "Skipped by its condition for all but dev04")
    # The controller's answers name no delegation: nothing ran anywhere.
    # (Workers finish in any order: compare the lines as sets.)
    lines = {key: sorted(text.replace(" -> localhost", "").splitlines()) for key, text in skipped.items()}
    assert lines[True] == lines[False] and "skipping: [dev00]" in lines[True]
    for host in HOSTS:
        registered = json.loads((batch_out / f"{host}.json").read_text(encoding="utf-8"))
        assert registered == json.loads((linear_out / f"{host}.json").read_text(encoding="utf-8"))
        assert registered["from_dict"]["status"] == ("changed" if host in ("dev01", "dev02") else "ok")
        assert registered["from_dict"]["changed"] is (host in ("dev01", "dev02"))
        assert registered["by_condition"].get("skipped") is (True if host != "dev04" else None)


def test_failures_carry_their_message_and_fail_the_run(runs):
    """A failed status prints its message for its host, under either strategy."""
    for proc, _out in runs.values():
        lines = _task_lines(proc.stdout, "Report the failure")
        assert re.search(r"^fatal: \[dev07\]: FAILED! => .*auth_failed: dev07 refused the login", lines, re.MULTILINE)
        assert "dev08 refused the login" in lines
        assert "dev06 says dev06" in _task_lines(proc.stdout, "Failed with its own message, ignored")


def test_batch_answers_in_the_controller_and_linear_in_workers(runs):
    """Every host_status answer the controller gives is one worker fewer; the rest of the play forks the same."""
    linear = int((runs["ansible.builtin.linear"][1].parent / "forks").read_text(encoding="utf-8"))
    batch = int((runs["netops.nautobot_backup.batch"][1].parent / "forks").read_text(encoding="utf-8"))
    assert linear - batch == ANSWERED, (linear, batch)
    # The rest: the run-once set_fact, then the loop task (its condition is a worker's to evaluate) and the copy
    # task, a worker for each host.
    assert batch == 1 + 12 + 12


@pytest.mark.parametrize(
    "args, message",
    [
        ("status: broken", "value of status must be one of"),
        ("statuses_var: no_such_var", "statuses_var: no variable named 'no_such_var'"),
        ("status: ok\n        statuses_var: statuses", "mutually exclusive"),
        ("stauts: ok", "Unsupported parameters"),
    ],
)
def test_bad_arguments_fail_with_the_action_plugins_message(tmp_path, args, message):
    """What the controller cannot answer goes to a worker, which fails the task in the action plugin's words."""
    playbook = f"""
- name: Bad
  hosts: dev00
  gather_facts: false
  strategy: "{{{{ strategy_under_test }}}}"
  vars:
    statuses: {{}}
  tasks:
    - name: Bad arguments
      netops.nautobot_backup.host_status:
        {args}
"""
    proc, _out = _run(tmp_path, "netops.nautobot_backup.batch", playbook)
    assert proc.returncode == 2
    assert message in proc.stdout, proc.stdout


def test_the_failed_hosts_keep_the_lists_meaning_with_a_set_speed_in():
    """HostNames: append and remove as Ansible's list does (a name appended twice stays until removed twice)."""
    from ansible_collections.netops.nautobot_backup.plugins.strategy.batch import HostNames

    names = HostNames(["a", "b"])
    names.append("a")
    names.remove("a")
    assert "a" in names and "b" in names
    names.remove("a")
    assert "a" not in names and "b" in names
    with pytest.raises(ValueError):
        names.remove("a")
    names.append("c")
    assert "c" in names and "a" not in names
    # The test is the set's own, in C: no Python-level __contains__ that every host of every task would pay for.
    assert HostNames.__contains__ is set.__contains__


def test_the_strategy_runs_linear_on_the_set_speed_list(monkeypatch):
    """run() hands linear the play's failed hosts as HostNames, with the hosts already in it."""
    from types import SimpleNamespace

    from ansible.plugins.strategy.linear import StrategyModule as Linear

    from ansible_collections.netops.nautobot_backup.plugins.strategy import batch

    seen = {}

    def linear_run(_self, iterator, _context):
        seen["list"] = iterator._play._removed_hosts

    monkeypatch.setattr(Linear, "run", linear_run)
    strategy = batch.StrategyModule.__new__(batch.StrategyModule)
    iterator = SimpleNamespace(_play=SimpleNamespace(_removed_hosts=["failed-before"]))
    strategy.run(iterator, None)
    assert isinstance(seen["list"], batch.HostNames) and "failed-before" in seen["list"]
