"""Tests of plugins/module_utils/git_repo.py against real git repositories in a temp directory.

Remotes are bare repositories over file:// (testbed.git_remotes builds them with the git CLI);
only the push rejection kinds git cannot be made to produce on demand are faked, by wrapping
GitRunner.run for the push command.
"""

from __future__ import annotations

import os
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, List

import pytest
import yaml

from ansible_collections.netops.nautobot_backup.plugins.action.git_commit_push import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_repo import (
    ASKPASS_TOKEN_VAR,
    BackupRepository,
    GitAuth,
    GitCommandError,
    GitInputError,
    GitRepoError,
    GitResult,
    GitRunner,
    GitSyncError,
    RepositoryMismatchError,
    Scrubber,
    check_url,
    classify,
    message_placeholders,
    redact_url,
    relative_paths,
    render_message,
    same_remote,
)
from ansible_collections.netops.nautobot_backup.plugins.modules import git_commit_push as module_doc
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


# ---------------------------------------------------------------- documentation, URLs, secrets, messages, paths


def test_documented_options_match_the_action_plugins_argument_spec() -> None:
    """The spec lives in the action plugin ('message' is reserved for AnsibleModule), so check it here."""
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


@pytest.mark.parametrize(
    "url",
    [
        "https://user:Zq9-tok@git.example.com/netops/configs.git",
        "https://Zq9-tok@git.example.com/netops/configs.git",
        "http://a:Zq9-tok@127.0.0.1:8080/x.git",
        "ssh://git:Zq9-tok@git.example.com/x.git",
    ],
)
def test_urls_with_credentials_are_refused_and_point_to_token(url: str) -> None:
    with pytest.raises(GitInputError, match="'token' option") as info:
        check_url(url)
    assert "Zq9" not in str(info.value)
    assert isinstance(info.value, NautobotBackupError)


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/netops/configs.git",
        "ssh://git@git.example.com/netops/configs.git",
        "git@git.example.com:netops/configs.git",
        "file:///srv/git/configs.git",
    ],
)
def test_urls_without_secret_are_accepted(url: str) -> None:
    assert check_url(f"  {url} ") == url


def test_redaction_and_remote_comparison() -> None:
    assert redact_url("https://u:p@h.example/x.git") == "https://***@h.example/x.git"
    assert redact_url("ssh://git@h.example/x.git") == "ssh://git@h.example/x.git"
    assert same_remote("https://u:p@h.example/x.git/", "https://h.example/x.git")
    assert not same_remote("https://h.example/y.git", "https://h.example/x.git")
    scrub = Scrubber(["s3cr3t-token", None, ""])
    text = scrub("fatal: https://bot:s3cr3t-token@h/x.git and s3cr3t-token again")
    assert "s3cr3t-token" not in text
    assert "https://***@h/x.git" in text


@pytest.mark.parametrize(
    ("output", "failure_class"),
    [
        ("fatal: Authentication failed for 'http://127.0.0.1/x.git/'", "auth_failed"),
        ("fatal: could not read Username for 'https://h': terminal prompts disabled", "auth_failed"),
        ("git@h: Permission denied (publickey).", "auth_failed"),
        ("fatal: unable to access 'https://h/': Could not resolve host: h", "unreachable"),
        ("fatal: unable to access 'http://127.0.0.1:1/': Failed to connect to 127.0.0.1", "unreachable"),
        ('Timeout: the command "git push" did not complete in 5 secs.', "timeout"),
        ("error: something else", "other"),
    ],
)
def test_failure_classes(output: str, failure_class: str) -> None:
    assert classify(output) == failure_class


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


def test_askpass_environment_holds_no_secret_in_files_and_answers_git(tmp_path: Path) -> None:
    auth = GitAuth(username="backup-bot", token="tok-123456")
    assert "tok-123456" not in repr(auth)
    with auth.environment() as env:
        script = Path(env["GIT_ASKPASS"])
        assert "tok-123456" not in script.read_text()
        assert oct(script.stat().st_mode & 0o777) == "0o700"
        assert env[ASKPASS_TOKEN_VAR] == "tok-123456"
        assert env["GIT_TERMINAL_PROMPT"] == "0"
        count = int(env["GIT_CONFIG_COUNT"])
        assert env[f"GIT_CONFIG_KEY_{count - 1}"] == "credential.helper"
        assert env[f"GIT_CONFIG_VALUE_{count - 1}"] == ""
        full = {**os.environ, **env}
        answer = subprocess.run(
            [str(script), "Username for 'https://h': "], env=full, capture_output=True, text=True, check=True
        )
        assert answer.stdout == "backup-bot\n"
        answer = subprocess.run(
            [str(script), "Password for 'https://h': "], env=full, capture_output=True, text=True, check=True
        )
        assert answer.stdout == "tok-123456\n"
    assert not script.exists()


def test_ssh_key_environment(tmp_path: Path) -> None:
    key = tmp_path / "my key"
    key.write_text("not a real key")
    with GitAuth(ssh_key_file=str(key)).environment() as env:
        assert env["GIT_SSH_COMMAND"].startswith(f"ssh -i '{key}' -o IdentitiesOnly=yes")
        assert "StrictHostKeyChecking=accept-new" in env["GIT_SSH_COMMAND"]
        assert "GIT_ASKPASS" not in env
    with pytest.raises(GitInputError, match="does not exist"), GitAuth(ssh_key_file=str(tmp_path / "no")).environment():
        pass


def test_runner_scrubs_secrets_from_output() -> None:
    runner = GitRunner(secrets=["hunter2-token"])
    with pytest.raises(GitCommandError) as info:
        runner.run("rev-parse", "hunter2-token")
    assert "hunter2-token" not in str(info.value)
    assert "********" in str(info.value)


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


def test_prepare_conflicting_unpushed_commit_is_an_error(tmp_path: Path, remote: Remote) -> None:
    repo = make_repo(tmp_path / "c", remote)
    repo.prepare()
    local = commit_files(tmp_path / "c", {"README.md": "mine\n"}, "Unpushed")
    advance(remote, tmp_path, {"README.md": "theirs\n"})
    with pytest.raises(GitSyncError, match="conflict"):
        repo.prepare()
    assert repo.rev("HEAD") == local
    assert not (tmp_path / "c" / ".git" / "rebase-merge").exists()


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
