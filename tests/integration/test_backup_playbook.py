"""playbooks/backup.yml end to end: Nautobot inventory, lab devices, HTTP Git remote with auth, write-back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest
import yaml

from testbed.ansible_run import run_playbook
from testbed.http_faults import start_failing_proxy
from testbed.procs import REPO_ROOT

pytestmark = [pytest.mark.lab, pytest.mark.nautobot, pytest.mark.git]

PLAYBOOK = REPO_ROOT / "playbooks" / "backup.yml"
GOOD = ("ios-r1", "ios-r2", "nxos-s1", "eos-s1", "junos-r1", "xr-r1")
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", re.MULTILINE)


class Bed:
    """One backup run's inputs on the real test bed, and helpers to inspect the results."""

    def __init__(self, tmp_path: Path, lab, nautobot, git_remotes) -> None:
        self.tmp, self.lab, self.nautobot, self.git = tmp_path, lab, nautobot, git_remotes
        self.remote = Path(git_remotes.http_remote.path)
        self.last: Optional[subprocess.CompletedProcess] = None
        defaults = lab.entry("ios-r1")
        self.secrets = {
            "device password": defaults["password"],
            "enable secret": defaults["secret"],
            "nautobot token": nautobot.admin_token,
            "git token": git_remotes.http_password,
        }

    def inventory(self, names: Sequence[str], prefix: str = "checkout") -> Path:
        path = self.tmp / f"{prefix}_nautobot.yml"
        config = {
            "plugin": "netops.nautobot_backup.nautobot",
            "url": self.nautobot.url,
            "device_names": list(names),
            "compose": {"ansible_port": self.lab.port},
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def run(self, names: Sequence[str] = GOOD, checkout: str = "checkout", args: Sequence[str] = (), **overrides):
        """Run backup.yml; inputs go in a 0600 vars file, never on the command line."""
        device = self.lab.entry("ios-r1")
        inputs: Dict[str, Any] = {
            "ansible_user": device["username"],
            "ansible_password": device["password"],
            "ansible_become_password": device["secret"],
            "backup_repo_url": self.git.http_url,
            "backup_repo_username": self.git.http_username,
            "backup_repo_token": self.git.http_password,
            "backup_repo_dir": str(self.tmp / checkout),
            "backup_report_path": str(self.tmp / f"{checkout}.report.json"),
            "backup_write_timestamp": True,
            "backup_read_timeout": 10,
        }
        inputs.update(overrides)
        inputs = {key: value for key, value in inputs.items() if value is not None}
        vars_file = self.tmp / f"{checkout}.vars.yml"
        vars_file.write_text(yaml.safe_dump(inputs), encoding="utf-8")
        vars_file.chmod(0o600)
        self.last = run_playbook(
            PLAYBOOK,
            self.inventory(names, prefix=checkout),
            args=["-e", f"@{vars_file}", *args],
            env={"NAUTOBOT_URL": self.nautobot.url, "NAUTOBOT_TOKEN": self.nautobot.admin_token},
        )
        return self.last

    def report(self, checkout: str = "checkout") -> Dict[str, Any]:
        return json.loads((self.tmp / f"{checkout}.report.json").read_text(encoding="utf-8"))

    def git_cmd(self, *args: str) -> str:
        return subprocess.run(
            ["git", f"--git-dir={self.remote}", *args], capture_output=True, text=True, check=True
        ).stdout

    def commits(self) -> List[str]:
        return self.git_cmd("log", "--format=%H %s", "main").splitlines()

    def trailer(self, key: str, commit: str = "main") -> Optional[str]:
        """The value of one Git trailer of a commit on the remote, as git parses it (None when absent)."""
        text = self.git_cmd("log", "-1", f"--format=%(trailers:key={key},valueonly,separator=%x00)", commit)
        return text.strip("\n") or None

    def files_in(self, commit: str = "main") -> List[str]:
        return [line for line in self.git_cmd("show", "--name-only", "--format=", commit).splitlines() if line]

    def last_backup(self) -> Dict[str, Optional[str]]:
        data = self.nautobot.graphql("{ devices { name cf_last_backup } }")
        return {device["name"]: device["cf_last_backup"] for device in data["devices"]}

    def recap(self) -> Dict[str, tuple]:
        assert self.last is not None
        return {host: (int(changed), int(failed)) for host, changed, failed in RECAP.findall(self.last.stdout)}

    def output(self) -> str:
        assert self.last is not None
        return self.last.stdout + self.last.stderr


@pytest.fixture
def bed(tmp_path, lab, nautobot_clean, git_remotes):
    return Bed(tmp_path, lab, nautobot_clean, git_remotes)


def test_first_run_second_run_and_one_change(bed, lab, lab_restore):
    initial = len(bed.commits())
    first = bed.run(GOOD + ("ios-authfail",))
    assert first.returncode != 0, "a failed device must make the play fail"
    report = bed.report()
    assert report["success"] is False
    assert {d["device_name"] for d in report["failed_devices"]} == {"ios-authfail"}
    assert report["failed_devices"][0]["error_class"] == "auth_failed"
    assert report["git_commit_status"]["pushed"] is True
    commits = bed.commits()
    assert len(commits) == initial + 1, "one commit per run"
    files = set(bed.files_in())
    expected = {f"backups/{n}.running-config" for n in GOOD} | {
        f"backups/{n}.startup-config" for n in GOOD if n not in ("junos-r1", "xr-r1")
    } | {f".known_hosts/{n}" for n in GOOD}  # host key checking is on: first contact pins each device's key
    # The front page's status records (the seeded remote's hand-written README.md is kept: no page).
    expected |= {f".status/{n}.json" for n in (*GOOD, "ios-authfail")}
    assert files == expected
    stamps = bed.last_backup()
    assert {name for name, value in stamps.items() if value} == set(GOOD), "exactly the successful devices"
    # Every device the run tried gets its status; ios-authfail's says failed (test_status_writeback checks the fields).
    assert report["timestamp_update_status"]["updated_count"] == len(GOOD) + 1
    assert re.search(r"\[\d+/7\] ios-authfail failed \(auth_failed\)", bed.output())
    assert report["triggered_by"] == "manual" and report["executed_by"]
    # The commit's trailers (#15) match the report; no AWX-Job-Id outside AWX.
    assert report["run_id"] and bed.trailer("Run-Id") == report["run_id"]
    assert bed.trailer("Triggered-By") == "manual" and bed.trailer("Executed-By") == report["executed_by"]
    assert bed.trailer("AWX-Job-Id") is None
    assert (bed.trailer("Devices-Backed-Up"), bed.trailer("Devices-Failed")) == (str(len(GOOD)), "1")
    assert bed.trailer("Devices-Changed") == str(len(GOOD))
    # Batch mode (the default) ran: one task for all devices; the failed device alone is a failed host.
    assert "Back up all devices of the play in one batch" in first.stdout
    recap = bed.recap()
    assert recap["ios-authfail"][1] == 1, first.stdout
    # Batch mode: every device is in the recap too (backup_host_summary), none of the good ones failed.
    assert set(GOOD) <= set(recap) and all(recap[name][1] == 0 for name in GOOD), first.stdout
    assert re.search(r"fatal: \[ios-authfail\]: FAILED! => .*auth_failed: ", first.stdout), first.stdout

    second = bed.run(GOOD)
    assert second.returncode == 0, bed.output()
    assert len(bed.commits()) == initial + 1, "no commit when nothing changed"
    report = bed.report()
    assert report["success"] is True and report["git_commit_status"]["committed"] is False
    assert report["timestamp_update_status"]["updated_count"] == 0, "no Nautobot write on an unchanged rerun"
    assert all(changed == 0 for changed, _failed in bed.recap().values()), second.stdout

    lab_restore("eos-s1")
    added = lab.change_config("eos-s1")
    # As AWX launches it: a job ID, and a user name that tries to forge a trailer of its own.
    third = bed.run(GOOD, awx_job_id=4242, awx_user_name="eve\nRun-Id: forged\r\nAWX-Job-Id: 1")
    assert third.returncode == 0, bed.output()
    assert len(bed.commits()) == initial + 2
    # The change is unsaved (running differs from startup): eos-s1's status record says so.
    assert bed.files_in() == [".status/eos-s1.json", "backups/eos-s1.running-config"]
    assert bed.trailer("Run-Id") == bed.report()["run_id"] != report["run_id"]
    assert bed.trailer("AWX-Job-Id") == "4242"
    assert bed.trailer("Executed-By") == "eve Run-Id: forged AWX-Job-Id: 1"
    assert bed.trailer("Devices-Changed") == "1"
    assert bed.trailer("Devices-Backed-Up") == str(len(GOOD)) and bed.trailer("Devices-Failed") == "0"
    assert added.strip() in bed.git_cmd("show", "main:backups/eos-s1.running-config")


def test_concurrent_runs_into_one_remote(bed):
    initial = len(bed.commits())
    halves = (GOOD[:3], GOOD[3:])
    results: Dict[int, subprocess.CompletedProcess] = {}

    def run(index: int) -> None:
        results[index] = bed.run(halves[index], checkout=f"checkout{index}", backup_write_timestamp=False)

    threads = [threading.Thread(target=run, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index in (0, 1):
        assert results[index].returncode == 0, results[index].stdout + results[index].stderr
    assert len(bed.commits()) == initial + 2, "both commits land"
    tree = set(bed.git_cmd("ls-tree", "-r", "--name-only", "main").splitlines())
    assert {f"backups/{n}.running-config" for n in GOOD} <= tree, "nothing lost"


def test_push_rejected_writes_no_last_backup_and_leaks_nothing(bed):
    """The credential may clone but not push (the remote refuses receive-pack with HTTP 403)."""
    subprocess.run(["git", f"--git-dir={bed.remote}", "config", "http.receivepack", "false"], check=True)
    run = bed.run(GOOD[:2], args=["-vvv"])
    assert run.returncode != 0
    report = bed.report()
    assert report["success"] is False
    assert report["git_commit_status"]["pushed"] is False
    assert report["git_commit_status"]["error"]
    assert "push" in report["git_commit_status"]["error"].lower()
    assert not any(bed.last_backup().values()), "no last_backup when the push failed"
    # Their status says why instead (tests/integration/test_status_writeback.py checks every field).
    assert report["timestamp_update_status"]["updated_count"] == 2
    checkout = bed.tmp / "checkout"
    for text in (bed.output(), (checkout / ".git" / "config").read_text(encoding="utf-8"), json.dumps(report)):
        assert bed.git.http_password not in text


def test_wrong_token_fails_before_any_device_is_touched(bed, lab):
    wrong = "wrong-" + bed.git.http_password[::-1]
    lab.clear_log()
    run = bed.run(GOOD[:2], backup_repo_token=wrong, args=["-vvv"])
    assert run.returncode != 0
    assert "Authentication failed" in bed.output() or "401" in bed.output()
    assert lab.connection_log(event="connect") == []
    assert wrong not in bed.output() and bed.git.http_password not in bed.output()
    assert not any(bed.last_backup().values())


def test_writeback_failure_keeps_the_pushed_backup(bed):
    proxy = start_failing_proxy(bed.nautobot.url, fail_methods=("PATCH",))
    try:
        initial = len(bed.commits())
        run = bed.run(GOOD[:2], nautobot_url=proxy.url)
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
    assert len(bed.commits()) == initial + 1, "the backup is committed and pushed"
    report = bed.report()
    assert report["git_commit_status"]["pushed"] is True
    status = report["timestamp_update_status"]
    assert status["failed_count"] > 0 and status["errors"], status
    assert any(request.get("method") == "PATCH" for request in proxy.requests)
    assert run.returncode == 0 or "write-back" in bed.output()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backup_repo_url": None}, "backup_repo_url"),
        ({"backup_running_path_template": "../{device_name}.cfg"}, ".."),
        ({"backup_running_path_template": "{nosuch.field}/{device_name}.cfg"}, "nosuch"),
        ({"backup_timestamp_field": "no_such_field"}, "no_such_field"),
    ],
    ids=["no-repo-url", "dotdot-template", "unknown-placeholder", "unknown-custom-field"],
)
def test_bad_inputs_fail_before_any_device_is_touched(bed, lab, overrides, message):
    lab.clear_log()
    run = bed.run(GOOD[:2], **overrides)
    assert run.returncode != 0
    assert message in bed.output()
    assert lab.connection_log(event="connect") == [], "a device was contacted before the inputs were checked"
    assert not (bed.tmp / "checkout" / "backups").exists()


def test_secrets_appear_nowhere(bed):
    run = bed.run(GOOD[:3] + ("ios-authfail",), args=["-vvv"])
    assert "PLAY RECAP" in run.stdout
    checkout = bed.tmp / "checkout"
    places = {
        "-vvv output": bed.output(),
        "JSON report": (bed.tmp / "checkout.report.json").read_text(encoding="utf-8"),
        ".git/config": (checkout / ".git" / "config").read_text(encoding="utf-8"),
        "commit messages": bed.git_cmd("log", "--format=%B", "main"),
    }
    for where, text in places.items():
        for what, secret in bed.secrets.items():
            assert secret not in text, f"{what} found in {where}"


def test_per_host_mode_same_run_one_task_per_host(bed):
    run = bed.run(GOOD[:2] + ("ios-authfail",), backup_mode="per_host")
    assert run.returncode != 0
    assert "Back up the device configuration (one task per host)" in run.stdout
    assert re.search(r"^ok: \[ios-r1\]", run.stdout, re.MULTILINE) or "changed: [ios-r1]" in run.stdout
    recap = bed.recap()
    assert recap["ios-authfail"][1] == 1 and recap["ios-r1"][1] == 0 and recap["ios-r2"][1] == 0, run.stdout
    assert re.search(r"\[\d/3\] ios-authfail failed \(auth_failed\)", bed.output())
    report = bed.report()
    assert [d["device_name"] for d in report["failed_devices"]] == ["ios-authfail"]
    assert sorted(d["device_name"] for d in report["backed_up_devices"]) == ["ios-r1", "ios-r2"]
    for name in GOOD[:2]:
        assert (bed.tmp / "checkout" / "backups" / f"{name}.running-config").is_file()


def test_limit_and_workers_back_up_only_the_limited_hosts(bed):
    run = bed.run(GOOD, args=["--limit", "ios-r1,junos-r1"], backup_workers=1)
    assert run.returncode == 0, bed.output()
    report = bed.report()
    assert sorted(d["device_name"] for d in report["backed_up_devices"]) == ["ios-r1", "junos-r1"]
    assert report["devices_failed"] == 0
    assert {d["running_config_file"] for d in report["backed_up_devices"]} == {
        "backups/ios-r1.running-config",
        "backups/junos-r1.running-config",
    }
    assert set(bed.recap()) <= {"ios-r1", "junos-r1"}


def _modes(root: Path) -> Dict[str, int]:
    """Every file and directory under root (root included) with its permission bits."""
    found = {".": root.stat().st_mode & 0o7777}
    for path in root.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(root))] = path.stat().st_mode & 0o7777
    return found


