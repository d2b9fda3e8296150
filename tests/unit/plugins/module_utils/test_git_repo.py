"""Tests of plugins/module_utils/git_repo.py against real git repositories in a temp directory.

git_remote.py (URLs, credentials) and git_runner.py (running git) have their own test files.

Remotes are bare repositories over file:// (testbed.git_remotes builds them with the git CLI);
only the push rejection kinds git cannot be made to produce on demand are faked, by wrapping
GitRunner.run for the push command.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, List

import pytest
import yaml

from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import file_modes, private_umask
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_remote import GitAuth
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_repo import (
    BackupRepository,
    RepositoryMismatchError,
    UnsafeCheckoutError,
    format_trailers,
    message_placeholders,
    relative_paths,
    render_message,
    trailer_value,
    with_trailers,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_runner import (
    ASKPASS_TOKEN_VAR,
    NETWORK_COMMANDS,
    GitInputError,
    GitRepoError,
    GitResult,
    GitRunner,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.run_lock import (
    Holder,
    RunLock,
    RunLockBusyError,
    boot_id,
    lock_path,
    process_start,
)
from ansible_collections.netops.nautobot_backup.plugins.modules import git_commit_push as module_doc
from ansible_collections.netops.nautobot_backup.plugins.modules.git_commit_push import ARGUMENT_SPEC
from testbed.git_remotes import Remote, branches, clone, commit_files, empty, git, log, ls_tree, rev_parse, seeded, show

VARS = {"timestamp": "20240501_213000", "date": "20240501"}


def no_sleep(_seconds: float) -> None:
    """Push retries wait with this in tests."""


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    """A bare remote whose main holds README.md."""
    return seeded(tmp_path / "remote.git")


def make_repo(path: Path, remote: Remote, branch: str = "main", runner: Any = None) -> BackupRepository:
    """A BackupRepository over a plain GitRunner (no credentials)."""
    return BackupRepository(runner or GitRunner(), path, remote.url, branch, sleep=no_sleep)


def write(root: Path, files: dict) -> List[str]:
    """Write relative path -> text under root and return the paths."""
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return list(files)


def advance(remote: Remote, tmp_path: Path, files: dict, message: str = "Other job") -> str:
    """Push a commit to the remote's main from another clone, as a concurrent job would."""
    other = clone(remote.url, tmp_path / f"other-{len(list(tmp_path.iterdir()))}")
    sha = commit_files(other, files, message)
    git("push", "--quiet", "origin", "main", cwd=other)
    return sha


# ---------------------------------------------------------------- documentation, messages, paths


def test_documented_options_match_the_action_plugins_argument_spec() -> None:
    """The spec lives beside the documentation; only the action plugin uses it ('message' is reserved)."""
    options = yaml.safe_load(module_doc.DOCUMENTATION)["options"]
    assert sorted(options) == sorted(ARGUMENT_SPEC)
    for name, spec in ARGUMENT_SPEC.items():
        doc = options[name]
        assert doc["type"] == spec["type"], name
        assert doc.get("default") == spec.get("default"), name
        assert doc.get("required", False) == spec.get("required", False), name
        assert doc.get("choices") == spec.get("choices"), name
        assert doc.get("elements") == spec.get("elements"), name
    assert ARGUMENT_SPEC["token"]["no_log"] is True
    for name in ("username", "token", "ssh_key_file"):
        variable = ARGUMENT_SPEC[name]["fallback"][1][0]
        assert variable in " ".join(options[name]["description"]), name
    yaml.safe_load(module_doc.EXAMPLES)
    yaml.safe_load(module_doc.RETURN)


def test_message_template_placeholders() -> None:
    values = {**VARS, "files_changed": 3, "devices_backed_up": 10, "devices_failed": 1}
    template = "Backup {date} {timestamp}: {files_changed} files, {devices_backed_up} ok, {devices_failed} failed {{x}}"
    assert message_placeholders(template) == [
        "date",
        "timestamp",
        "files_changed",
        "devices_backed_up",
        "devices_failed",
    ]
    assert render_message(template, values) == "Backup 20240501 20240501_213000: 3 files, 10 ok, 1 failed {x}"
    with pytest.raises(GitInputError, match=r"unknown placeholder\(s\) \{devices\}.*message_vars"):
        render_message("{devices}", values)
    with pytest.raises(GitInputError, match="plain name"):
        render_message("{date.__class__}", values)
    with pytest.raises(GitInputError, match="literal braces"):
        render_message("oops {", values)
    with pytest.raises(GitInputError, match="empty"):
        render_message("  ", values)


