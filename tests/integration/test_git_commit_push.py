"""git_commit_push through ansible-playbook against the test bed's Git remotes (file:// and HTTP basic auth).

Each run executes one task on localhost (inventory ``localhost ansible_connection=local``) and
records its registered result into a JSON file. Task options come from a vars file (``-e @file``),
so a token never appears on a command line; some tests give the token and user name through the
NB_BACKUP_GIT_TOKEN / NB_BACKUP_GIT_USERNAME environment variables instead.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import file_modes, write_if_changed
from testbed.ansible_run import run_playbook
from testbed.git_fixtures import GitRemotes
from testbed.git_remotes import branches, clone, commit_files, git, log, ls_tree, rev_parse, show

pytestmark = [pytest.mark.git, pytest.mark.timeout(300)]

OPTIONS = [
    "mode",
    "repo_dir",
    "repo_url",
    "branch",
    "username",
    "token",
    "ssh_key_file",
    "files",
    "device_results",
    "removed_files",
    "message",
    "message_vars",
    "author_name",
    "author_email",
    "push_retries",
    "timestamp",
    "timeout",
    "lock_timeout",
    "file_mode",
]

PLAYBOOK = "\n".join(
    [
        "- name: Publish backups to Git",
        "  hosts: localhost",
        "  gather_facts: false",
        "  vars:",
        '    ansible_python_interpreter: "{{ ansible_playbook_python }}"',
        "  tasks:",
        "    - name: Prepare or publish",
        "      netops.nautobot_backup.git_commit_push:",
        *[f'        {name}: "{{{{ git_{name} | default(omit) }}}}"' for name in OPTIONS],
        "      register: git_result",
        "      ignore_errors: true",
        "",
        "    - name: Record the result",
        "      ansible.builtin.copy:",
        '        content: "{{ git_result | to_nice_json }}"',
        '        dest: "{{ results_file }}"',
        '        mode: "0600"',
        "      check_mode: false",
        "",
    ]
)


class Runner:
    """Runs the one-task playbook with options and returns the registered result."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.playbook = tmp_path / "git.yml"
        self.playbook.write_text(PLAYBOOK, encoding="utf-8")
        self.inventory = tmp_path / "hosts.ini"
        self.inventory.write_text("localhost ansible_connection=local\n", encoding="utf-8")
        self.count = 0
        self.last: Optional[subprocess.CompletedProcess] = None

    def run(self, args: Sequence[str] = (), env: Optional[Mapping[str, str]] = None, **options: Any) -> Dict[str, Any]:
        """Run the task with options (git_commit_push option names) and return its result."""
        self.count += 1
        results = self.tmp / f"result-{self.count}.json"
        variables = self.tmp / f"vars-{self.count}.json"
        variables.write_text(
            json.dumps({"results_file": str(results), **{f"git_{k}": v for k, v in options.items()}}),
            encoding="utf-8",
        )
        variables.chmod(0o600)
        started = time.monotonic()
        self.last = run_playbook(self.playbook, self.inventory, args=["-e", f"@{variables}", *args], env=env)
        self.elapsed = time.monotonic() - started
        variables.unlink()
        assert results.exists(), self.last.stdout + self.last.stderr
        return json.loads(results.read_text(encoding="utf-8"))


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


def write(root: Path, files: Mapping[str, str]) -> List[str]:
    """Write relative path -> text under root, return the paths."""
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return list(files)


def http_env(remotes: GitRemotes, token: Optional[str] = None) -> Dict[str, str]:
    """Credentials for the HTTP remote through the module's environment fallbacks."""
    return {
        "NB_BACKUP_GIT_USERNAME": remotes.http_username,
        "NB_BACKUP_GIT_TOKEN": remotes.http_password if token is None else token,
    }


