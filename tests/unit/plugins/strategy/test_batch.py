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
# host_status tasks of PLAYBOOK the controller answers: 11 tasks x 12 hosts (the loop goes to a worker), one run-once
# task, and the 2 failed hosts
ANSWERED = 11 * 12 + 1 + 2
# host_status tasks of PLAYBOOK answered for all 12 hosts at once: the variables of one host gathered (twice) for each
WHOLE_TASKS = 5

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

# How often the controller gathers a host's variables for a task (linear: once per host and task).
from ansible.vars.manager import VariableManager  # noqa: E402

_GET_VARS = [0]
_get_vars = VariableManager.get_vars


def _counting_get_vars(self, *args, **kwargs):
    if os.getpid() == _MAIN and kwargs.get("host") is not None and kwargs.get("task") is not None:
        _GET_VARS[0] += 1
    return _get_vars(self, *args, **kwargs)


def _write_get_vars():
    if os.getpid() == _MAIN:
        with open(os.environ["FORK_COUNT_FILE"] + ".get_vars", "w", encoding="utf-8") as out:
            out.write(str(_GET_VARS[0]))


VariableManager.get_vars = _counting_get_vars
atexit.register(_write_get_vars)
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

    - name: Sum up once more, the conditions as facts
      ansible.builtin.set_fact:
        summary_on: true
        summary_off: false
        once_on: true
        once_off: false
      run_once: true
      delegate_to: localhost

    - name: Answered for all hosts at once, run_once a variable that is false
      netops.nautobot_backup.host_status:
        statuses_var: statuses
      run_once: "{{ once_off }}"
      delegate_to: localhost
      when: summary_on
      register: once_off_result

    - name: Answered for all hosts at once, its condition an extra var
      netops.nautobot_backup.host_status:
        status: changed
      delegate_to: localhost
      when: extra_plain
      register: by_extra_plain

    - name: Host by host, its condition an extra var that is a template
      netops.nautobot_backup.host_status:
        status: changed
      delegate_to: localhost
      when: extra_template
      register: by_extra_template

    - name: Host by host, run_once a template that is false for each host
      netops.nautobot_backup.host_status:
        status: "{{ 'changed' if inventory_hostname == 'dev05' else 'ok' }}"
      run_once: "{{ inventory_hostname == 'nobody' }}"
      delegate_to: localhost
      register: templated_once

    - name: Run once, run_once a variable that is true
      netops.nautobot_backup.host_status:
        status: changed
      run_once: "{{ once_on }}"
      delegate_to: localhost
      when: summary_on
      register: once_on_result

    - name: Answered for all hosts at once, its condition a fact set once
      netops.nautobot_backup.host_status:
        statuses_var: statuses
      delegate_to: localhost
      when: summary_on
      register: all_at_once

    - name: Skipped for all hosts at once
      netops.nautobot_backup.host_status:
        status: changed
      delegate_to: localhost
      when: summary_off
      register: all_skipped

    - name: A statuses dict of each host's own
      ansible.builtin.set_fact:
        own_statuses: >-
          {{ {'dev09': 'changed'} if inventory_hostname == 'dev09' else {'dev09': 'ok', 'dev10': 'changed'} }}

    - name: Status from each host's own dict, host by host
      netops.nautobot_backup.host_status:
        statuses_var: own_statuses
      delegate_to: localhost
      register: own

    - name: Condition from an inventory variable, host by host
      netops.nautobot_backup.host_status:
        status: changed
      delegate_to: localhost
      when: inventory_flag
      register: by_inventory

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
        content: "{{ {'from_dict': from_dict, 'by_condition': by_condition, 'all_at_once': all_at_once,
                      'all_skipped': all_skipped, 'own': own, 'by_inventory': by_inventory,
                      'once_off': once_off_result, 'once_on': once_on_result,
                      'templated_once': templated_once, 'by_extra_plain': by_extra_plain,
                      'by_extra_template': by_extra_template} | to_json }}"
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
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    hosts = {name: {**local, "inventory_flag": name == "dev11"} for name in HOSTS}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}), encoding="utf-8")
    (work / "play.yml").write_text(playbook, encoding="utf-8")
    env = ansible_env({"PYTHONPATH": str(work / "site"), "FORK_COUNT_FILE": str(work / "forks")})
    # An extra var is one value for every host, unless it is a template (then templated for each host).
    extra_vars = {"extra_plain": True, "extra_template": "{{ inventory_hostname == 'dev02' }}"}
    extra = json.dumps({"strategy_under_test": strategy, "out_dir": str(out), **extra_vars})
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
    assert recap["dev01"].startswith("ok=8    changed=5 ") and recap["dev03"].startswith("ok=8    changed=2 ")
    assert recap["dev04"].startswith("ok=9    changed=3 ")
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
        assert registered["all_at_once"]["status"] == registered["from_dict"]["status"]
        assert registered["all_skipped"]["skipped"] is True
        # each host's own dict: dev09's says changed, the others' say dev10 changed
        assert registered["own"]["status"] == ("changed" if host in ("dev09", "dev10") else "ok")
        assert registered["by_inventory"].get("skipped") is (True if host != "dev11" else None)
        assert registered["once_off"]["status"] == registered["from_dict"]["status"]
        assert registered["by_extra_plain"]["status"] == "changed"
        assert registered["by_extra_template"].get("skipped") is (True if host != "dev02" else None)
        # each host registers its own result: the result processing saw run_once as the value, not as its template
        assert registered["templated_once"]["status"] == ("changed" if host == "dev05" else "ok")
        # run once: the first host's result, registered for every host
        assert registered["once_on"]["status"] == "changed"


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
    # The rest: the two run-once set_facts, then the per-host set_fact, the loop task (its condition is a worker's
    # to evaluate) and the copy task, a worker for each host.
    assert batch == 2 + 12 + 12 + 12