def test_backups_report_and_checkout_are_private_whatever_the_umask(bed):
    """Backups hold secrets: with umask 0000 nothing the run writes is readable by other users; 0640 adds group read."""
    previous = os.umask(0)
    try:
        first = bed.run(GOOD[:2])
    finally:
        os.umask(previous)
    assert first.returncode == 0, bed.output()
    checkout = bed.tmp / "checkout"
    open_to_others = {name: oct(mode) for name, mode in _modes(checkout).items() if mode & 0o007}
    assert not open_to_others, f"readable by other users: {open_to_others}"
    backup = checkout / "backups" / "ios-r1.running-config"
    assert backup.stat().st_mode & 0o777 == 0o600
    assert (checkout / "backups").stat().st_mode & 0o777 == 0o700
    assert (bed.tmp / "checkout.report.json").stat().st_mode & 0o777 == 0o600
    assert not list(checkout.rglob("*.tmp"))

    # A site that wants group read: the files and the report become 0640, directories 0750, still nothing for others.
    previous = os.umask(0)
    try:
        second = bed.run(GOOD[:2], backup_file_mode="0640")
    finally:
        os.umask(previous)
    assert second.returncode == 0, bed.output()
    assert backup.stat().st_mode & 0o777 == 0o640
    assert (checkout / "backups").stat().st_mode & 0o777 == 0o750
    assert (bed.tmp / "checkout.report.json").stat().st_mode & 0o777 == 0o640
    assert not {name for name, mode in _modes(checkout).items() if mode & 0o007}

    # A mode for other users is refused before any device is contacted.
    bed.lab.clear_log()
    refused = bed.run(GOOD[:2], backup_file_mode="0644")
    assert refused.returncode != 0
    assert "0644" in bed.output() and "other users" in bed.output()
    assert bed.lab.connection_log() == []