def files_under(path: Path) -> Dict[str, bytes]:
    """Every file below path with its content (to prove a directory was left untouched)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_prepare_clones_seeded_remote_then_publish_commits_only_run_files(runner: Runner, git_remotes: GitRemotes):
    repo_dir = git_remotes.workdir / "checkout"
    url = git_remotes.file_url
    check = runner.run(args=["--check"], mode="prepare", repo_dir=str(repo_dir), repo_url=url)
    assert check["changed"] is True and check["git_status"]["operation"] == "cloned", check
    assert not repo_dir.exists()

    first = runner.run(mode="prepare", repo_dir=str(repo_dir), repo_url=url)
    assert not first.get("failed"), first
    assert first["changed"] is True
    assert first["git_status"] == {
        "repository_existed": False,
        "operation": "cloned",
        "repository_path": str(repo_dir),
        "repository_url": url,
        "branch": "main",
    }
    again = runner.run(mode="prepare", repo_dir=str(repo_dir), repo_url=url)
    assert (again["changed"], again["git_status"]["operation"], again["git_status"]["repository_existed"]) == (
        False,
        "opened",
        True,
    )

    files = write(
        repo_dir, {"Europe/Berlin/r1.running-config": "hostname r1\n", "Europe/Berlin/r1.startup-config": "x\n"}
    )
    write(repo_dir, {"notes.txt": "an unrelated untracked file\n"})
    options = {
        "mode": "publish",
        "repo_dir": str(repo_dir),
        "repo_url": url,
        "files": files + [str(repo_dir / files[0])],  # absolute paths inside the checkout work too
        "message": "Backup {date} ({timestamp}): {devices_backed_up} ok, {devices_failed} failed, "
        "{files_changed} files",
        "message_vars": {"devices_backed_up": 1, "devices_failed": 0},
        "timestamp": "2024-05-01T21:30:00Z",
        "author_name": "Backup Robot",
        "author_email": "robot@example.org",
    }
    dry = runner.run(args=["--check"], **options)
    assert dry["changed"] is True and dry["changed_files"] == files, dry
    assert dry["git_commit_status"]["committed"] is False and dry["git_commit_status"]["files_changed"] == 2
    assert log(git_remotes.seeded_remote) == ["Initial commit"]

    published = runner.run(**options)
    assert not published.get("failed"), published
    assert published["changed"] is True
    status = published["git_commit_status"]
    assert status == {
        "committed": True,
        "pushed": True,
        "commit_hash": rev_parse(git_remotes.seeded_remote, "main"),
        "files_changed": 2,
        "error": None,
    }
    assert log(git_remotes.seeded_remote)[0] == "Backup 20240501 (20240501_213000): 1 ok, 0 failed, 2 files"
    author = git("log", "-1", "--format=%an|%ae|%cn|%ce", "refs/heads/main", cwd=git_remotes.seeded_remote.path)
    assert author.stdout.strip() == "Backup Robot|robot@example.org|Backup Robot|robot@example.org"
    assert ls_tree(git_remotes.seeded_remote) == [
        "Europe/Berlin/r1.running-config",
        "Europe/Berlin/r1.startup-config",
        "README.md",
    ]
    assert git("status", "--porcelain", cwd=repo_dir).stdout == "?? notes.txt\n"

    second = runner.run(**options)
    assert not second.get("failed"), second
    assert second["changed"] is False
    assert second["git_commit_status"]["committed"] is False and second["git_commit_status"]["pushed"] is False
    assert len(log(git_remotes.seeded_remote)) == 2


def test_empty_remote_first_publish_creates_main(runner: Runner, git_remotes: GitRemotes) -> None:
    repo_dir = git_remotes.workdir / "checkout"
    url = git_remotes.empty_url
    prepared = runner.run(mode="prepare", repo_dir=str(repo_dir), repo_url=url)
    assert not prepared.get("failed"), prepared
    assert prepared["git_status"]["operation"] == "initialized"
    files = write(repo_dir, {"backups/r1.running-config": "hostname r1\n"})
    published = runner.run(
        mode="publish", repo_dir=str(repo_dir), repo_url=url, files=files, timestamp="20240501_213000"
    )
    assert published["git_commit_status"]["pushed"] is True, published
    assert branches(git_remotes.empty_remote) == ["main"]
    assert log(git_remotes.empty_remote) == ["Config backup 20240501_213000: 1 files changed"]
    assert show(git_remotes.empty_remote, "backups/r1.running-config") == "hostname r1\n"


def test_device_results_pick_the_saved_files_and_fill_the_message(runner: Runner, git_remotes: GitRemotes) -> None:
    repo_dir = git_remotes.workdir / "checkout"
    common = {"repo_dir": str(repo_dir), "repo_url": git_remotes.file_url}
    assert not runner.run(mode="prepare", **common).get("failed")
    write(repo_dir, {"b/r1.run": "hostname r1\n", "b/r1.start": "hostname r1\n", "b/r2.run": "hostname r2\n",
                     "b/stray.txt": "not from this run\n"})
    results = {
        "r1": {"running_config_success": True, "running_config_file": "b/r1.run",
               "startup_config_success": True, "startup_config_file": "b/r1.start"},
        "r2": {"running_config_success": True, "running_config_file": "b/r2.run", "startup_config_success": False},
        "r3": {"running_config_success": False, "error": "authentication failed", "error_class": "auth_failed"},
    }
    message = "Config backup {timestamp}: {devices_backed_up} ok, {devices_failed} failed"
    bad = runner.run(mode="publish", device_results="r1", message=message, **common)
    assert bad["failed"] and "device_results: device results must be a dict or a list" in bad["msg"], bad
    assert log(git_remotes.seeded_remote) == ["Initial commit"]
    published = runner.run(
        mode="publish", device_results=results, message=message, timestamp="20240501_213000", **common
    )
    assert published["git_commit_status"]["pushed"] is True, published
    assert sorted(published["changed_files"]) == ["b/r1.run", "b/r1.start", "b/r2.run"]
    assert ls_tree(git_remotes.seeded_remote) == ["README.md", "b/r1.run", "b/r1.start", "b/r2.run"]
    assert log(git_remotes.seeded_remote)[0] == "Config backup 20240501_213000: 2 ok, 1 failed"


def test_missing_branch_is_created(runner: Runner, git_remotes: GitRemotes) -> None:
    repo_dir = git_remotes.workdir / "checkout"
    common = {"repo_dir": str(repo_dir), "repo_url": git_remotes.file_url, "branch": "backups/nightly"}
    prepared = runner.run(mode="prepare", **common)
    assert prepared["changed"] is True and prepared["git_status"]["branch"] == "backups/nightly", prepared
    files = write(repo_dir, {"r1.cfg": "hostname r1\n"})
    published = runner.run(mode="publish", files=files, **common)
    assert published["git_commit_status"]["pushed"] is True, published
    assert branches(git_remotes.seeded_remote) == ["backups/nightly", "main"]
    assert ls_tree(git_remotes.seeded_remote, "backups/nightly") == ["README.md", "r1.cfg"]
    assert log(git_remotes.seeded_remote, "main") == ["Initial commit"]


@pytest.mark.parametrize("kind", ["other-remote", "not-a-repo"])
def test_existing_directory_that_is_not_a_checkout_of_the_url_is_an_error(
    runner: Runner, git_remotes: GitRemotes, kind: str
) -> None:
    repo_dir = git_remotes.workdir / "existing"
    if kind == "other-remote":
        clone(git_remotes.empty_url, repo_dir)
        commit_files(repo_dir, {"keep.cfg": "keep\n"}, "Local")
    else:
        write(repo_dir, {"keep.cfg": "keep\n", "sub/other.txt": "other\n"})
    before = files_under(repo_dir)
    result = runner.run(mode="prepare", repo_dir=str(repo_dir), repo_url=git_remotes.file_url)
    assert result["failed"] is True
    assert "refusing to touch it" in result["msg"], result
    assert str(repo_dir) in result["msg"]
    assert files_under(repo_dir) == before
    result = runner.run(mode="publish", repo_dir=str(repo_dir), repo_url=git_remotes.file_url, files=["keep.cfg"])
    assert result["failed"] is True and "refusing to touch it" in result["msg"]
    assert result["git_commit_status"]["error"] == result["msg"]
    assert files_under(repo_dir) == before


def test_url_with_credentials_is_refused(runner: Runner, git_remotes: GitRemotes) -> None:
    secret = "tok-" + secrets.token_hex(8)
    url = git_remotes.http_url.replace("http://", f"http://{git_remotes.http_username}:{secret}@")
    result = runner.run(mode="prepare", repo_dir=str(git_remotes.workdir / "c"), repo_url=url)
    assert result["failed"] is True
    assert "contains credentials" in result["msg"] and "'token'" in result["msg"]
    assert secret not in json.dumps(result)
    assert not (git_remotes.workdir / "c").exists()


def test_http_token_via_askpass_pushes_and_leaves_no_trace(runner: Runner, git_remotes: GitRemotes) -> None:
    repo_dir = git_remotes.workdir / "checkout"
    password = git_remotes.http_password
    common = {
        "repo_dir": str(repo_dir),
        "repo_url": git_remotes.http_url,
        "username": git_remotes.http_username,
        "token": password,
    }
    prepared = runner.run(args=["-vvv"], mode="prepare", **common)
    assert not prepared.get("failed"), prepared
    files = write(repo_dir, {"configs/sw1.cfg": "hostname sw1\n"})
    published = runner.run(args=["-vvv"], mode="publish", files=files, **common)
    assert published["git_commit_status"]["pushed"] is True, published
    assert runner.last is not None
    assert password not in runner.last.stdout + runner.last.stderr
    assert password not in json.dumps(published)
    assert ls_tree(git_remotes.http_remote) == ["README.md", "configs/sw1.cfg"]
    assert git("remote", "get-url", "origin", cwd=repo_dir).stdout.strip() == git_remotes.http_url
    for path in (repo_dir / ".git").rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    assert password.encode() not in git_remotes.server.logfile.read_bytes()


def test_wrong_token_fails_clearly_then_the_leftover_commit_is_pushed(runner: Runner, git_remotes: GitRemotes) -> None:
    repo_dir = git_remotes.workdir / "checkout"
    common = {"repo_dir": str(repo_dir), "repo_url": git_remotes.http_url}
    prepared = runner.run(mode="prepare", env=http_env(git_remotes), **common)
    assert not prepared.get("failed"), prepared
    before = rev_parse(git_remotes.http_remote, "main")

    wrong = "wrong-" + secrets.token_hex(12)
    files = write(repo_dir, {"configs/r1.cfg": "hostname r1\n"})
    failed = runner.run(
        args=["-vvv"], mode="publish", files=files, username=git_remotes.http_username, token=wrong, **common
    )
    assert failed["failed"] is True
    assert "Authentication failed" in failed["msg"] and "git push to" in failed["msg"], failed["msg"]
    status = failed["git_commit_status"]
    assert (status["committed"], status["pushed"], status["files_changed"]) == (True, False, 1)
    assert status["error"] == failed["msg"]
    assert runner.last is not None
    output = runner.last.stdout + runner.last.stderr
    assert "Authentication failed" in output
    for secret in (wrong, git_remotes.http_password):
        assert secret not in output
        assert secret not in json.dumps(failed)
        assert secret not in (repo_dir / ".git" / "config").read_text()
    assert rev_parse(git_remotes.http_remote, "main") == before

    # Credentials fixed (from the environment this time): prepare keeps the unpushed commit, publish pushes it.
    prepared = runner.run(mode="prepare", env=http_env(git_remotes), **common)
    assert not prepared.get("failed"), prepared
    assert prepared["changed"] is False
    pushed = runner.run(mode="publish", files=files, env=http_env(git_remotes), **common)
    assert not pushed.get("failed"), pushed
    assert pushed["changed"] is True
    assert pushed["git_commit_status"]["committed"] is False and pushed["git_commit_status"]["pushed"] is True
    assert (
        pushed["git_commit_status"]["commit_hash"]
        == status["commit_hash"]
        == rev_parse(git_remotes.http_remote, "main")
    )
    assert ls_tree(git_remotes.http_remote) == ["README.md", "configs/r1.cfg"]


def test_concurrent_publishers_to_one_branch_both_land(runner: Runner, git_remotes: GitRemotes) -> None:
    """Two jobs prepared from the same commit publish at once: the later push is rejected, retried and lands."""
    env = http_env(git_remotes)
    jobs = [git_remotes.workdir / f"job{i}" for i in range(2)]
    for repo_dir in jobs:
        prepared = runner.run(mode="prepare", repo_dir=str(repo_dir), repo_url=git_remotes.http_url, env=env)
        assert not prepared.get("failed"), prepared
    files = [write(repo_dir, {f"configs/job{i}.cfg": f"job {i}\n"}) for i, repo_dir in enumerate(jobs)]
    for index in range(2):
        (runner.tmp / f"runner{index}").mkdir()
    runners = [Runner(runner.tmp / f"runner{index}") for index in range(2)]

    def publish(index: int) -> Dict[str, Any]:
        return runners[index].run(
            mode="publish",
            repo_dir=str(jobs[index]),
            repo_url=git_remotes.http_url,
            files=files[index],
            message=f"Backup job {index}",
            env=env,
        )

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(publish, range(2)))
    for result in results:
        assert not result.get("failed"), result
        assert result["git_commit_status"]["committed"] is True and result["git_commit_status"]["pushed"] is True
    history = log(git_remotes.http_remote)
    # Linear history, no merge: the push that came second was rejected, rebased onto the first and retried.
    assert sorted(history[:2]) == ["Backup job 0", "Backup job 1"] and history[2:] == ["Initial commit"]
    parents = git("rev-list", "--parents", "-n", "1", "refs/heads/main", cwd=git_remotes.http_remote.path)
    assert len(parents.stdout.split()) == 2
    assert ls_tree(git_remotes.http_remote) == ["README.md", "configs/job0.cfg", "configs/job1.cfg"]
    assert rev_parse(git_remotes.http_remote, "main") in {r["git_commit_status"]["commit_hash"] for r in results}


# ---------------------------------------------------------------- whole files, run lock, recovery, hooks, modes

CONFIG_V0 = "".join(f"interface Ethernet{n}\n description port {n}\n" for n in range(1, 11))


def test_two_runs_edit_different_lines_of_one_file_the_pushed_file_is_the_second_runs(
    runner: Runner, git_remotes: GitRemotes
) -> None:
    """Run 2 was prepared before run 1 pushed; its push is rejected and retried: the file is exactly run 2's."""
    env = http_env(git_remotes)
    jobs = [git_remotes.workdir / f"run{i}" for i in (1, 2)]
    seed = git_remotes.workdir / "seed"
    common = {"repo_url": git_remotes.http_url}
    assert not runner.run(mode="prepare", repo_dir=str(seed), env=env, **common).get("failed")
    files = write(seed, {"configs/sw1.cfg": CONFIG_V0, "configs/sw2.cfg": "hostname sw2\n"})
    assert runner.run(mode="publish", repo_dir=str(seed), files=files, env=env, **common)["git_commit_status"]["pushed"]
    for repo_dir in jobs:
        prepared = runner.run(mode="prepare", repo_dir=str(repo_dir), env=env, **common)
        assert not prepared.get("failed"), prepared
    first = CONFIG_V0.replace(" description port 2\n", " description uplink from run 1\n")
    second = CONFIG_V0.replace(" description port 9\n", " description uplink from run 2\n")
    published1 = runner.run(
        mode="publish", repo_dir=str(jobs[0]), files=write(jobs[0], {"configs/sw1.cfg": first}), message="Run 1",
        env=env, **common,
    )
    assert published1["git_commit_status"]["pushed"] is True, published1
    published2 = runner.run(
        mode="publish", repo_dir=str(jobs[1]), files=write(jobs[1], {"configs/sw1.cfg": second}), message="Run 2",
        env=env, **common,
    )
    status = published2["git_commit_status"]
    assert not published2.get("failed") and status["pushed"] is True, published2
    pushed = git("show", "refs/heads/main:configs/sw1.cfg", cwd=git_remotes.http_remote.path).stdout
    assert pushed.encode() == second.encode(), "the pushed file must be run 2's file byte for byte"
    assert "uplink from run 1" not in pushed  # a line merge would have kept run 1's edit too
    assert log(git_remotes.http_remote)[:2] == ["Run 2", "Run 1"]
    assert status["commit_hash"] == rev_parse(git_remotes.http_remote, "main")
    parent = git("rev-parse", "refs/heads/main~1", cwd=git_remotes.http_remote.path).stdout.strip()
    assert parent == published1["git_commit_status"]["commit_hash"]  # run 2 was replayed onto run 1's commit
    assert (jobs[1] / "configs" / "sw1.cfg").read_text() == second


