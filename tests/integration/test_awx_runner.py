"""playbooks/backup.yml run the way AWX runs a job: ansible-runner, a private data dir, the awx_* extra
vars, credentials injected as env vars, and the job's artifacts read back (status, rc, events, set_stats)."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest

from testbed.runner import AwxJob, JobResult, awx_variables

pytestmark = [pytest.mark.lab, pytest.mark.nautobot, pytest.mark.git]

GOOD = ("ios-r1", "ios-r2", "nxos-s1", "eos-s1", "junos-r1", "xr-r1")
FAILING = {"ios-authfail": "auth_failed"}


class AwxBed:
    """Jobs on the real test bed, with the inputs an AWX job template and its credentials give."""

    def __init__(self, tmp_path: Path, lab, nautobot, git_remotes) -> None:
        self.tmp, self.lab, self.nautobot, self.git = tmp_path, lab, nautobot, git_remotes
        self.remote = Path(git_remotes.http_remote.path)
        device = lab.entry("ios-r1")
        self.machine = {"username": device["username"], "password": device["password"],
                        "become_password": device["secret"]}
        self.secrets = {
            "device password": device["password"],
            "enable secret": device["secret"],
            "nautobot token": nautobot.admin_token,
            "git token": git_remotes.http_password,
        }

    def job(self, ident: str, names: Sequence[str], machine_mode: str = "extravars",
            schedule_id: Optional[int] = None, limit: Optional[Sequence[str]] = None,
            verbosity: int = 0, **survey: Any) -> AwxJob:
        extravars: Dict[str, Any] = {
            # survey answers of the backup job template
            "backup_repo_url": self.git.http_url,
            "backup_repo_branch": "main",
            "backup_running_path_template": "backups/{device_name}.running-config",
            "backup_startup_path_template": "backups/{device_name}.startup-config",
            "backup_write_timestamp": "true",
            # each AWX job runs in its own scratch space
            "backup_repo_dir": str(self.tmp / f"{ident}-checkout"),
            "backup_report_path": str(self.tmp / f"{ident}-report.json"),
            "backup_read_timeout": 10,
            # what the Git credential type injects as extra vars
            "backup_repo_username": self.git.http_username,
        }
        extravars.update(awx_variables(job_id=int(ident.rsplit("-", 1)[-1]), template="Nautobot backup - backup",
                                       schedule_id=schedule_id))
        extravars.update(survey)
        return AwxJob(
            base=self.tmp / "jobs",
            ident=ident,
            playbook="playbooks/backup.yml",
            inventory={
                "plugin": "netops.nautobot_backup.nautobot",
                "device_names": list(names),
                # as awx/inventory/nautobot.yml: host keys checked despite ansible-runner's env (checking off)
                "compose": {"ansible_port": self.lab.port, "ansible_host_key_checking": True},
            },
            extravars=extravars,
            envvars={
                # the Nautobot API token credential type's env injector
                "NAUTOBOT_URL": self.nautobot.url,
                "NAUTOBOT_TOKEN": self.nautobot.admin_token,
                # the Git HTTPS token credential type's env injector
                "NB_BACKUP_GIT_TOKEN": self.git.http_password,
                "NB_BACKUP_GIT_USERNAME": self.git.http_username,
            },
            machine=self.machine,
            machine_mode=machine_mode,
            limit=limit,
            verbosity=verbosity,
        )

    def git_cmd(self, *args: str) -> str:
        return subprocess.run(["git", f"--git-dir={self.remote}", *args], capture_output=True, text=True,
                              check=True).stdout

    def tree(self) -> set[str]:
        return set(self.git_cmd("ls-tree", "-r", "--name-only", "main").splitlines())

    def last_backup(self) -> Dict[str, Optional[str]]:
        data = self.nautobot.graphql("{ devices { name cf_last_backup } }")
        return {device["name"]: device["cf_last_backup"] for device in data["devices"]}

    def assert_no_secrets(self, result: JobResult, extra_texts: Sequence[str] = ()) -> None:
        """No secret in any artifact file, any event, or the texts given."""
        texts: List[tuple[str, str]] = []
        for path, text in result.artifact_texts():
            if path == result.artifacts / "command":
                # ansible-runner's own record of the command and the environment it was given (the
                # credential injections themselves), owner-only like env/; not written by the collection.
                assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
                continue
            texts.append((str(path), text))
        texts += [(f"extra text {index}", text) for index, text in enumerate(extra_texts)]
        assert len(texts) > 3, "runner wrote no artifacts"
        for where, text in texts:
            for what, secret in self.secrets.items():
                assert secret not in text, f"{what} found in {where}"


@pytest.fixture
def awx(tmp_path, lab, nautobot_clean, git_remotes):
    return AwxBed(tmp_path, lab, nautobot_clean, git_remotes)


def assert_job_result(bed: AwxBed, result: JobResult, good: Sequence[str], failing: Dict[str, str]) -> Dict[str, Any]:
    """Status, rc, per-host events and set_stats of a backup job; return the run report."""
    if failing:
        assert (result.status, result.rc) == ("failed", 2), result.stdout()[-3000:]
    else:
        assert (result.status, result.rc) == ("successful", 0), result.stdout()[-3000:]
    # Per-host job events: each failing device has its own failed event naming the failure class;
    # no other host failed or was unreachable. (Successful devices may be backed up in a batch,
    # so their per-host events are not counted: set_stats below has the per-device results.)
    recap = result.recap()
    failed = result.host_events("runner_on_failed")
    assert {host for host, counters in recap.items() if counters.get("failures")} == set(failing), recap
    assert set(failed) == set(failing), sorted(failed)
    for name, error_class in failing.items():
        messages = " ".join(str(e["event_data"].get("res", {}).get("msg", "")) for e in failed[name])
        assert error_class in messages, (name, messages)
    assert not result.host_events("runner_on_unreachable")

    stats = result.set_stats
    assert "backup_run" in stats, f"set_stats artifacts: {sorted(stats)}"
    # The artifact is lean: counts, the failed devices with their class, the changed names, Git.
    artifact = stats["backup_run"]
    assert len(json.dumps(artifact)) <= 16384
    assert artifact["success"] is (not failing)
    counts = artifact["counts"]
    assert (counts["devices"], counts["failed"]) == (len(good) + len(failing), len(failing)), counts
    assert counts["ok"] + counts["changed"] == len(good), counts
    assert counts["failed_by_class"] == dict(Counter(failing.values())), counts
    assert {f["device"]: f["error_class"] for f in artifact["failed"]} == failing
    assert "backed_up_devices" not in artifact and "failed_devices" not in artifact
    # Every device's full record is in the report file the artifact names, and the two agree.
    report = json.loads(Path(artifact["report_path"]).read_text())
    assert {d["device_name"] for d in report["backed_up_devices"]} == set(good)
    assert {d["device_name"]: d["error_class"] for d in report["failed_devices"]} == failing
    assert artifact["changed"] == [d["device_name"] for d in report["backed_up_devices"] if d["changed"]]
    commit = report["git_commit_status"]
    assert not commit.get("error"), commit
    assert commit["pushed"] is commit["committed"], commit
    assert artifact["git"] == {"commit": commit["commit_hash"] if commit["committed"] else None,
                               "pushed": commit["pushed"], "files_changed": commit["files_changed"], "error": None}
    assert report["credential_info"]["username"] == bed.machine["username"]
    return report


def test_backup_job_as_awx_runs_it(awx):
    """A manual job: artifacts, per-host failures, set_stats, Git, write-back, and no secret anywhere."""
    before = awx.tree()
    # backup_processes 2: the batch shared out over forked processes, as from 100 devices on.
    result = awx.job("job-101", GOOD + tuple(FAILING), verbosity=3, backup_processes=2).run()
    report = assert_job_result(awx, result, GOOD, FAILING)
    assert report["triggered_by"] == "manual"
    assert report["executed_by"] == "awx-operator"
    expected = {f"backups/{n}.running-config" for n in GOOD}
    assert expected <= awx.tree() - before
    assert not any(path.startswith("backups/ios-authfail") for path in awx.tree())
    stamps = awx.last_backup()
    assert {name for name, value in stamps.items() if value} == set(GOOD), "write-back: exactly the durable devices"
    awx.assert_no_secrets(result, [awx.git_cmd("log", "--format=%H %an %ae %s%n%b", "main")])
    assert result.events, "job events"


def test_scheduled_job_is_triggered_by_schedule_and_unchanged_rerun_writes_nothing(awx):
    first = awx.job("job-201", GOOD[:3], schedule_id=12).run()
    report = assert_job_result(awx, first, GOOD[:3], {})
    assert report["triggered_by"] == "schedule"
    commits = awx.git_cmd("rev-list", "--count", "main")

    again = awx.job("job-202", GOOD[:3], schedule_id=12,
                    backup_repo_dir=str(awx.tmp / "job-201-checkout")).run()
    report = assert_job_result(awx, again, GOOD[:3], {})
    assert report["git_commit_status"]["committed"] is False
    artifact = again.set_stats["backup_run"]
    assert artifact["changed"] == [] and artifact["counts"]["ok"] == 3 and artifact["git"]["commit"] is None
    assert awx.git_cmd("rev-list", "--count", "main") == commits, "no commit when nothing changed"
    assert report["timestamp_update_status"]["updated_count"] == 0
    awx.assert_no_secrets(again)


def test_machine_credential_as_awx_passes_it(awx):
    """AWX gives a Machine credential as `-u <user> --ask-pass --ask-become-pass` and answers the prompts."""
    result = awx.job("job-301", GOOD[:2], machine_mode="prompt", backup_processes=2).run()
    assert_job_result(awx, result, GOOD[:2], {})
    awx.assert_no_secrets(result)


def test_per_host_mode_gives_every_device_its_own_host_events(awx):
    """backup_mode per_host (the documented choice for AWX host summaries): each device has its own events."""
    result = awx.job("job-401", GOOD[:3] + tuple(FAILING), backup_mode="per_host").run()
    assert_job_result(awx, result, GOOD[:3], FAILING)
    recap = result.recap()
    assert set(recap) == set(GOOD[:3]) | set(FAILING), recap
    backup_events = {
        host: [e for e in events if e["event_data"].get("task", "").startswith("Back up the device configuration")]
        for host, events in result.host_events("runner_on_ok").items()
    }
    for name in GOOD[:3]:
        assert backup_events.get(name), f"no runner_on_ok event of the backup task for {name}"
        assert backup_events[name][0]["event_data"]["res"]["running_config_success"] is True
    awx.assert_no_secrets(result)
