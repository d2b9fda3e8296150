"""AWX job slicing: 4 slices of a 200-device Nautobot inventory run concurrently through ansible-runner,
each limited to its share the way AWX slices, all pushing to the same HTTP remote and branch.

Repeated over several rounds (device configs change between rounds, so every slice commits every
round): every durable device's file lands, every slice's commit is in the history, nothing is lost or
overwritten, and the Nautobot write-back covers exactly the durable devices.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from lab.client import LabClient
from lab.lifecycle import SPECS_DIR, start_lab, stop_lab
from testbed.runner import AwxJob, JobResult, awx_slices, awx_variables

pytestmark = [pytest.mark.lab, pytest.mark.nautobot, pytest.mark.git]

SPEC = SPECS_DIR / "awx_slices.yml"
SLICES = 4
ROUNDS = 3
CHANGED_PER_SLICE = 3


@pytest.fixture(scope="module")
def slice_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabClient]:
    """The 200-device lab, on its own free port; stopped by PID at the end."""
    state_dir: Path = tmp_path_factory.mktemp("slice-lab")
    try:
        yield start_lab(SPEC, state_dir, port=0, timeout=120)
    finally:
        stop_lab(state_dir)


@pytest.fixture(scope="module")
def slice_nautobot(nautobot, slice_lab):
    """The session Nautobot re-seeded with the 200 devices (a cached dump after the first time);
    the session's own seed is put back afterwards."""
    original = list(nautobot.devices)
    devices = [dict(device) for device in slice_lab.devices]
    try:
        nautobot.instance.seed(devices)
        nautobot.devices = devices
        yield nautobot
    finally:
        nautobot.instance.seed(original)
        nautobot.devices = original


def git(remote: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={remote}", *args], capture_output=True, text=True,
                          check=True).stdout


def slice_job(tmp: Path, ident: str, number: int, hosts: List[str], lab: LabClient, nautobot, remotes) -> AwxJob:
    """One slice job as AWX launches it: same template inputs, its own slice of the inventory."""
    device = lab.devices[0]
    extravars: Dict[str, Any] = {
        "backup_repo_url": remotes.http_url,
        "backup_repo_branch": "main",
        "backup_write_timestamp": "true",
        "backup_repo_dir": str(tmp / f"{ident}-checkout"),
        "backup_report_path": str(tmp / f"{ident}-report.json"),
        "backup_read_timeout": 20,
        "backup_repo_username": remotes.http_username,
        # Small write-back batches: four slices PATCH Nautobot at once, and each request must finish
        # within the module's 30 s timeout on a busy 2-core test machine (200 per request timed out).
        "backup_timestamp_batch_size": 10,
    }
    extravars.update(awx_variables(job_id=int(ident.split("-")[1]), template="Nautobot backup - backup (sliced)",
                                   schedule_id=4, slice_number=number, slice_count=SLICES))
    return AwxJob(
        base=tmp / "jobs",
        ident=ident,
        playbook="playbooks/backup.yml",
        inventory={"plugin": "netops.nautobot_backup.nautobot",
                   "compose": {"ansible_port": lab.port, "ansible_host_key_checking": True}},
        extravars=extravars,
        envvars={
            "NAUTOBOT_URL": nautobot.url,
            "NAUTOBOT_TOKEN": nautobot.admin_token,
            "NB_BACKUP_GIT_TOKEN": remotes.http_password,
            "NB_BACKUP_GIT_USERNAME": remotes.http_username,
        },
        machine={"username": device["username"], "password": device["password"],
                 "become_password": device["secret"]},
        machine_mode="extravars",
        limit=hosts,
    )