def test_a_conflicting_unpushed_commit_never_wedges_prepare(runner: Runner, git_remotes: GitRemotes) -> None:
    repo_dir = git_remotes.workdir / "checkout"
    common = {"repo_dir": str(repo_dir), "repo_url": git_remotes.http_url}
    env = http_env(git_remotes)
    assert not runner.run(mode="prepare", env=env, **common).get("failed")
    files = write(repo_dir, {"configs/r1.cfg": "hostname r1\n version 1\n", "configs/r2.cfg": "hostname r2\n"})
    refused = runner.run(mode="publish", files=files, env=http_env(git_remotes, token="wrong-" + secrets.token_hex(6)),
                         **common)
    assert refused["failed"] and refused["git_commit_status"]["committed"] is True  # the commit stays local
    other = clone(git_remotes.http_url, git_remotes.workdir / "other", env=git_remotes.http_env())
    commit_files(other, {"configs/r1.cfg": "hostname r1\n version 2 from another run\n"}, "Another run")
    git("push", "--quiet", "origin", "main", cwd=other, env=git_remotes.http_env())

    prepared = runner.run(mode="prepare", env=env, **common)  # used to fail: "resolve them by hand"
    assert not prepared.get("failed"), prepared
    assert prepared["changed"] is True
    assert (repo_dir / "configs" / "r1.cfg").read_text() == "hostname r1\n version 2 from another run\n"
    assert git("status", "--porcelain", cwd=repo_dir).stdout == ""
    pushed = runner.run(mode="publish", files=[], env=env, **common)  # the leftover's other file is pushed
    assert pushed["git_commit_status"]["pushed"] is True, pushed
    assert show(git_remotes.http_remote, "configs/r2.cfg") == "hostname r2\n"
    again = runner.run(mode="publish", files=write(repo_dir, {"configs/r1.cfg": "hostname r1\n version 3\n"}),
                       env=env, **common)
    assert again["git_commit_status"]["pushed"] is True, again
    assert show(git_remotes.http_remote, "configs/r1.cfg") == "hostname r1\n version 3\n"


