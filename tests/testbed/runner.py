"""Run playbooks through ansible-runner the way AWX runs a job, and read the artifacts back.

Private to the test suite. AWX hands each job to ansible-runner as a *private data dir*:

- ``project/``: the project checkout (here: a copy of the repository's playbooks and ansible.cfg;
  the collection itself comes from ANSIBLE_COLLECTIONS_PATH, as from an execution environment);
- ``inventory/``: the inventory, here a ``nautobot.yml`` for the inventory plugin;
- ``env/extravars``: the job's extra vars, survey answers and the ``awx_*`` / ``tower_*`` variables;
- ``env/envvars``: the custom credentials' env injectors (Nautobot token, Git token);
- ``env/cmdline`` + ``env/passwords``: the Machine credential, as AWX passes it (``-u <user>
  --ask-pass --ask-become-pass`` answered through runner's expect prompts); or, with
  ``machine="extravars"``, as a custom credential injecting ansible_user / ansible_password /
  ansible_become_password into the extra vars.

``AwxJob.run()`` returns a :class:`JobResult` over ``artifacts/<ident>/``: status, rc, the job
events, the per-host events and the ``set_stats`` data (``artifact_data`` of the stats event).

``awx_slices`` splits a host list the way AWX job slicing does: the inventory's hosts ordered by
name, slice k of N takes the hosts at positions k-1, k-1+N, k-1+2N, ...
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

import ansible_runner
import yaml

from testbed.ansible_run import BIN, COLLECTIONS_PATH
from testbed.procs import REPO_ROOT

# The execution environment the jobs run in. NB_BACKUP_RUNNER_VENV: a venv whose ansible-runner command and
# ansible-playbook run each job, as an execution node's EE does (scripts/ee-venv.sh builds one from the collection's
# introspected requirements); NB_BACKUP_COLLECTIONS_PATH: where the collection is installed. Unset: ansible-runner
# of the test venv in-process, the test venv's ansible-playbook and .build/collections (the linked checkout).
RUNNER_VENV = os.environ.get("NB_BACKUP_RUNNER_VENV", "")
RUNNER_BIN = Path(RUNNER_VENV).resolve() / "bin" if RUNNER_VENV else BIN
RUNNER_COLLECTIONS_PATH = Path(os.environ.get("NB_BACKUP_COLLECTIONS_PATH") or COLLECTIONS_PATH).resolve()

# Prompts ansible-playbook shows for --ask-pass / --ask-become-pass (the patterns AWX answers).
SSH_PASSWORD_PROMPT = r"^SSH [pP]assword:\s*?$"
BECOME_PASSWORD_PROMPT = r"^BECOME [pP]assword.*:\s*?$"


def awx_slices(hosts: Sequence[str], count: int) -> List[List[str]]:
    """AWX job slicing: hosts ordered by name; slice k (1-based) gets positions k-1, k-1+count, ..."""
    ordered = sorted(hosts)
    return [ordered[index::count] for index in range(count)]


def awx_variables(job_id: int, template: str, user: str = "awx-operator", schedule_id: Optional[int] = None,
                  slice_number: int = 1, slice_count: int = 1) -> Dict[str, Any]:
    """The variables AWX adds to every job's extra vars (awx_* and their legacy tower_* twins)."""
    base: Dict[str, Any] = {
        "job_id": job_id,
        "job_launch_type": "scheduled" if schedule_id else "manual",
        "job_template_id": 7,
        "job_template_name": template,
        "user_id": 3,
        "user_name": user,
        "user_email": f"{user}@example.com",
        "user_first_name": "",
        "user_last_name": "",
        "inventory_id": 2,
        "inventory_name": "Nautobot backup - Nautobot devices",
        "project_revision": "0" * 40,
        "project_scm_branch": "main",
        "execution_node": "awx-task-0",
    }
    if slice_count > 1:
        base.update(job_slice_number=slice_number, job_slice_count=slice_count)
    if schedule_id:
        base.update(schedule_id=schedule_id, schedule_name="Nautobot backup - nightly",
                    workflow_job_id=job_id - slice_number if slice_count > 1 else None)
    variables: Dict[str, Any] = {}
    for key, value in base.items():
        if value is None:
            continue
        variables[f"awx_{key}"] = value
        variables[f"tower_{key}"] = value
    return variables


@dataclass
class JobResult:
    """What AWX reads back from one ansible-runner job (its artifacts directory)."""

    ident: str
    status: str
    rc: int
    artifacts: Path
    events: List[Dict[str, Any]] = field(repr=False)

    def stats_event(self) -> Dict[str, Any]:
        """The playbook_on_stats event (the end-of-play recap)."""
        stats = [e for e in self.events if e.get("event") == "playbook_on_stats"]
        assert stats, f"job {self.ident}: no playbook_on_stats event ({self.status}, rc={self.rc})"
        return stats[-1]

    @property
    def set_stats(self) -> Dict[str, Any]:
        """The run's set_stats data, as AWX stores it in the job's artifacts."""
        return dict(self.stats_event()["event_data"].get("artifact_data") or {})

    def host_events(self, event: str) -> Dict[str, List[Dict[str, Any]]]:
        """Events of one kind (runner_on_failed, runner_on_ok, ...) grouped by host."""
        grouped: Dict[str, List[Dict[str, Any]]] = {}
        for item in self.events:
            if item.get("event") == event:
                grouped.setdefault(item["event_data"].get("host", ""), []).append(item)
        return grouped

    def recap(self) -> Dict[str, Dict[str, int]]:
        """Per-host counters of the recap (ok, changed, failures, dark, skipped, ...)."""
        data = self.stats_event()["event_data"]
        recap: Dict[str, Dict[str, int]] = {}
        for counter in ("ok", "changed", "failures", "dark", "skipped", "ignored", "rescued", "processed"):
            for host, value in (data.get(counter) or {}).items():
                recap.setdefault(host, {})[counter] = value
        return recap

    def stdout(self) -> str:
        path = self.artifacts / "stdout"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def artifact_texts(self) -> Iterator[tuple[Path, str]]:
        """Every file runner wrote for this job, as text (for leak scans)."""
        for path in sorted(self.artifacts.rglob("*")):
            if path.is_file():
                yield path, path.read_text(encoding="utf-8", errors="replace")


