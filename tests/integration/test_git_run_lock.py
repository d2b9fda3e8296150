"""Two concurrent ``playbooks/backup.yml`` runs on ONE checkout: they never interleave (issue #12, run lock).

The real test bed: Nautobot inventory, the SSH device lab, the authenticated HTTP Git remote. The
first run is paused (SIGSTOP, by its PID) once it holds the run lock, so the second run reliably
meets a live holder; nothing depends on timing except generous upper bounds on waits.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import pytest
import yaml

from testbed.ansible_run import BIN, ansible_env
from testbed.procs import REPO_ROOT

pytestmark = [pytest.mark.lab, pytest.mark.nautobot, pytest.mark.git, pytest.mark.timeout(900)]

PLAYBOOK = REPO_ROOT / "playbooks" / "backup.yml"
FIRST = ("ios-r1", "ios-r2", "nxos-s1")
SECOND = ("eos-s1", "junos-r1", "xr-r1")
PREPARE_TASK = "Prepare the Git checkout"


class SharedCheckout:
    """backup.yml runs that share one checkout, each with its own inventory, vars file, report and log."""

    def __init__(self, tmp_path: Path, lab, nautobot, git_remotes) -> None:
        self.tmp, self.lab, self.nautobot, self.git = tmp_path, lab, nautobot, git_remotes
        self.checkout = tmp_path / "shared" / "checkout"
        self.lock_file = self.checkout.parent / ".checkout.lock"
        self.remote = Path(git_remotes.http_remote.path)
        self.started: List[subprocess.Popen] = []

    def command(self, name: str, devices: Sequence[str], **overrides: Any) -> List[str]:
        """The ansible-playbook command of run name (inputs in 0600 files, never on the command line)."""
        inventory = self.tmp / f"{name}_nautobot.yml"
        inventory.write_text(
            yaml.safe_dump(
                {
                    "plugin": "netops.nautobot_backup.nautobot",
                    "url": self.nautobot.url,
                    "device_names": list(devices),
                    "compose": {"ansible_port": self.lab.port},
                }
            ),
            encoding="utf-8",
        )
        device = self.lab.entry("ios-r1")
        inputs: Dict[str, Any] = {
            "ansible_user": device["username"],
            "ansible_password": device["password"],
            "ansible_become_password": device["secret"],
            "backup_repo_url": self.git.http_url,
            "backup_repo_username": self.git.http_username,
            "backup_repo_token": self.git.http_password,
            "backup_repo_dir": str(self.checkout),
            "backup_report_path": str(self.tmp / f"{name}.report.json"),
            "backup_write_timestamp": False,
            "backup_read_timeout": 10,
            **overrides,
        }
        variables = self.tmp / f"{name}.vars.yml"
        variables.write_text(yaml.safe_dump(inputs), encoding="utf-8")
        variables.chmod(0o600)
        return [str(BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK), "-e", f"@{variables}"]

    def env(self) -> Dict[str, str]:
        return ansible_env({"NAUTOBOT_URL": self.nautobot.url, "NAUTOBOT_TOKEN": self.nautobot.admin_token})

    def start(self, name: str, devices: Sequence[str], **overrides: Any) -> subprocess.Popen:
        """Start run name in the background, its output in <name>.log."""
        log = (self.tmp / f"{name}.log").open("w", encoding="utf-8")
        process = subprocess.Popen(
            self.command(name, devices, **overrides),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            cwd=REPO_ROOT,
        )
        log.close()
        self.started.append(process)
        return process

    def run(self, name: str, devices: Sequence[str], **overrides: Any) -> subprocess.CompletedProcess:
        """Run name to its end."""
        return subprocess.run(
            self.command(name, devices, **overrides),
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=REPO_ROOT,
            timeout=600,
            check=False,
        )

    def output(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(encoding="utf-8")

    def holder(self) -> Optional[Dict[str, Any]]:
        """The lock file's content, or None when there is none (or it is being written)."""
        try:
            return json.loads(self.lock_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def git_cmd(self, *args: str) -> str:
        return subprocess.run(
            ["git", f"--git-dir={self.remote}", *args], capture_output=True, text=True, check=True
        ).stdout

    def stop_all(self) -> None:
        """Resume and stop, by PID, every run this test started that is still running."""
        for process in self.started:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
                process.wait()


def wait_for(what: str, condition: Callable[[], bool], process: subprocess.Popen, limit: float = 300) -> None:
    """Poll condition until it holds; fail if process ended first or after limit seconds (a generous bound)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert process.poll() is None, f"the run ended (exit {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} after {limit:g} s"
        time.sleep(0.05)


@pytest.fixture
def shared(tmp_path, lab, nautobot_clean, git_remotes):
    bed = SharedCheckout(tmp_path, lab, nautobot_clean, git_remotes)
    try:
        yield bed
    finally:
        bed.stop_all()


def test_a_second_run_on_the_same_checkout_waits_then_runs_after_the_first(shared: SharedCheckout) -> None:
    initial = shared.git_cmd("rev-parse", "main").strip()
    first = shared.start("first", FIRST)
    # The lock names the run's ansible-playbook process: the PID this test started.
    wait_for("run lock of the first run", lambda: (shared.holder() or {}).get("pid") == first.pid, first)
    os.kill(first.pid, signal.SIGSTOP)  # hold it there: alive, holding the checkout
    held = shared.holder()
    assert held is not None and held["host"] == socket.gethostname()
    second = shared.start("second", SECOND)
    wait_for("prepare task of the second run", lambda: PREPARE_TASK in shared.output("second"), second)
    time.sleep(2)  # the second run is inside prepare, polling the lock (no assertion depends on this delay)
    assert second.poll() is None and shared.holder() == held, "the second run must not take a live run's lock"
    os.kill(first.pid, signal.SIGCONT)
    assert first.wait(timeout=600) == 0, shared.output("first")
    assert second.wait(timeout=600) == 0, shared.output("second")

    output = shared.output("second")
    assert "waited " in output and f"for another run on the checkout (pid {first.pid} on host " in output, output
    commits = shared.git_cmd("log", "--format=%H %P", f"{initial}..main").splitlines()
    assert len(commits) == 2, "one commit per run, no retry needed: the second run started after the first"
    (second_commit, second_parent), (first_commit, first_parent) = (line.split() for line in commits)
    assert first_parent == initial and second_parent == first_commit
    changed = {
        commit: set(shared.git_cmd("show", "--name-only", "--format=", commit).split())
        for commit in (first_commit, second_commit)
    }
    assert changed[first_commit] >= {f"backups/{name}.running-config" for name in FIRST}
    assert changed[second_commit] >= {f"backups/{name}.running-config" for name in SECOND}
    assert not any(name.startswith("backups/" + FIRST[0]) for name in changed[second_commit])
    assert not shared.lock_file.exists(), "publish releases the run lock"
    report = json.loads((shared.tmp / "second.report.json").read_text(encoding="utf-8"))
    assert report["success"] is True and report["git_commit_status"]["pushed"] is True


def test_with_a_short_lock_timeout_the_second_run_fails_naming_the_first(shared: SharedCheckout, lab) -> None:
    initial = shared.git_cmd("rev-parse", "main").strip()
    first = shared.start("first", FIRST)
    wait_for("run lock of the first run", lambda: (shared.holder() or {}).get("pid") == first.pid, first)
    os.kill(first.pid, signal.SIGSTOP)
    held = shared.holder()
    assert held is not None
    lab.clear_log()
    try:
        second = shared.run("second", SECOND, backup_lock_timeout=3)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    output = second.stdout + second.stderr
    assert second.returncode != 0, output
    assert f"pid {first.pid} on host {socket.gethostname()}, started {held['started']}" in output, output
    assert "Waited 3 s" in output and str(shared.lock_file) in output, output
    for name in SECOND:
        assert lab.connection_log(device=name, event="connect") == [], f"{name} was contacted by the refused run"
    assert first.wait(timeout=600) == 0, shared.output("first")
    commits = shared.git_cmd("log", "--format=%s", f"{initial}..main").splitlines()
    assert len(commits) == 1, "only the first run committed"
    assert shared.git_cmd("ls-tree", "-r", "--name-only", "main").count("backups/eos-s1") == 0
    assert not shared.lock_file.exists()