def test_a_stale_index_lock_and_temp_file_do_not_fail_the_next_run(runner: Runner, git_remotes: GitRemotes) -> None:
    repo_dir = git_remotes.workdir / "checkout"
    common = {"repo_dir": str(repo_dir), "repo_url": git_remotes.file_url}
    assert not runner.run(mode="prepare", **common).get("failed")
    files = write(repo_dir, {"backups/r1.running-config": "hostname r1\n"})
    assert runner.run(mode="publish", files=files, **common)["git_commit_status"]["pushed"] is True
    # What a run killed by a timeout leaves: git's index.lock and a writer's temporary file.
    (repo_dir / ".git" / "index.lock").write_bytes(b"")
    (repo_dir / "backups" / ".r1.running-config.5d41402a.tmp").write_text("hostname r1\n half writ")
    blocked = subprocess.run(
        ["git", "-C", str(repo_dir), "reset", "--hard"], capture_output=True, text=True, check=False
    )
    assert blocked.returncode != 0 and "index.lock" in blocked.stderr

    prepared = runner.run(mode="prepare", **common)
    assert not prepared.get("failed"), prepared
    assert ".git/index.lock" in prepared["recovered"]
    assert "backups/.r1.running-config.5d41402a.tmp" in prepared["recovered"]
    assert prepared["changed"] is True
    files = write(repo_dir, {"backups/r1.running-config": "hostname r1\n! changed\n"})
    published = runner.run(mode="publish", files=files, **common)
    assert published["git_commit_status"]["pushed"] is True, published
    assert sorted(p.name for p in (repo_dir / "backups").iterdir()) == ["r1.running-config"]
    assert not (repo_dir.parent / ".checkout.lock").exists()  # publish released the run lock