@dataclass
class AwxJob:
    """One AWX job's private data dir, written the way AWX writes it."""

    base: Path
    ident: str
    playbook: str
    inventory: Mapping[str, Any]
    extravars: Mapping[str, Any]
    envvars: Mapping[str, str]
    machine: Mapping[str, str]  # username, password, become_password
    machine_mode: str = "prompt"  # "prompt" (AWX's Machine credential) or "extravars"
    limit: Optional[Sequence[str]] = None
    verbosity: int = 0

    @property
    def private_data_dir(self) -> Path:
        return self.base / self.ident

    def prepare(self) -> Path:
        """Write project/, inventory/ and env/ of the private data dir."""
        pdd = self.private_data_dir
        project = pdd / "project"
        project.mkdir(parents=True, exist_ok=True)
        shutil.copytree(REPO_ROOT / "playbooks", project / "playbooks", dirs_exist_ok=True)
        shutil.copy2(REPO_ROOT / "ansible.cfg", project / "ansible.cfg")
        (pdd / "inventory").mkdir(exist_ok=True)
        _write(pdd / "inventory" / "nautobot.yml", yaml.safe_dump(dict(self.inventory), sort_keys=True))
        env = pdd / "env"
        env.mkdir(exist_ok=True)
        extravars = dict(self.extravars)
        cmdline: List[str] = []
        passwords: Dict[str, str] = {}
        if self.machine_mode == "prompt":
            cmdline += ["-u", self.machine["username"]]
            if self.machine.get("password"):
                cmdline.append("--ask-pass")
                passwords[SSH_PASSWORD_PROMPT] = self.machine["password"]
            if self.machine.get("become_password"):
                cmdline.append("--ask-become-pass")
                passwords[BECOME_PASSWORD_PROMPT] = self.machine["become_password"]
        elif self.machine_mode == "extravars":
            extravars.update(
                ansible_user=self.machine["username"],
                ansible_password=self.machine["password"],
                ansible_become_password=self.machine["become_password"],
            )
        else:
            raise ValueError(f"unknown machine credential mode {self.machine_mode!r}")
        if self.verbosity:
            cmdline.append("-" + "v" * self.verbosity)
        _write(env / "extravars", json.dumps(extravars, sort_keys=True))
        _write(env / "envvars", json.dumps(self._envvars(), sort_keys=True))
        _write(env / "passwords", json.dumps(passwords))
        _write(env / "cmdline", " ".join(cmdline))
        _write(env / "settings", json.dumps({"suppress_ansible_output": True, "job_timeout": 1800}))
        return pdd

    def _envvars(self) -> Dict[str, str]:
        env = {
            # ansible-playbook of the test venv (or NB_BACKUP_RUNNER_VENV) first, as the EE has it on PATH
            "PATH": os.pathsep.join((str(RUNNER_BIN), os.environ.get("PATH", ""))),
            "ANSIBLE_COLLECTIONS_PATH": str(RUNNER_COLLECTIONS_PATH),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        }
        env.update(self.envvars)
        return env

    def start(self) -> tuple[Any, Any]:
        """Prepare and start the job in a thread; return (thread, runner)."""
        pdd = self.prepare()
        if RUNNER_VENV:
            return self._start_command(pdd), None
        return ansible_runner.run_async(
            private_data_dir=str(pdd),
            playbook=self.playbook,
            ident=self.ident,
            limit=",".join(self.limit) if self.limit else None,
            quiet=True,
        )

    def _start_command(self, pdd: Path) -> threading.Thread:
        """Run the job with NB_BACKUP_RUNNER_VENV's ansible-runner command (its output: <base>/<ident>.runner.log)."""
        command = [str(RUNNER_BIN / "ansible-runner"), "run", str(pdd), "-p", self.playbook, "--ident", self.ident,
                   "-q"] + (["--limit", ",".join(self.limit)] if self.limit else [])
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PYTHON", "VIRTUAL_ENV"))}

        def run() -> None:
            with open(self.base / f"{self.ident}.runner.log", "w", encoding="utf-8") as log:
                subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)

        thread = threading.Thread(target=run, name=f"ansible-runner {self.ident}")
        thread.start()
        return thread

    def result(self) -> JobResult:
        artifacts = self.private_data_dir / "artifacts" / self.ident
        status_file, rc_file = artifacts / "status", artifacts / "rc"
        events = []
        for path in sorted((artifacts / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0])):
            events.append(json.loads(path.read_text(encoding="utf-8")))
        return JobResult(
            ident=self.ident,
            status=status_file.read_text(encoding="utf-8").strip() if status_file.exists() else "missing",
            rc=int(rc_file.read_text(encoding="utf-8").strip() or -1) if rc_file.exists() else -1,
            artifacts=artifacts,
            events=events,
        )

    def run(self) -> JobResult:
        """Run the job to the end and return its result."""
        thread, _runner = self.start()
        thread.join()
        return self.result()


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