def test_four_concurrent_slices_lose_nothing(tmp_path, slice_lab, slice_nautobot, git_remotes):
    lab, nautobot = slice_lab, slice_nautobot
    remote = Path(git_remotes.http_remote.path)
    names = [device["name"] for device in lab.devices]
    assert len(names) == 200
    failing = {device["name"] for device in lab.devices if "auth_failure" in device["faults"]}
    durable = set(names) - failing
    slices = awx_slices(names, SLICES)
    assert sorted(sum(slices, [])) == sorted(names) and all(slices), "every device in exactly one slice"
    secrets = {"device password": lab.devices[0]["password"], "enable secret": lab.devices[0]["secret"],
               "nautobot token": nautobot.admin_token, "git token": git_remotes.http_password}
    changed_lines: Dict[str, str] = {}

    for round_number in range(1, ROUNDS + 1):
        nautobot.reset()  # no last_backup anywhere: this round's write-back alone must set exactly the durable ones
        changed: set[str] = set()
        if round_number > 1:
            for hosts in slices:
                for name in [h for h in hosts if h in durable][:CHANGED_PER_SLICE]:
                    changed_lines[name] = lab.change_config(name).strip()
                    changed.add(name)
        head_before = git(remote, "rev-parse", "main").strip()
        count_before = int(git(remote, "rev-list", "--count", "main"))

        jobs = [slice_job(tmp_path, f"job-{round_number}{index + 1:02d}", index + 1, hosts, lab, nautobot, git_remotes)
                for index, hosts in enumerate(slices)]
        started = [job.start() for job in jobs]  # all four at once, as AWX launches a sliced job's slices
        for thread, _runner in started:
            thread.join()
        results: List[JobResult] = [job.result() for job in jobs]

        commits = []
        for hosts, result in zip(slices, results, strict=True):
            slice_failing = failing & set(hosts)
            expected_status = ("failed", 2) if slice_failing else ("successful", 0)
            assert (result.status, result.rc) == expected_status, f"{result.ident}: {result.stdout()[-3000:]}"
            assert set(result.host_events("runner_on_failed")) == slice_failing, result.ident
            # The slice's lean artifact: its counts, its failed devices, its changed devices, its commit.
            artifact = result.set_stats["backup_run"]
            own = set(hosts) - failing if round_number == 1 else changed & set(hosts)
            counts = artifact["counts"]
            assert (counts["devices"], counts["failed"]) == (len(hosts), len(slice_failing)), (result.ident, counts)
            assert {f["device"] for f in artifact["failed"]} == slice_failing, result.ident
            assert set(artifact["changed"]) == own and counts["changed"] == len(own), (result.ident, artifact)
            status = artifact["git"]
            assert status["commit"] and status["pushed"] and not status["error"], (result.ident, status)
            commits.append(status["commit"])
            # The slice's commit holds exactly its own changed files (besides the front page's status records).
            shown = git(remote, "show", "--name-only", "--format=", status["commit"])
            files = {line for line in shown.splitlines() if line and not line.startswith(".status/")}
            assert {f.split("/", 1)[1].split(".", 1)[0] for f in files} == own, (result.ident, sorted(files))
            for path, text in result.artifact_texts():
                if path.name == "command":  # runner's record of the env it was given (owner-only)
                    assert path.stat().st_mode & 0o077 == 0
                    continue
                for what, secret in secrets.items():
                    assert secret not in text, f"{what} in {path}"

        # Every slice's commit is in the branch's history, and there is no other new commit.
        assert len(set(commits)) == SLICES
        for commit in commits:
            subprocess.run(["git", f"--git-dir={remote}", "merge-base", "--is-ancestor", commit, "main"], check=True)
        assert int(git(remote, "rev-list", "--count", "main")) == count_before + SLICES
        assert git(remote, "rev-list", "--first-parent", f"{head_before}..main").count("\n") == SLICES, "linear"

        # Every durable device's file is in the remote; no failed device's; changes are not overwritten.
        tree = set(git(remote, "ls-tree", "-r", "--name-only", "main").splitlines())
        running = {path.split("/", 1)[1].rsplit(".running-config", 1)[0] for path in tree
                   if path.endswith(".running-config")}
        assert running == durable, (sorted(durable - running), sorted(running - durable))
        for name, line in changed_lines.items():
            assert line in git(remote, "show", f"main:backups/{name}.running-config"), f"{name}: change lost"

        # The write-back covers exactly the durable devices.
        data = nautobot.graphql("{ devices { name cf_last_backup } }")
        stamped = {device["name"] for device in data["devices"] if device["cf_last_backup"]}
        assert stamped == durable, (sorted(durable - stamped), sorted(stamped - durable))