def test_hooks_and_fsmonitor_of_the_checkout_never_run(runner: Runner, git_remotes: GitRemotes) -> None:
    repo_dir = git_remotes.workdir / "checkout"
    common = {"repo_dir": str(repo_dir), "repo_url": git_remotes.file_url}
    assert not runner.run(mode="prepare", **common).get("failed")
    marker = git_remotes.workdir / "marker"
    script = f"#!/bin/sh\necho \"$0\" >> {marker}\n"
    for name in ("pre-commit", "commit-msg", "post-commit", "post-checkout", "post-merge", "pre-push",
                 "reference-transaction"):
        hook = repo_dir / ".git" / "hooks" / name
        hook.write_text(script)
        hook.chmod(0o700)
    monitor = git_remotes.workdir / "fsmonitor.sh"
    monitor.write_text(script)
    monitor.chmod(0o700)
    git("config", "core.fsmonitor", str(monitor), cwd=repo_dir)
    git("status", cwd=repo_dir)
    assert marker.exists(), "plain git runs the checkout's fsmonitor (else this test proves nothing)"
    marker.unlink()
    other = clone(git_remotes.file_url, git_remotes.workdir / "other")
    commit_files(other, {"configs/other.cfg": "other\n"}, "Another run")
    git("push", "--quiet", "origin", "main", cwd=other)
    assert not runner.run(mode="prepare", **common).get("failed")  # reset, checkout
    commit_files(other, {"configs/third.cfg": "third\n"}, "A third run")
    git("push", "--quiet", "origin", "main", cwd=other)
    published = runner.run(mode="publish", files=write(repo_dir, {"configs/mine.cfg": "mine\n"}), **common)
    assert published["git_commit_status"]["pushed"] is True, published  # commit, rejected push, replay, push
    assert not marker.exists(), marker.read_text()