def test_a_task_the_same_for_every_host_gathers_the_variables_of_one_host(runs):
    """Tasks whose condition and statuses are one fact set once are answered for all hosts at the first one."""
    linear = int((runs["ansible.builtin.linear"][1].parent / "forks.get_vars").read_text(encoding="utf-8"))
    batch = int((runs["netops.nautobot_backup.batch"][1].parent / "forks.get_vars").read_text(encoding="utf-8"))
    assert linear - batch == WHOLE_TASKS * (12 - 2), (linear, batch)


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


ROLE_PLAYBOOK = """
- name: A role listed twice, whose end is marked for every host
  hosts: all
  gather_facts: false
  strategy: "{{ strategy_under_test }}"
  roles:
    - status_role
    - status_role
"""
ROLE_TASKS = """
- name: Host by host (a templated status)
  netops.nautobot_backup.host_status:
    status: "{{ 'changed' if inventory_hostname == 'dev03' else 'ok' }}"
  delegate_to: localhost
"""


def test_the_end_of_a_role_is_marked_for_every_host_at_once(tmp_path):
    """Ansible's implicit end-of-role task runs for all hosts at the first one; roles still run once per host."""
    counts = {}
    for strategy in ("ansible.builtin.linear", "netops.nautobot_backup.batch"):
        role = tmp_path / strategy.rsplit(".", 1)[-1] / "roles" / "status_role" / "tasks"
        role.mkdir(parents=True)
        (role / "main.yml").write_text(ROLE_TASKS, encoding="utf-8")
        proc, out = _run(tmp_path, strategy, ROLE_PLAYBOOK)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        counts[strategy] = (_recap(proc.stdout), int((out.parent / "forks.get_vars").read_text(encoding="utf-8")))
    linear_recap, linear_get_vars = counts["ansible.builtin.linear"]
    batch_recap, batch_get_vars = counts["netops.nautobot_backup.batch"]
    # The role ran once for each host, not twice: its end was marked for every host.
    assert batch_recap == linear_recap and batch_recap["dev03"].startswith("ok=1    changed=1 ")
    assert linear_get_vars - batch_get_vars == 12 - 1, (linear_get_vars, batch_get_vars)