def test_relative_paths(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    assert relative_paths(root, ["a/b.cfg", str(root / "c.cfg"), "./a/b.cfg", "d/./e"]) == ["a/b.cfg", "c.cfg", "d/e"]
    for bad in ["../x", "/etc/passwd", ".git/config", "a/.git/x", "", "."]:
        with pytest.raises(GitInputError):
            relative_paths(root, [bad])


@pytest.mark.parametrize("bad", ["out/x.cfg", ".GIT/config", "a/.Git/x", "a\\b"])
def test_relative_paths_and_the_backup_writer_share_one_confinement_rule(tmp_path: Path, bad: str) -> None:
    """A path the backup writer (paths.confine) refuses is refused by the publish step too, and the reverse."""
    from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import PathTemplateError, confine

    root = tmp_path / "repo"
    root.mkdir()
    (root / "out").symlink_to(tmp_path, target_is_directory=True)  # a symlink in the checkout leading outside
    with pytest.raises(PathTemplateError):
        confine(root, bad)
    with pytest.raises(GitInputError, match="not a file path inside the checkout"):
        relative_paths(root, [bad])


def test_invalid_branch_is_refused(tmp_path: Path, remote: Remote) -> None:
    for branch in ["", "-x", "a..b", "a b"]:
        with pytest.raises(GitInputError, match="branch"):
            make_repo(tmp_path / "c", remote, branch)


# ---------------------------------------------------------------- prepare


def test_prepare_clones_then_reopens_unchanged(tmp_path: Path, remote: Remote) -> None:
    repo = make_repo(tmp_path / "c", remote)
    status, changed = repo.prepare(check_mode=True)
    assert (status.operation, status.repository_existed, changed) == ("cloned", False, True)
    assert not (tmp_path / "c").exists()
    status, changed = repo.prepare()
    assert (status.operation, status.repository_existed, changed) == ("cloned", False, True)
    assert (tmp_path / "c" / "README.md").is_file()
    assert status.to_dict()["repository_url"] == remote.url
    status, changed = repo.prepare()
    assert (status.operation, status.repository_existed, changed) == ("opened", True, False)
    assert repo.prepare(check_mode=True)[1] is False


def test_prepare_empty_remote_and_empty_directory(tmp_path: Path) -> None:
    bare = empty(tmp_path / "empty.git")
    (tmp_path / "c").mkdir()
    repo = make_repo(tmp_path / "c", bare)
    status, changed = repo.prepare()
    assert (status.operation, changed) == ("initialized", True)
    assert repo.current_branch() == "main"
    assert repo.rev("HEAD") is None
    assert repo.prepare() == (repo.status(True, "opened"), False)


def test_prepare_creates_missing_branch_from_default(tmp_path: Path, remote: Remote) -> None:
    repo = make_repo(tmp_path / "c", remote, branch="backups/nightly")
    status, changed = repo.prepare()
    assert (status.operation, changed) == ("cloned", True)
    assert repo.current_branch() == "backups/nightly"
    assert repo.rev("HEAD") == rev_parse(remote, "main")
    assert branches(remote) == ["main"]  # created locally; the first publish pushes it


@pytest.mark.parametrize("kind", ["other-remote", "plain-dir", "file", "subdir", "no-origin"])
def test_prepare_refuses_what_is_not_a_checkout_of_the_url_and_leaves_it(tmp_path: Path, remote: Remote, kind: str):
    target = tmp_path / "target"
    if kind == "other-remote":
        clone(seeded(tmp_path / "other.git").url, target)
    elif kind == "plain-dir":
        write(target, {"keep.txt": "precious\n"})
    elif kind == "file":
        target.write_text("a file\n")
    elif kind == "subdir":
        clone(remote.url, tmp_path / "outer")
        target = tmp_path / "outer" / "sub"
        write(target, {"keep.txt": "precious\n"})
    else:
        target.mkdir()
        git("init", "--quiet", cwd=target)
        write(target, {"keep.txt": "precious\n"})
    before = sorted((p.relative_to(tmp_path), p.read_bytes() if p.is_file() else b"") for p in tmp_path.rglob("*"))
    for check_mode in (True, False):
        with pytest.raises(RepositoryMismatchError, match="refusing to touch it|not a directory"):
            make_repo(target, remote).prepare(check_mode=check_mode)
    after = sorted((p.relative_to(tmp_path), p.read_bytes() if p.is_file() else b"") for p in tmp_path.rglob("*"))
    assert after == before


def test_prepare_resets_to_remote_and_keeps_untracked(tmp_path: Path, remote: Remote) -> None:
    repo = make_repo(tmp_path / "c", remote)
    repo.prepare()
    (tmp_path / "c" / "README.md").write_text("local edit\n")
    (tmp_path / "c" / "untracked.txt").write_text("mine\n")
    sha = advance(remote, tmp_path, {"configs/r9.cfg": "hostname r9\n"})
    status, changed = repo.prepare(check_mode=True)
    assert changed is True
    assert repo.rev("HEAD") != sha
    status, changed = repo.prepare()
    assert changed is True
    assert repo.rev("HEAD") == sha
    assert (tmp_path / "c" / "README.md").read_text() == "# Config backups\n"
    assert (tmp_path / "c" / "untracked.txt").read_text() == "mine\n"


def test_prepare_rebases_and_keeps_unpushed_commits(tmp_path: Path, remote: Remote) -> None:
    repo = make_repo(tmp_path / "c", remote)
    repo.prepare()
    local = commit_files(tmp_path / "c", {"configs/r1.cfg": "hostname r1\n"}, "Unpushed backup")
    status, changed = repo.prepare()  # nothing new upstream: the commit is kept as is
    assert (changed, repo.rev("HEAD")) == (False, local)
    upstream = advance(remote, tmp_path, {"configs/r2.cfg": "hostname r2\n"})
    status, changed = repo.prepare()
    assert changed is True
    head = repo.rev("HEAD")
    assert head not in (local, upstream)
    assert git("rev-list", "--count", f"{upstream}..{head}", cwd=tmp_path / "c").stdout.strip() == "1"
    assert git("log", "-1", "--format=%s", cwd=tmp_path / "c").stdout.strip() == "Unpushed backup"
    outcome = repo.publish([], message_vars=VARS)  # no new change, but the leftover commit is pushed
    assert outcome.status.committed is False and outcome.status.pushed is True and outcome.changed is True
    assert log(remote)[:2] == ["Unpushed backup", "Other job"]


def test_prepare_conflicting_unpushed_commit_is_replayed_and_the_remote_file_wins(tmp_path: Path, remote: Remote):
    """An unpushed commit conflicting with the remote never fails prepare: whole files, the remote's newer one wins."""
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    commit_files(work, {"README.md": "mine\n", "configs/r1.cfg": "hostname r1\n"}, "Unpushed")
    only_conflict = commit_files(work, {"README.md": "mine again\n"}, "Unpushed, README only")
    upstream = advance(remote, tmp_path, {"README.md": "theirs\n"})
    status, changed = repo.prepare()
    assert changed is True
    head = repo.rev("HEAD")
    assert head != only_conflict
    assert git("rev-parse", "HEAD~1", cwd=work).stdout.strip() == upstream
    assert git("log", "-1", "--format=%s", cwd=work).stdout.strip() == "Unpushed"  # the README-only commit is dropped
    assert (work / "README.md").read_text() == "theirs\n"
    assert (work / "configs" / "r1.cfg").read_text() == "hostname r1\n"
    assert git("status", "--porcelain", cwd=work).stdout == ""
    assert not (work / ".git" / "rebase-merge").exists()
    outcome = repo.publish([], message_vars=VARS)  # the next run pushes what is left of the old commit
    assert outcome.status.pushed and ls_tree(remote) == ["README.md", "configs/r1.cfg"]
    assert show(remote, "README.md") == "theirs\n"


def test_prepare_aborts_a_rebase_left_half_done_by_an_older_version(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    commit_files(work, {"README.md": "mine\n"}, "Unpushed")
    advance(remote, tmp_path, {"README.md": "theirs\n", "configs/r2.cfg": "hostname r2\n"})
    git("fetch", "--quiet", "origin", cwd=work)
    stuck = git("rebase", "origin/main", cwd=work, check=False)  # what older versions did, killed mid-way
    assert stuck.returncode != 0 and (work / ".git" / "rebase-merge").exists()
    status, changed = repo.prepare()
    assert changed is True and repo.current_branch() == "main"
    assert not (work / ".git" / "rebase-merge").exists()
    assert (work / "README.md").read_text() == "theirs\n" and (work / "configs" / "r2.cfg").is_file()
    assert git("status", "--porcelain", cwd=work).stdout == ""


def test_prepare_clears_a_half_finished_merge(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    commit_files(work, {"README.md": "mine\n"}, "Unpushed")
    advance(remote, tmp_path, {"README.md": "theirs\n"})
    git("fetch", "--quiet", "origin", cwd=work)
    assert git("merge", "origin/main", cwd=work, check=False).returncode != 0
    assert (work / ".git" / "MERGE_HEAD").exists()
    repo.prepare()
    assert not (work / ".git" / "MERGE_HEAD").exists()
    assert (work / "README.md").read_text() == "theirs\n"
    assert git("status", "--porcelain", cwd=work).stdout == ""


def test_prepare_switches_back_to_the_branch(tmp_path: Path, remote: Remote) -> None:
    repo = make_repo(tmp_path / "c", remote)
    repo.prepare()
    git("checkout", "--quiet", "-b", "elsewhere", cwd=tmp_path / "c")
    assert repo.prepare()[1] is True
    assert repo.current_branch() == "main"


def test_prepare_removes_credentials_from_an_old_origin_url(tmp_path: Path) -> None:
    bare = seeded(tmp_path / "remote.git")
    work = clone(bare.url, tmp_path / "c")
    secret_url = bare.url.replace("file://", "https://bot:old-token@example.invalid")
    git("remote", "set-url", "origin", secret_url, cwd=work)
    # The same repository once reached with a token in the URL is recognised, and the URL rewritten.
    repo = BackupRepository(GitRunner(), work, secret_url.replace("bot:old-token@", ""), sleep=no_sleep)
    assert repo.inspect() is True
    repo._adopt_clean_url()
    assert "old-token" not in (work / ".git" / "config").read_text()


# ---------------------------------------------------------------- publish


def test_publish_stages_only_the_listed_files(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    files = write(work, {"configs/r1.cfg": "hostname r1\n", "configs/r2.cfg": "hostname r2\n"})
    write(work, {"unrelated.txt": "not mine\n", "configs/stray.cfg": "stray\n"})
    (work / "README.md").write_text("edited by someone\n")
    git("add", "configs/stray.cfg", cwd=work)  # even a pre-staged file stays out of the commit
    check = repo.publish(files, message_vars=VARS, check_mode=True)
    assert (check.changed, check.changed_files, check.status.committed) == (True, files, False)
    assert log(remote) == ["Initial commit"]
    outcome = repo.publish(files, message_vars=VARS)
    assert outcome.status.to_dict() == {
        "committed": True,
        "pushed": True,
        "commit_hash": rev_parse(remote, "main"),
        "files_changed": 2,
        "error": None,
    }
    assert ls_tree(remote) == ["README.md", "configs/r1.cfg", "configs/r2.cfg"]
    assert log(remote)[0] == "Config backup 20240501_213000: 2 files changed"
    porcelain = git("status", "--porcelain", cwd=work).stdout.splitlines()
    assert sorted(porcelain) == [" M README.md", "?? configs/stray.cfg", "?? unrelated.txt"]
    again = repo.publish(files, message_vars=VARS)
    assert (again.changed, again.status.committed, again.status.pushed, again.changed_files) == (
        False,
        False,
        False,
        [],
    )


def test_publish_author_message_and_removals(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = BackupRepository(GitRunner(), work, remote.url, author_name="Backup Bot", author_email="bot@example.org")
    repo.prepare()
    repo.publish(write(work, {"a.cfg": "a\n", "b.cfg": "b\n"}), message_vars=VARS)
    (work / "a.cfg").unlink()
    (work / "b.cfg").write_text("b2\n")
    outcome = repo.publish(
        ["b.cfg"],
        removed_files=["a.cfg", "never-tracked.cfg"],
        message="Backup {date}: {devices_backed_up} ok, {devices_failed} failed, {files_changed} files on {branch}",
        message_vars={**VARS, "devices_backed_up": 7, "devices_failed": 1},
    )
    assert outcome.status.files_changed == 2 and sorted(outcome.changed_files) == ["a.cfg", "b.cfg"]
    assert log(remote)[0] == "Backup 20240501: 7 ok, 1 failed, 2 files on main"
    who = git("log", "-1", "--format=%an <%ae>|%cn <%ce>", "refs/heads/main", cwd=remote.path).stdout.strip()
    assert who == "Backup Bot <bot@example.org>|Backup Bot <bot@example.org>"
    assert ls_tree(remote) == ["README.md", "b.cfg"]


@pytest.mark.parametrize(
    ("files", "removed", "match"),
    [
        (["missing.cfg"], [], "do not exist"),
        (["configs"], [], "not directories"),
        (["../outside"], [], "inside the checkout"),
        ([], ["README.md"], "still exist"),
        (["README.md"], ["README.md"], "both"),
    ],
)
def test_publish_refuses_bad_paths_before_touching_anything(tmp_path: Path, remote: Remote, files, removed, match):
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    write(work, {"configs/x.cfg": "x\n"})
    with pytest.raises(GitInputError, match=match):
        repo.publish(files, removed_files=removed, message_vars=VARS)
    assert log(remote) == ["Initial commit"]


def test_publish_unknown_placeholder_fails_before_staging(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    write(work, {"x.cfg": "x\n"})
    with pytest.raises(GitInputError, match="devices_failed"):
        repo.publish(["x.cfg"], message="{devices_failed}", message_vars=VARS)
    assert git("diff", "--cached", "--name-only", cwd=work).stdout == ""


def test_publish_requires_prepare(tmp_path: Path, remote: Remote) -> None:
    with pytest.raises(GitRepoError, match="mode=prepare"):
        make_repo(tmp_path / "none", remote).publish([], message_vars=VARS)
    work = clone(remote.url, tmp_path / "c")
    git("checkout", "--quiet", "-b", "other", cwd=work)
    with pytest.raises(GitRepoError, match="not on main"):
        make_repo(work, remote).publish([], message_vars=VARS)


def test_publish_to_empty_remote_creates_the_branch(tmp_path: Path) -> None:
    bare = empty(tmp_path / "empty.git")
    work = tmp_path / "c"
    repo = make_repo(work, bare)
    repo.prepare()
    outcome = repo.publish(write(work, {"r1.cfg": "r1\n"}), message_vars=VARS)
    assert outcome.status.pushed and branches(bare) == ["main"]
    assert show(bare, "r1.cfg") == "r1\n"


def test_push_retries_after_the_branch_moved(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    advance(remote, tmp_path, {"configs/other.cfg": "other\n"})  # after prepare: our push is "fetch first"
    outcome = repo.publish(write(work, {"configs/mine.cfg": "mine\n"}), message_vars=VARS)
    assert outcome.status.pushed and outcome.status.error is None
    assert outcome.status.commit_hash == rev_parse(remote, "main")
    assert ls_tree(remote) == ["README.md", "configs/mine.cfg", "configs/other.cfg"]


class RejectingRunner(GitRunner):
    """A GitRunner whose first `rejections` pushes get the given rejection instead of running."""

    def __init__(self, rejections: int, answer: str) -> None:
        super().__init__()
        self.rejections = rejections
        self.answer = answer
        self.pushes = 0

    def run(self, *args: str, **kwargs: Any) -> GitResult:
        if args and args[0] == "push":
            self.pushes += 1
            if self.pushes <= self.rejections:
                return GitResult(tuple(args), 1, "", self.answer)
        return super().run(*args, **kwargs)


LOCK_REJECTION = (
    "To file:///r.git\n ! [remote rejected] HEAD -> main (cannot lock ref 'refs/heads/main': is at 1234 but "
    "expected 5678)\nerror: failed to push some refs to 'file:///r.git'"
)


def test_push_retries_on_concurrent_ref_lock_then_gives_up(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    runner = RejectingRunner(2, LOCK_REJECTION)
    repo = make_repo(work, remote, runner=runner)
    repo.prepare()
    outcome = repo.publish(write(work, {"a.cfg": "a\n"}), message_vars=VARS, push_retries=2)
    assert outcome.status.pushed and runner.pushes == 3

    runner.rejections, runner.pushes = 10, 0
    outcome = repo.publish(write(work, {"b.cfg": "b\n"}), message_vars=VARS, push_retries=3)
    status = outcome.status
    assert (status.committed, status.pushed, runner.pushes) == (True, False, 4)
    assert "still rejected after 4 attempts" in (status.error or "")
    assert status.commit_hash == repo.rev("HEAD") != rev_parse(remote, "main")
    # The next run pushes the leftover commit, though it has nothing new to commit.
    runner.rejections = 0
    repo.prepare()
    outcome = repo.publish(["b.cfg"], message_vars=VARS)
    assert (outcome.status.committed, outcome.status.pushed, outcome.changed) == (False, True, True)
    assert rev_parse(remote, "main") == status.commit_hash


def test_push_other_rejection_is_not_retried(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    runner = RejectingRunner(1, " ! [remote rejected] HEAD -> main (pre-receive hook declined)")
    repo = make_repo(work, remote, runner=runner)
    repo.prepare()
    outcome = repo.publish(write(work, {"a.cfg": "a\n"}), message_vars=VARS)
    assert runner.pushes == 1
    assert outcome.status.committed and not outcome.status.pushed
    assert "pre-receive hook declined" in (outcome.status.error or "")


def test_push_to_unreachable_remote_is_a_clear_error(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    remote.path.rename(tmp_path / "gone.git")
    outcome = repo.publish(write(work, {"a.cfg": "a\n"}), message_vars=VARS)
    assert outcome.status.committed and not outcome.status.pushed
    assert "git push to" in (outcome.status.error or "") and "next run" in (outcome.status.error or "")


@pytest.mark.parametrize("jobs", [4])
def test_concurrent_publishers_all_land(tmp_path: Path, remote: Remote, jobs: int) -> None:
    runners = [RejectingRunner(0, "") for _index in range(jobs)]  # counts pushes, rejects none itself
    repos = [make_repo(tmp_path / f"job{i}", remote, runner=runners[i]) for i in range(jobs)]
    for repo in repos:
        repo.prepare()
    for i, repo in enumerate(repos):
        write(repo.path, {f"configs/job{i}.cfg": f"job {i}\n"})
    barrier = threading.Barrier(jobs)

    def publish(index: int) -> Any:
        barrier.wait()
        return repos[index].publish([f"configs/job{index}.cfg"], message_vars=VARS, push_retries=10)

    with ThreadPoolExecutor(jobs) as pool:
        outcomes = list(pool.map(publish, range(jobs)))
    assert all(o.status.pushed for o in outcomes), [o.status.error for o in outcomes]
    assert ls_tree(remote) == ["README.md"] + [f"configs/job{i}.cfg" for i in range(jobs)]
    assert len(log(remote)) == jobs + 1
    # All started from the same commit, so only one push could land first time: the others retried.
    assert sum(runner.pushes for runner in runners) >= 2 * jobs - 1


# ---------------------------------------------------------------- whole files after a rejected push

CONFIG_V0 = "".join(f"line {n}\n" for n in range(1, 11))


def edit_line(text: str, number: int, new: str) -> str:
    """text with line number (1-based) replaced by new."""
    lines = text.splitlines(keepends=True)
    lines[number - 1] = new + "\n"
    return "".join(lines)


def test_rejected_push_publishes_this_runs_file_whole_never_a_line_merge(tmp_path: Path, remote: Remote) -> None:
    """Two runs edit different lines of one file: the last pusher's file lands byte for byte (no mix of both)."""
    seed = make_repo(tmp_path / "seed", remote)
    seed.prepare()
    seed.publish(write(seed.path, {"configs/r1.cfg": CONFIG_V0, "configs/r2.cfg": "r2 v0\n"}), message_vars=VARS)
    first, second = make_repo(tmp_path / "run1", remote), make_repo(tmp_path / "run2", remote)
    first.prepare()
    second.prepare()  # both start from the same commit
    first_text = edit_line(CONFIG_V0, 2, "line 2 from run 1")
    second_text = edit_line(CONFIG_V0, 8, "line 8 from run 2")
    outcome1 = first.publish(
        write(first.path, {"configs/r1.cfg": first_text, "configs/r3.cfg": "r3\n"}), message_vars=VARS
    )
    assert outcome1.status.pushed
    outcome2 = second.publish(write(second.path, {"configs/r1.cfg": second_text}), message="Run 2")
    assert outcome2.status.pushed and outcome2.status.error is None
    assert show(remote, "configs/r1.cfg") == second_text  # a line merge would hold both edits
    assert show(remote, "configs/r3.cfg") == "r3\n"  # the other run's other files stay
    assert log(remote)[:2] == ["Run 2", "Config backup 20240501_213000: 2 files changed"]
    assert git("rev-parse", "main~1", cwd=remote.path).stdout.strip() == outcome1.status.commit_hash
    assert outcome2.status.commit_hash == rev_parse(remote, "main") == second.rev("HEAD")
    assert (second.path / "configs" / "r1.cfg").read_text() == second_text
    assert (second.path / "configs" / "r3.cfg").read_text() == "r3\n"  # the checkout follows the pushed commit
    assert git("status", "--porcelain", cwd=second.path).stdout == ""


def test_rejected_push_replays_deletions_and_keeps_unrelated_local_edits(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    repo.publish(write(work, {"old.cfg": "old\n", "keep.cfg": "keep\n"}), message_vars=VARS)
    advance(remote, tmp_path, {"old.cfg": "changed by another run\n"})
    (work / "old.cfg").unlink()
    (work / "keep.cfg").write_text("edited by hand, not listed\n")
    outcome = repo.publish([], removed_files=["old.cfg"], message_vars=VARS)
    assert outcome.status.pushed
    assert ls_tree(remote) == ["README.md", "keep.cfg"]  # our deletion wins the whole file too
    assert (work / "keep.cfg").read_text() == "edited by hand, not listed\n"


def test_rejected_push_older_unpushed_commit_loses_what_the_remote_changed(tmp_path: Path, remote: Remote) -> None:
    """Leftover commits of an earlier run lose a file the remote changed since; this run's commit wins its files."""
    work = tmp_path / "c"
    runner = RejectingRunner(1, LOCK_REJECTION)  # the leftover was never pushed: its push got rejected
    repo = make_repo(work, remote, runner=runner)
    repo.prepare()
    outcome = repo.publish(write(work, {"a.cfg": "a old\n", "b.cfg": "b old\n"}), message_vars=VARS, push_retries=0)
    assert outcome.status.committed and not outcome.status.pushed
    repo.prepare()  # nothing new upstream yet: the leftover stays as it is
    advance(remote, tmp_path, {"a.cfg": "a from another run\n", "b.cfg": "b from another run\n"})
    outcome = repo.publish(write(work, {"b.cfg": "b new\n"}), message="This run", message_vars=VARS)
    assert outcome.status.pushed, outcome.status.error
    assert show(remote, "a.cfg") == "a from another run\n"
    assert show(remote, "b.cfg") == "b new\n"
    assert log(remote)[0] == "This run"


def test_rejected_push_when_the_remote_already_has_this_runs_files(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    upstream = advance(remote, tmp_path, {"same.cfg": "identical\n"})
    outcome = repo.publish(write(work, {"same.cfg": "identical\n"}), message_vars=VARS)
    assert outcome.status.pushed and outcome.status.commit_hash == upstream == rev_parse(remote, "main")
    assert repo.rev("HEAD") == upstream and not repo._needs_push()


# ---------------------------------------------------------------- run lock, recovery of what killed runs left


def locked_repo(path: Path, remote: Remote, **kwargs: Any) -> BackupRepository:
    """A repository whose run lock is owned by this test process."""
    return BackupRepository(GitRunner(), path, remote.url, sleep=no_sleep, run_lock=RunLock(path, **kwargs))


def test_prepare_recovers_stale_git_locks_and_temp_files_then_publish_works(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = locked_repo(work, remote)
    repo.prepare()
    repo.publish(write(work, {"backups/r1.cfg": "r1\n"}), message_vars=VARS)
    lock_file = lock_path(work)
    assert not lock_file.exists()  # released by publish
    leftovers = [".git/index.lock", ".git/HEAD.lock", ".git/refs/heads/main.lock", "backups/.r1.cfg.0a1b2c3d.tmp"]
    for name in leftovers:
        (work / name).write_text("left by a killed run\n")
    (work / "backups" / ".notes.tmp").write_text("not a writer's temporary file\n")
    blocked = GitRunner().run("commit", "--allow-empty", "-m", "x", cwd=work, check=False)
    assert blocked.returncode != 0 and "index.lock" in blocked.stderr  # what every later run met
    repo = locked_repo(work, remote)
    status, changed = repo.prepare()
    assert changed is True
    assert sorted(repo.recovered) == sorted(leftovers)
    assert lock_file.exists()  # held until publish
    outcome = repo.publish(write(work, {"backups/r1.cfg": "r1 v2\n"}), message_vars=VARS)
    assert outcome.status.pushed and show(remote, "backups/r1.cfg") == "r1 v2\n"
    assert (work / "backups" / ".notes.tmp").exists()
    assert not lock_file.exists()


def test_without_the_run_lock_nothing_is_removed(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    (work / ".git" / "index.lock").write_text("")
    assert repo.recover(temp_files=True) == []
    assert (work / ".git" / "index.lock").exists()


def test_prepare_failure_releases_the_run_lock(tmp_path: Path, remote: Remote) -> None:
    target = tmp_path / "not-a-checkout"
    write(target, {"keep.txt": "precious\n"})
    repo = locked_repo(target, remote)
    with pytest.raises(RepositoryMismatchError):
        repo.prepare()
    assert not lock_path(target).exists()


def hold_lock(repo_dir: Path, pid: int) -> None:
    """Write the run lock of repo_dir as the run of process pid would (its worker long gone)."""
    holder = Holder(pid, socket.gethostname(), "2026-01-01T00:00:00+00:00", process_start(pid), boot_id())
    lock_path(repo_dir).write_text(holder.to_json())


def test_prepare_fails_clearly_while_another_live_run_holds_the_checkout(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    other = subprocess.Popen(["sleep", "120"])  # stands for the other run's ansible-playbook process
    try:
        hold_lock(work, other.pid)
        repo = locked_repo(work, remote, timeout=0)
        with pytest.raises(RunLockBusyError) as info:
            repo.prepare()
        assert f"pid {other.pid} on host {socket.gethostname()}, started " in str(info.value)
        assert not work.exists()  # nothing was cloned
    finally:
        other.kill()
        other.wait()
    status, changed = locked_repo(work, remote).prepare()  # its process is gone: the lock is stale
    assert (status.operation, changed) == ("cloned", True)


# ---------------------------------------------------------------- hooks, config, environment, modes

MARKER_HOOK = '#!/bin/sh\necho "$0" >> {marker}\n'


def test_hooks_and_fsmonitor_of_the_checkout_never_run(tmp_path: Path, remote: Remote) -> None:
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    marker = tmp_path / "marker"
    hooks = work / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in (
        "pre-commit",
        "commit-msg",
        "post-commit",
        "post-checkout",
        "post-merge",
        "pre-push",
        "reference-transaction",
        "post-rewrite",
        "pre-auto-gc",
    ):
        (hooks / name).write_text(MARKER_HOOK.format(marker=marker))
        (hooks / name).chmod(0o755)
    monitor = tmp_path / "fsmonitor.sh"
    monitor.write_text(MARKER_HOOK.format(marker=marker))
    monitor.chmod(0o755)
    git("config", "core.fsmonitor", str(monitor), cwd=work)
    # The same hooks DO run for git itself: the test would prove nothing otherwise.
    probe = clone(remote.url, tmp_path / "probe")
    shutil.copytree(hooks, probe / ".git" / "hooks", dirs_exist_ok=True)
    commit_files(probe, {"p.cfg": "p\n"}, "probe")
    assert marker.exists()
    marker.unlink()
    git("status", cwd=work)
    assert marker.read_text().strip() == str(monitor)
    marker.unlink()
    advance(remote, tmp_path, {"configs/other.cfg": "other\n"})
    repo.prepare()
    outcome = repo.publish(write(work, {"configs/mine.cfg": "mine\n"}), message_vars=VARS)
    assert outcome.status.pushed
    advance(remote, tmp_path, {"configs/third.cfg": "third\n"})  # one more rejected push and replay
    assert repo.publish(write(work, {"configs/mine.cfg": "mine 2\n"}), message_vars=VARS).status.pushed
    assert not marker.exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("core.sshCommand", "sh -c 'touch /tmp/pwned' #"),
        ("url.https://evil.example/.insteadOf", "file://"),
        ("remote.origin.pushurl", "https://evil.example/steal.git"),
        ("include.path", "/tmp/elsewhere.cfg"),
        ("filter.x.clean", "sh -c 'touch /tmp/pwned'"),
        ("remote.origin.receivepack", "touch /tmp/pwned; git-receive-pack"),
    ],
)
def test_checkout_whose_config_would_run_a_program_is_refused(tmp_path: Path, remote: Remote, key, value) -> None:
    work = tmp_path / "c"
    repo = make_repo(work, remote)
    repo.prepare()
    git("config", key, value, cwd=work)
    head = repo.rev("HEAD")
    with pytest.raises(UnsafeCheckoutError, match=key.split(".")[0]) as info:
        repo.prepare()
    assert value not in str(info.value)
    with pytest.raises(UnsafeCheckoutError):
        repo.publish(write(work, {"x.cfg": "x\n"}), message_vars=VARS)
    assert repo.rev("HEAD") == head and log(remote) == ["Initial commit"]


class RecordingRunner(GitRunner):
    """A GitRunner that records the environment each command gets."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: List[tuple] = []

    def environment(self, args: Any) -> dict:
        env = super().environment(args)
        self.seen.append((args[0], env))
        return env


def test_token_environment_only_reaches_network_commands(tmp_path: Path, remote: Remote, monkeypatch) -> None:
    monkeypatch.setenv("NB_BACKUP_GIT_TOKEN", "tok-from-controller-env")
    with GitAuth(username="bot", token="tok-123456").environment() as env:
        runner = RecordingRunner(network_env=env, secrets=["tok-123456"])
        repo = BackupRepository(runner, tmp_path / "c", remote.url, sleep=no_sleep)
        repo.prepare()
        advance(remote, tmp_path, {"other.cfg": "other\n"})
        assert repo.publish(write(tmp_path / "c", {"a.cfg": "a\n"}), message_vars=VARS).status.pushed
    commands = {command for command, _env in runner.seen}
    assert {"ls-remote", "clone", "push", "fetch", "commit", "update-index", "commit-tree"} <= commands
    for command, seen in runner.seen:
        assert seen["NB_BACKUP_GIT_TOKEN"] == "", command  # the controller's variable is blanked for every git
        if command in NETWORK_COMMANDS:
            assert seen[ASKPASS_TOKEN_VAR] == "tok-123456" and "GIT_ASKPASS" in seen, command
        else:
            assert not seen.get(ASKPASS_TOKEN_VAR) and "GIT_ASKPASS" not in seen, command
            assert "tok-123456" not in " ".join(seen.values()), command


@pytest.mark.parametrize(("file_mode", "dir_mode"), [("0600", 0o700), ("0640", 0o750)])
def test_checkout_is_private_whatever_the_umask(tmp_path: Path, remote: Remote, file_mode: str, dir_mode: int):
    work = tmp_path / "deep" / "c"
    mode, directories = file_modes(file_mode)
    assert directories == dir_mode
    previous = os.umask(0)
    try:
        with private_umask(directories):
            repo = BackupRepository(GitRunner(), work, remote.url, sleep=no_sleep, dir_mode=directories)
            repo.prepare()
            repo.publish(write(work, {"configs/r1.cfg": "r1\n"}), message_vars=VARS)
            advance(remote, tmp_path, {"configs/r2.cfg": "r2\n"})
            repo.prepare()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(work.stat().st_mode) == dir_mode
    assert stat.S_IMODE((tmp_path / "deep").stat().st_mode) == dir_mode
    for path in [work, *work.rglob("*")]:
        bits = stat.S_IMODE(path.lstat().st_mode)
        assert bits & 0o007 == 0, (path, oct(bits))  # nothing for other users
        if file_mode == "0600":
            assert bits & 0o077 == 0, (path, oct(bits))


def test_an_existing_checkout_readable_by_others_is_made_private(tmp_path: Path, remote: Remote) -> None:
    work = clone(remote.url, tmp_path / "c")
    work.chmod(0o755)
    make_repo(work, remote).prepare()
    assert stat.S_IMODE(work.stat().st_mode) == 0o700


# ---------------------------------------------------------------- commit trailers


def trailers_of(path: Path, commit: str = "refs/heads/main") -> dict:
    """The trailers git itself parses from a commit message (key -> value)."""
    text = git("log", "-1", "--format=%(trailers:only,unfold)", commit, cwd=path).stdout
    return dict(line.split(": ", 1) for line in text.splitlines() if line)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("alice", "alice"),
        ("eve\nRun-Id: forged", "eve Run-Id: forged"),
        ("eve\r\n\nAWX-Job-Id: 1", "eve AWX-Job-Id: 1"),
        ("  tab\there\x00nul\x1b[31mred\x7f  ", "tab here nul [31mred"),
        ("line\u2028sep\u2029para\x85next", "line sep para next"),
        (42, "42"),
        (["r1", "r2\nX: y"], "r1, r2 X: y"),
        ([], "(none)"),
    ],
)
def test_trailer_values_are_one_clean_line(value, expected) -> None:
    assert trailer_value(value) == expected


def test_format_trailers_skips_unset_values_and_refuses_bad_keys() -> None:
    block = format_trailers({"Run-Id": "r-1", "AWX-Job-Id": None, "Executed-By": "\n\n", "Devices-Failed": 0})
    assert block == "Run-Id: r-1\nDevices-Failed: 0"
    for key in ("Bad Key", "Key:", "", "-lead", "Run-Id\nX"):
        with pytest.raises(GitInputError, match="trailer key"):
            format_trailers({key: "v"})
    assert with_trailers("Backup\n\n", {"Run-Id": "r-1"}) == "Backup\n\nRun-Id: r-1\n"
    assert with_trailers("Backup", {"AWX-Job-Id": None}) == "Backup"


def test_publish_ends_the_commit_with_trailers_git_reads(tmp_path: Path, remote: Remote) -> None:
    """Hostile values stay on their line; Devices-Changed counts the owners of the changed files only."""
    repo = make_repo(tmp_path / "checkout", remote)
    repo.prepare()
    files = write(repo.path, {"backups/r1.cfg": "r1\n", "backups/r2.cfg": "r2\n", "backups/r3.cfg": "r3\n"})
    owners = {"backups/r1.cfg": "r1", str(repo.path / "backups/r2.cfg"): "r2\nRun-Id: forged", "x/r9.cfg": "r9"}
    trailers = {"Run-Id": "run-1", "Executed-By": "eve\nAWX-Job-Id: 666", "AWX-Job-Id": None, "Devices-Failed": 1}
    outcome = repo.publish(files[:2], message_vars=VARS, trailers=trailers, file_owners=owners)
    assert outcome.status.pushed
    assert trailers_of(remote.path) == {
        "Run-Id": "run-1",
        "Executed-By": "eve AWX-Job-Id: 666",
        "Devices-Failed": "1",
        "Devices-Changed": "2",
    }
    assert log(remote)[0] == "Config backup 20240501_213000: 2 files changed"
    write(repo.path, {"backups/r1.cfg": "r1 v2\n"})
    repo.publish([files[0], files[2]], message_vars=VARS, trailers={"Run-Id": "run-2"}, file_owners=owners)
    assert trailers_of(remote.path)["Devices-Changed"] == "1"  # r3 has no owner: not a device file


def test_trailers_survive_the_replay_onto_a_moved_remote(tmp_path: Path, remote: Remote) -> None:
    repo = make_repo(tmp_path / "checkout", remote)
    repo.prepare()
    advance(remote, tmp_path, {"backups/other.cfg": "other\n"})
    outcome = repo.publish(
        write(repo.path, {"backups/r1.cfg": "r1\n"}),
        message_vars=VARS,
        trailers={"Run-Id": "run-9"},
        file_owners={"backups/r1.cfg": "r1"},
    )
    assert outcome.status.pushed and log(remote)[1] == "Other job"  # replayed on top of the other job
    assert trailers_of(remote.path) == {"Run-Id": "run-9", "Devices-Changed": "1"}


def test_refresh_rebuilds_a_derived_file_after_the_replay_and_folds_it_into_the_runs_commit(
    tmp_path: Path, remote: Remote
) -> None:
    """The status page's rule: after a replay, a file built from the whole tree covers both runs' files."""
    repo = make_repo(tmp_path / "checkout", remote)
    repo.prepare()

    def index(checkout: Path) -> List[str]:
        names = sorted(path.name for path in (checkout / "status").iterdir())
        write(checkout, {"INDEX": "\n".join(names) + "\n"})
        return ["INDEX"]

    advance(remote, tmp_path, {"status/other": "x\n", "INDEX": "other\n"})
    files = write(repo.path, {"status/r1": "y\n"})
    index(repo.path)
    outcome = repo.publish([*files, "INDEX"], message_vars=VARS, refresh=index)
    assert outcome.status.pushed
    assert log(remote)[1] == "Other job" and len(log(remote)) == 3, "folded into the run's commit, no extra commit"
    assert show(remote, "INDEX") == "other\nr1\n"
    assert outcome.status.commit_hash == repo.rev("HEAD") == repo.rev("origin/main")