@pytest.mark.parametrize(("file_mode", "dir_mode"), [(None, 0o700), ("0640", 0o750)])
def test_checkout_is_private_whatever_the_umask(runner: Runner, git_remotes: GitRemotes, file_mode, dir_mode) -> None:
    repo_dir = git_remotes.workdir / "new" / "checkout"
    common = {"repo_dir": str(repo_dir), "repo_url": git_remotes.file_url, "file_mode": file_mode}
    previous = os.umask(0)  # ansible-playbook inherits it
    try:
        assert not runner.run(mode="prepare", **common).get("failed")
        mode, directories = file_modes(file_mode)
        write_if_changed(repo_dir / "backups" / "r1.running-config", "hostname r1\n", mode=mode, dir_mode=directories)
        files = ["backups/r1.running-config"]  # written as the backup step writes it
        assert runner.run(mode="publish", files=files, **common)["git_commit_status"]["pushed"] is True
        commit_files(clone(git_remotes.file_url, git_remotes.workdir / "other"), {"b/new.cfg": "x\n"}, "Other")
        git("push", "--quiet", "origin", "main", cwd=git_remotes.workdir / "other")
        assert not runner.run(mode="prepare", **common).get("failed")  # files written by git's checkout
    finally:
        os.umask(previous)
    assert (repo_dir / "b" / "new.cfg").is_file()
    assert stat.S_IMODE(repo_dir.stat().st_mode) == dir_mode
    assert stat.S_IMODE(repo_dir.parent.stat().st_mode) == dir_mode
    for path in [repo_dir, *repo_dir.rglob("*")]:
        bits = stat.S_IMODE(path.lstat().st_mode)
        assert bits & 0o007 == 0, f"{path} is {bits:04o}: other users must get nothing"
    invalid = runner.run(mode="prepare", repo_dir=str(repo_dir), repo_url=git_remotes.file_url, file_mode="0644")
    assert invalid["failed"] and "0644" in invalid["msg"] and "never by other users" in invalid["msg"], invalid


def test_run_lock_live_holder_is_waited_for_then_named_and_a_dead_one_is_taken_over(
    runner: Runner, git_remotes: GitRemotes
) -> None:
    repo_dir = git_remotes.workdir / "checkout"
    lock_file = git_remotes.workdir / ".checkout.lock"
    common = {"repo_dir": str(repo_dir), "repo_url": git_remotes.file_url}
    other = subprocess.Popen(["sleep", "300"])  # stands for another run's ansible-playbook process
    try:
        start = Path(f"/proc/{other.pid}/stat").read_text().rpartition(")")[2].split()[19]
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        lock_file.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(), "pid_start": start,
                                         "boot": boot, "started": "2026-03-01T02:00:00+00:00"}))
        busy = runner.run(mode="prepare", lock_timeout=2, **common)
        assert busy["failed"] is True
        assert f"pid {other.pid} on host {socket.gethostname()}, started 2026-03-01T02:00:00+00:00" in busy["msg"]
        assert "Waited 2 s" in busy["msg"] and str(lock_file) in busy["msg"]
        assert not repo_dir.exists()
        assert json.loads(lock_file.read_text())["pid"] == other.pid
    finally:
        other.kill()
        other.wait()
    taken = runner.run(mode="prepare", lock_timeout=2, **common)  # its process is gone: a stale lock
    assert not taken.get("failed"), taken
    assert taken["recovered"] == [
        f"stale run lock of pid {other.pid} on host {socket.gethostname()}, started 2026-03-01T02:00:00+00:00 "
        "(that run no longer exists)"
    ]
    holder = json.loads(lock_file.read_text())  # held by this run's ansible-playbook until publish
    assert holder["pid"] != other.pid and holder["host"] == socket.gethostname()
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600
    published = runner.run(mode="publish", files=write(repo_dir, {"r1.cfg": "r1\n"}), **common)
    assert published["git_commit_status"]["pushed"] is True, published
    assert not lock_file.exists()
