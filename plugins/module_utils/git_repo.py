# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prepare a Git checkout of the backup repository, then commit and push one run's files.

Two steps, used by the ``git_commit_push`` action plugin:

* ``BackupRepository.prepare`` takes the run lock (``run_lock.py``: one run per checkout),
  recovers what a killed run left (stale ``.git/*.lock`` files, temporary files of
  ``files.write_if_changed``), clones the remote, or opens an existing checkout of the same
  URL, and brings the branch up to date with the remote *before* any file is written: a hard
  reset to ``origin/<branch>`` when the local branch has nothing unpushed, a whole-file replay
  when it holds commits that an earlier run could not push (they are kept and pushed next; for
  a path both sides changed, the remote's newer published file wins). A directory that is not
  a checkout of that URL is an error, never deleted.
* ``BackupRepository.publish`` stages exactly the files the run wrote (and the removals it
  names), makes one commit, and pushes it with a bounded fetch-replay-retry loop, so jobs that
  publish to the same branch at the same time all land; it releases the run lock at the end.

Whole files, never line merges: after a rejected push, this run's commit is re-created on top of
the fetched tip with plumbing (``read-tree``, ``update-index --index-info``, ``write-tree``,
``commit-tree``), so every path it touched has exactly this run's content and every other path
the remote's. No merge machinery ever mixes the lines of two versions of a configuration.

Git itself runs through ``git_runner.GitRunner`` (safe settings, timeout, scrubbed output, the
credentials only for network commands); the remote URL and the credentials are ``git_remote``'s.
Errors are ``GitRepoError`` subclasses with the secret scrubbed.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import stat
import string
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import DEFAULT_DIR_MODE, make_dirs
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_remote import (
    check_url,
    redact_url,
    same_remote,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_runner import (
    GitCommandError,
    GitInputError,
    GitRepoError,
    GitResult,
    GitRunner,
    command_error,
    git_lock_files,
    nul_list,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import GitCommitStatus, GitStatus
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import Confinement, PathTemplateError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.run_lock import RunLock

DEFAULT_BRANCH = "main"
DEFAULT_MESSAGE = "Config backup {timestamp}: {files_changed} files changed"
DEFAULT_AUTHOR_NAME = "Nautobot Backup"
DEFAULT_AUTHOR_EMAIL = "nautobot-backup@localhost"
DEFAULT_PUSH_RETRIES = 5

# Settings of the checkout's own config (.git/config) that make git run a program, read another
# config file, or talk to another place than repo_url. This collection never sets them; a checkout
# that has them was tampered with (or is not ours), so prepare and publish refuse it.
_UNSAFE_CONFIG = re.compile(
    r"^(core\.(sshcommand|gitproxy|askpass|editor|pager|worktree|alternaterefscommand)|sequence\.editor"
    r"|include\.path|includeif\..+\.path|remote\..+\.(uploadpack|receivepack|vcs|pushurl|proxy)"
    r"|url\..+\.(insteadof|pushinsteadof)|filter\..+\.(clean|smudge|process)|diff\..+\.(command|textconv)"
    r"|merge\..+\.driver|credential(\..+)?\.helper|gpg(\..+)?\.program|uploadpack\.packobjectshook)$",
    re.IGNORECASE,
)

# Temporary files of files.write_if_changed (mkstemp: ".<name>.<random>.tmp") left by a killed writer.
_TEMP_FILE = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")

# Push rejections that a fetch + rebase + retry can cure: the branch moved on the remote
# ("fetch first", "non-fast-forward", "stale info"), or another push was updating it at the
# same moment ("cannot lock ref", "failed to update ref", "failed to lock", "incorrect old value").
_RETRYABLE_PUSH = re.compile(
    r"fetch first|non-fast-forward|stale info|cannot lock ref|failed to update ref|failed to lock|"
    r"incorrect old value",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHA = re.compile(r"^[0-9a-f]{40,64}$")
# Rewrites files derived from the whole checkout (the status page) after a replay; returns their paths.
Refresh = Callable[[Path], Sequence[str]]


class RepositoryMismatchError(GitRepoError):
    """repo_dir exists but is not a checkout of repo_url (or not a checkout at all); it is left untouched."""


class GitSyncError(GitRepoError):
    """The checkout could not be brought up to date with the remote (for example a fetch gave no commit)."""


class UnsafeCheckoutError(RepositoryMismatchError):
    """The checkout's own config would make git run a program or reach another remote; it is left untouched."""


class GitPushError(GitRepoError):
    """The push failed for good (authentication, network, a rejection that retries did not cure)."""

    def __init__(self, message: str, failure_class: str = "other") -> None:
        self.failure_class = failure_class
        super().__init__(message)


# ---------------------------------------------------------------- messages and paths


def message_placeholders(template: str) -> List[str]:
    """Return the placeholder names of a commit message template; raise GitInputError if one is not a name."""
    names: List[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise GitInputError(f"commit message template {template!r}: {exc} (write literal braces as {{{{ }}}})") from exc
    for _literal, name, _spec, _conversion in parsed:
        if name is None:
            continue
        if not _PLACEHOLDER.match(name):
            raise GitInputError(
                f"commit message template {template!r}: placeholder {{{name}}} must be a plain name such as "
                "{timestamp} or {devices_failed}"
            )
        names.append(name)
    return names


def render_message(template: str, values: Mapping[str, Any]) -> str:
    """Fill the commit message template; an unknown placeholder is a GitInputError naming the known ones."""
    unknown = [name for name in message_placeholders(template) if name not in values]
    if unknown:
        raise GitInputError(
            f"commit message template {template!r}: unknown placeholder(s) "
            f"{', '.join('{' + name + '}' for name in unknown)}; known: "
            f"{', '.join('{' + name + '}' for name in sorted(values))} (add more with message_vars)"
        )
    try:
        message = template.format_map(dict(values))
    except (ValueError, TypeError) as exc:
        raise GitInputError(f"commit message template {template!r}: {exc}") from exc
    if not message.strip():
        raise GitInputError("the commit message is empty")
    return message


TRAILER_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\Z")
# Characters that would end a trailer's line or hide in it: C0/C1 controls (newlines included), DEL, and
# the Unicode line and paragraph separators.
_TRAILER_BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def trailer_value(value: Any) -> str:
    """One trailer value on one line: control characters become spaces and blank runs one space.

    Values come from outside (an AWX user name, device names), so a newline must never start a forged
    trailer of its own. A list is joined with ", " and an empty list is "(none)".
    """
    if isinstance(value, (list, tuple)):
        return ", ".join(trailer_value(item) for item in value) or "(none)"
    return " ".join(_TRAILER_BREAKS.sub(" ", str(value)).split())


def format_trailers(trailers: Mapping[str, Any]) -> str:
    """The Git trailer block ("Key: value" lines) for the set values; None and empty values are left out."""
    lines = []
    for key, value in trailers.items():
        if not TRAILER_KEY.match(str(key)):
            raise GitInputError(f"commit trailer key {key!r} must be letters, digits and '-'")
        text = trailer_value(value) if value is not None else ""
        if text:
            lines.append(f"{key}: {text}")
    return "\n".join(lines)


def with_trailers(message: str, trailers: Optional[Mapping[str, Any]]) -> str:
    """The message with the trailer block appended after a blank line (as ``git interpret-trailers`` reads it)."""
    block = format_trailers(trailers or {})
    return f"{message.rstrip()}\n\n{block}\n" if block else message


def spelled_paths(repo_dir: Path, paths: Sequence[str], option: str = "files") -> List[str]:
    """Return each path as a POSIX path relative to repo_dir (one per path, in order), not confined.

    Relative paths are taken from repo_dir; absolute ones must lie inside it (GitInputError naming the option,
    as for an empty path). Only for naming files: a path that is written or staged goes through relative_paths.
    """
    root = os.path.normpath(os.path.abspath(repo_dir))
    real_root = os.path.realpath(root)
    spelled = []
    for raw in paths:
        text = str(raw or "").strip()
        if not text:
            raise GitInputError(f"{option}: an empty path was given")
        if os.path.isabs(text):
            absolute = os.path.normpath(text)
            for base in (root, real_root):
                if absolute == base or absolute.startswith(base.rstrip(os.sep) + os.sep):
                    text = os.path.relpath(absolute, base)
                    break
            else:
                raise GitInputError(f"{option}: {raw!r} is outside the checkout {root}")
        spelled.append("/".join(part for part in PurePosixPath(text.replace(os.sep, "/")).parts if part != "."))
    return spelled


def relative_paths(repo_dir: Path, paths: Sequence[str], option: str = "files") -> List[str]:
    """Return paths as POSIX paths relative to repo_dir (spelled_paths), without duplicates, in order.

    Each one must pass ``paths.confine`` (the one confinement rule: no ``..`` or ``.git``, nothing that
    resolves outside the checkout through a symlink), through one ``Confinement`` for all of them; a path that
    does not is refused with a GitInputError naming the option.
    """
    confinement = Confinement(repo_dir)
    seen: Dict[str, None] = {}
    for index, relative in enumerate(spelled_paths(repo_dir, paths, option)):
        raw = paths[index]
        try:
            # The backup's own confinement rule: no '..' or '.git' (any case), and inside the checkout
            # once symlinks already in it are followed.
            confinement(relative)
        except PathTemplateError as exc:
            raise GitInputError(f"{option}: {raw!r} is not a file path inside the checkout: {exc}") from None
        seen.setdefault(relative, None)
    return list(seen)


# ---------------------------------------------------------------- the repository


@dataclass(frozen=True)
class RemoteState:
    """What ``git ls-remote`` says about the remote: its default branch, HEAD and our branch's tip."""

    default_branch: Optional[str] = None
    head: Optional[str] = None
    tip: Optional[str] = None

    @property
    def empty(self) -> bool:
        """True when the remote has no commit on HEAD nor on our branch (a brand-new repository)."""
        return self.head is None and self.tip is None


@dataclass
class PublishResult:
    """Outcome of publish: the GitCommitStatus, the paths committed (or that would be), and changed."""

    status: GitCommitStatus
    changed_files: List[str]
    changed: bool
    would_push: bool = False


class BackupRepository:
    """One checkout of the backup repository: prepare it, then publish a run's files to its branch.

    runner: the GitRunner every git command goes through (it carries credentials and the timeout).
    path: the checkout directory; url: the remote (never with credentials); branch: the target branch.
    author_name/author_email: author and committer of the run's commit, and committer of replayed
    commits, so nothing depends on the controller's git configuration.
    sleep: how to wait between push retries (tests pass a no-op).
    run_lock: the checkout's RunLock; prepare takes it, publish releases it. Without one (tests,
    callers that serialise runs themselves) nothing is locked and nothing left by killed runs is
    recovered, since only the holder of the lock knows that no live run uses those files.
    dir_mode: mode of the checkout directory and of the directories created for it.
    """

    def __init__(
        self,
        runner: GitRunner,
        path: Path,
        url: str,
        branch: str = DEFAULT_BRANCH,
        author_name: str = DEFAULT_AUTHOR_NAME,
        author_email: str = DEFAULT_AUTHOR_EMAIL,
        sleep: Callable[[float], None] = time.sleep,
        run_lock: Optional[RunLock] = None,
        dir_mode: int = DEFAULT_DIR_MODE,
    ) -> None:
        self.runner = runner
        self.path = Path(path)
        self.run_lock = run_lock
        self.dir_mode = dir_mode
        self.recovered: List[str] = []
        self.lock_waited_for: Optional[str] = None
        self.lock_waited = 0.0
        self.url = check_url(url)
        self.branch = (branch or "").strip()
        self.identity = {
            "GIT_AUTHOR_NAME": author_name,
            "GIT_AUTHOR_EMAIL": author_email,
            "GIT_COMMITTER_NAME": author_name,
            "GIT_COMMITTER_EMAIL": author_email,
        }
        self._sleep = sleep
        self._check_branch()

    # ---------------------------------------------------------------- helpers

    def _check_branch(self) -> None:
        """Refuse a branch name git would refuse (or that looks like an option)."""
        if not self.branch or self.branch.startswith("-"):
            raise GitInputError(f"branch {self.branch!r} is not a valid Git branch name")
        result = self.runner.run("check-ref-format", f"refs/heads/{self.branch}", check=False)
        if result.returncode != 0:
            raise GitInputError(f"branch {self.branch!r} is not a valid Git branch name")

    @property
    def tracking_ref(self) -> str:
        """The remote-tracking ref of the branch."""
        return f"refs/remotes/origin/{self.branch}"

    @property
    def branch_ref(self) -> str:
        """The local ref of the branch."""
        return f"refs/heads/{self.branch}"

    def git(
        self, *args: str, check: bool = True, env: Optional[Mapping[str, str]] = None, stdin: Optional[Path] = None
    ) -> GitResult:
        """Run a git command in the checkout, with the run's identity."""
        return self.runner.run(*args, cwd=self.path, check=check, env={**self.identity, **(env or {})}, stdin=stdin)

    def rev(self, ref: str) -> Optional[str]:
        """Return the commit ID ref points at, or None when it does not exist (or is unborn)."""
        result = self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        sha = result.stdout.strip()
        return sha if result.returncode == 0 and _SHA.match(sha) else None

    def current_branch(self) -> Optional[str]:
        """Return the branch HEAD points at (even unborn), or None when HEAD is detached."""
        result = self.git("symbolic-ref", "--quiet", "HEAD", check=False)
        ref = result.stdout.strip()
        return ref[len("refs/heads/") :] if result.returncode == 0 and ref.startswith("refs/heads/") else None

    def count(self, exclude: str, include: str) -> int:
        """Return how many commits include has that exclude has not (both commit IDs)."""
        return int(self.git("rev-list", "--count", f"{exclude}..{include}").stdout.strip() or "0")

    def status(self, existed: bool, operation: str) -> GitStatus:
        """The GitStatus of this checkout."""
        return GitStatus(
            repository_existed=existed,
            operation=operation,
            repository_path=str(self.path),
            repository_url=redact_url(self.url),
            branch=self.branch,
        )

    def _network_error(self, result: GitResult, what: str) -> GitCommandError:
        """The GitCommandError of a failed command that talked to the remote."""
        error = command_error(result, f"{what} {redact_url(self.url)}")
        return GitCommandError(str(error), error.output, error.failure_class)

    def ls_remote(self) -> RemoteState:
        """Ask the remote (repo_url, with the checkout's config when it exists) for HEAD and our branch."""
        cwd = self.path if (self.path / ".git").exists() else None
        result = self.runner.run(
            "ls-remote", "--symref", "--", self.url, "HEAD", self.branch_ref, cwd=cwd, env=self.identity, check=False
        )
        if result.returncode != 0:
            raise self._network_error(result, "git ls-remote")
        default: Optional[str] = None
        head: Optional[str] = None
        tip: Optional[str] = None
        for line in result.stdout.splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                default = line[len("ref: refs/heads/") : -len("\tHEAD")]
                continue
            sha, _tab, ref = line.partition("\t")
            if not _SHA.match(sha):
                continue
            if ref == "HEAD":
                head = sha
            elif ref == self.branch_ref:
                tip = sha
        return RemoteState(default if head else None, head, tip)

    def fetch(self, branch: str) -> str:
        """Fetch one remote branch into its remote-tracking ref and return the fetched commit ID."""
        result = self.git(
            "fetch", "--quiet", "--no-tags", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}", check=False
        )
        if result.returncode != 0:
            raise self._network_error(result, "git fetch from")
        sha = self.rev(f"refs/remotes/origin/{branch}")
        if sha is None:
            raise GitSyncError(f"git fetch of {branch} from {redact_url(self.url)} gave no commit")
        return sha

    # ---------------------------------------------------------------- prepare

    def inspect(self) -> bool:
        """Tell whether repo_dir is a checkout of repo_url (True) or absent/empty, to be cloned (False).

        Raises RepositoryMismatchError when it exists but is a file, a non-empty directory that is not
        a Git checkout, a bare repository, a sub-directory of another checkout, or a checkout of another
        remote, and UnsafeCheckoutError when the checkout's own config is unsafe. Changes nothing.
        """
        path = self.path
        if not path.exists() and not path.is_symlink():
            return False
        if not path.is_dir():
            raise RepositoryMismatchError(f"repo_dir {path} exists and is not a directory; refusing to touch it")
        if not (path / ".git").exists():
            if not any(path.iterdir()):
                return False
            raise RepositoryMismatchError(
                f"repo_dir {path} exists, is not empty and is not a Git checkout; refusing to touch it "
                "(give an empty or missing directory, or a checkout of repo_url)"
            )
        top = self.git("rev-parse", "--show-toplevel", check=False)
        if top.returncode != 0:
            raise RepositoryMismatchError(f"repo_dir {path} holds a .git that git cannot open: {top.output}")
        if os.path.realpath(top.stdout.strip()) != os.path.realpath(path):
            raise RepositoryMismatchError(f"repo_dir {path} is not the top of a Git checkout; refusing to touch it")
        origin = self.git("config", "--get", "remote.origin.url", check=False).stdout.strip()
        if not origin:
            raise RepositoryMismatchError(
                f"repo_dir {path} is a Git checkout without an 'origin' remote, not a checkout of "
                f"{redact_url(self.url)}; refusing to touch it"
            )
        if not same_remote(origin, self.url):
            raise RepositoryMismatchError(
                f"repo_dir {path} is a checkout of {redact_url(origin)}, not of {redact_url(self.url)}; "
                "refusing to touch it (use another repo_dir, or remove it yourself)"
            )
        self._check_config()
        return True

    def _check_config(self) -> None:
        """Refuse a checkout whose own config makes git run a program, read other config or reach elsewhere."""
        listing = self.git("config", "--list", "--show-scope", "--name-only", "-z", check=False)
        if listing.returncode != 0:
            raise RepositoryMismatchError(f"cannot read the config of the checkout {self.path}: {listing.output}")
        items = nul_list(listing.stdout)
        unsafe = sorted(
            {
                name
                for scope, name in zip(items[::2], items[1::2], strict=False)
                if scope in ("local", "worktree") and _UNSAFE_CONFIG.match(name)
            }
        )
        if unsafe:
            raise UnsafeCheckoutError(
                f"the checkout {self.path} sets {', '.join(unsafe)} in its own config (.git/config), which would "
                "make git run a program, read another config file or reach another remote; this collection never "
                "sets these, so the checkout may have been tampered with. Refusing to use it: remove those "
                "settings (git config --unset) or the checkout"
            )

    def prepare(self, check_mode: bool = False) -> Tuple[GitStatus, bool]:
        """Take the run lock, recover, clone or open the checkout and sync its branch; return (GitStatus, changed).

        Operation: "cloned" (the remote had commits), "initialized" (the remote had none: a clone of
        an empty repository, HEAD on the unborn branch) or "opened" (an existing checkout). The run
        lock stays taken (publish releases it), except when prepare fails. In check mode nothing is
        locked, cloned, fetched or moved: the remote is only queried and changed says whether
        something would be.
        """
        if check_mode:
            if not self.inspect():
                remote = self.ls_remote()
                return self.status(False, "initialized" if remote.empty else "cloned"), True
            return self.status(True, "opened"), self._would_move(self.ls_remote())
        self.lock()
        try:
            return self._prepare()
        except BaseException:
            self.unlock()
            raise

    def _prepare(self) -> Tuple[GitStatus, bool]:
        """prepare, once the run lock is held."""
        if not self.inspect():
            remote = self.ls_remote()
            self._clone(remote)
            self._make_private()
            return self.status(False, "initialized" if remote.empty else "cloned"), True
        self._make_private()
        recovered = self.recover(temp_files=True)
        self._adopt_clean_url()
        before = (self.current_branch(), self.rev("HEAD"))
        self._sync()
        after = (self.current_branch(), self.rev("HEAD"))
        return self.status(True, "opened"), before != after or bool(recovered)

    def _make_private(self) -> None:
        """Give the checkout directory dir_mode, so other users cannot read what is in it, whatever its files' modes."""
        if (os.stat(self.path).st_mode & 0o7777) != self.dir_mode:
            os.chmod(self.path, self.dir_mode)

    def _clone(self, remote: RemoteState) -> None:
        """Clone the remote into repo_dir and put HEAD on the branch (created when the remote lacks it)."""
        make_dirs(self.path, self.dir_mode)
        args = ["clone", "--quiet", "--origin", "origin", "--no-tags"]
        if remote.tip:
            args += ["--branch", self.branch]
        result = self.runner.run(*args, "--", self.url, str(self.path), env=self.identity, check=False)
        if result.returncode != 0:
            raise self._network_error(result, "git clone")
        if remote.tip:
            return
        head = self.rev("HEAD")
        if head:
            self.git("checkout", "--quiet", "-b", self.branch, head, "--")
        else:
            self.git("symbolic-ref", "HEAD", self.branch_ref)

    def _adopt_clean_url(self) -> None:
        """Rewrite an origin URL that carries credentials (left by an older tool) to repo_url, without them."""
        origin = self.git("config", "--get", "remote.origin.url").stdout.strip()
        if origin != self.url:
            self.git("remote", "set-url", "origin", self.url)

    def _abort_unfinished(self) -> None:
        """Abort a rebase, merge, cherry-pick or revert left half-done (by an older version, or by hand).

        Older versions rebased; a run killed in the middle left ``rebase-merge``. ``rebase --abort``
        restores the branch; if even that fails, the state is dropped (``rebase --quit``, then the
        directories), since prepare then checks the branch out and resets it anyway.
        """
        git_dir = self._git_dir()
        rebase_dirs = (git_dir / "rebase-merge", git_dir / "rebase-apply")
        if any(directory.exists() for directory in rebase_dirs):
            if self.git("rebase", "--abort", check=False).returncode != 0:
                self.git("rebase", "--quit", check=False)
            for directory in rebase_dirs:
                if directory.exists():
                    shutil.rmtree(directory)
        if (git_dir / "MERGE_HEAD").exists():
            self.git("merge", "--abort", check=False)
        if (git_dir / "sequencer").exists():
            self.git("cherry-pick", "--quit", check=False)
            shutil.rmtree(git_dir / "sequencer", ignore_errors=True)

    def _would_move(self, remote: RemoteState) -> bool:
        """Check mode: tell whether prepare would switch branch or move HEAD."""
        if self.current_branch() != self.branch:
            return True
        local = self.rev(self.branch_ref)
        if remote.tip is None or local == remote.tip:
            return False
        tracking = self.rev(self.tracking_ref)
        if local and tracking == remote.tip and self.count(tracking, local) and not self.count(local, tracking):
            return False  # only unpushed local commits on top of the remote tip: nothing would move
        return True

    def _sync(self) -> None:
        """Bring the local branch to the remote's state, keeping unpushed local commits on top of it.

        Unpushed commits are replayed whole-file onto the remote branch; for a path that the remote
        changed too, the remote's file wins (it is a newer published backup, and this run reads the
        device again anyway). A commit left with nothing of its own is dropped. Never fails on a conflict.
        """
        self._abort_unfinished()
        remote = self.ls_remote()
        local = self.rev(self.branch_ref)
        if remote.tip is None:
            self._sync_missing_remote_branch(remote, local)
            return
        upstream = remote.tip if self.rev(self.tracking_ref) == remote.tip else self.fetch(self.branch)
        if local is None:
            self.git("checkout", "--quiet", "--force", "-B", self.branch, upstream, "--")
            return
        self.git("checkout", "--quiet", "--force", self.branch, "--")
        self.git("reset", "--quiet", "--hard")  # drop uncommitted edits to tracked files; untracked files stay
        if self.count(upstream, local) == 0:
            self.git("reset", "--quiet", "--hard", upstream)
            return
        if self.count(local, upstream) == 0:
            return  # only unpushed commits on top of the remote: keep them, publish pushes them
        tip, _mapping = self._replay(upstream, lambda _commit: False)
        self.git("reset", "--quiet", "--hard", tip)

    def _sync_missing_remote_branch(self, remote: RemoteState, local: Optional[str]) -> None:
        """The remote has no such branch: keep a local one (its commits get pushed), else create it.

        A new branch starts from the remote's default branch, or is born empty when the remote has
        no commit at all.
        """
        if local is not None:
            self.git("checkout", "--quiet", "--force", self.branch, "--")
            self.git("reset", "--quiet", "--hard")
            return
        base: Optional[str] = None
        if remote.default_branch and remote.head:
            base = self.fetch(remote.default_branch)
        if base:
            self.git("checkout", "--quiet", "--force", "-b", self.branch, base, "--")
        else:
            self.git("symbolic-ref", "HEAD", self.branch_ref)
            self.git("read-tree", "--empty")

    # ---------------------------------------------------------------- run lock and recovery

    def lock(self) -> None:
        """Take the run lock (when there is one), recording whom this run waited for and any stale lock."""
        if self.run_lock is None:
            return
        acquired = self.run_lock.acquire()
        if acquired.waited_for is not None:
            self.lock_waited = acquired.waited
            self.lock_waited_for = acquired.waited_for.describe()
        if acquired.stale is not None:
            self.recovered.append(f"stale run lock of {acquired.stale.describe()} (that run no longer exists)")

    def unlock(self) -> None:
        """Release the run lock when this run holds it."""
        if self.run_lock is not None:
            self.run_lock.release()

    def _git_dir(self) -> Path:
        """The checkout's git directory."""
        return Path(self.git("rev-parse", "--absolute-git-dir").stdout.strip())

    def recover(self, temp_files: bool = False) -> List[str]:
        """Remove stale git lock files, and with temp_files stale writers' temporary files; return them.

        Only while this run holds the run lock: then no other git command or writer can be using the
        checkout, so each such file was left by a killed process (timeouts kill git with SIGKILL) and
        would fail every later run. The temporary files must be untracked, named like those of
        files.write_if_changed. Paths are returned relative to repo_dir.
        """
        if self.run_lock is None or not self.run_lock.held:
            return []
        found = _unlink_files(git_lock_files(self._git_dir()), self.path)
        if temp_files:
            untracked = nul_list(self.git("ls-files", "--others", "-z").stdout)
            temp = [self.path / name for name in untracked if _TEMP_FILE.match(PurePosixPath(name).name)]
            found += _unlink_files(temp, self.path)
        self.recovered.extend(found)
        return found

    # ---------------------------------------------------------------- whole-file replay

    def _merge_base(self, one: str, two: str) -> Optional[str]:
        """The best common ancestor of two commits, or None when their histories are unrelated."""
        result = self.git("merge-base", one, two, check=False)
        sha = result.stdout.strip()
        return sha if result.returncode == 0 and _SHA.match(sha) else None

    def _tree(self, commit: str) -> str:
        """The tree ID of a commit."""
        return self.git("rev-parse", "--verify", f"{commit}^{{tree}}").stdout.strip()

    def _empty_tree(self) -> str:
        """The ID of the empty tree (in this repository's hash)."""
        return self.git("hash-object", "-t", "tree", "--stdin", stdin=Path(os.devnull)).stdout.strip()

    def _changed_paths(self, base: Optional[str], tip: str) -> List[str]:
        """Paths that differ between base and tip (every path of tip when there is no base)."""
        if base is None:
            return nul_list(self.git("ls-tree", "-r", "-z", "--name-only", tip).stdout)
        return nul_list(self.git("diff-tree", "-r", "-z", "--no-renames", "--name-only", base, tip).stdout)

    def _entries(self, parent: Optional[str], commit: str) -> List[Tuple[str, str, str]]:
        """The index entries (mode, object, path) a commit sets against its parent; mode "0" removes the path."""
        output = self.git("diff-tree", "-r", "-z", "--no-renames", parent or self._empty_tree(), commit).stdout
        tokens = output.split("\0")
        entries: List[Tuple[str, str, str]] = []
        index = 0
        while index + 1 < len(tokens):
            meta = tokens[index]
            if not meta.startswith(":"):
                index += 1
                continue
            _old_mode, new_mode, _old_sha, new_sha, state = meta[1:].split()[:5]
            path = tokens[index + 1]
            if state.startswith("D"):
                entries.append(("0", "0" * len(new_sha), path))
            else:
                entries.append((new_mode, new_sha, path))
            index += 2
        return entries

    def _recommit(self, commit: str, tree: str, parent: str, scratch: Path) -> str:
        """Create a commit of tree on parent with commit's message and author (committer: this run)."""
        raw = self.git("cat-file", "commit", commit).stdout
        message = scratch / "message"
        message.write_bytes(raw.partition("\n\n")[2].encode("utf-8"))
        author = self.git("log", "-1", "--format=%an%x00%ae%x00%ad", "--date=raw", commit).stdout.rstrip("\n")
        name, email, date = author.split("\0")
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date}
        return self.git("commit-tree", tree, "-p", parent, env=env, stdin=message).stdout.strip()

    def _replay(self, onto: str, ours: Callable[[str], bool]) -> Tuple[str, Dict[str, Optional[str]]]:
        """Re-create the local commits that onto lacks on top of onto, whole file by whole file.

        For each local commit (first-parent order), every path it touched gets exactly that commit's
        content or deletion, except, when ours(commit) is false, a path that onto changed since the
        histories split (onto's file wins). Every other path keeps onto's content. A commit that
        changes nothing any more is dropped. Nothing is merged line by line: a temporary index
        (GIT_INDEX_FILE) is loaded from the new parent, the entries are set with
        ``update-index --index-info``, and ``write-tree`` / ``commit-tree`` make the commit (message
        and author kept). Returns the new tip (onto when every commit was dropped) and old -> new
        commit IDs (None for a dropped commit); no ref, index or file is changed.
        """
        head = self.rev("HEAD")
        if head is None:
            return onto, {}
        commits = self.git("rev-list", "--reverse", "--first-parent", f"{onto}..{head}").stdout.split()
        base = self._merge_base(onto, head)
        if base == onto:  # already on top of onto (the remote did not move): nothing to re-create
            return head, {commit: commit for commit in commits}
        theirs = set(self._changed_paths(base, onto))
        tip, tip_tree = onto, self._tree(onto)
        mapping: Dict[str, Optional[str]] = {}
        with tempfile.TemporaryDirectory(prefix="nb-backup-git-") as scratch_dir:
            scratch = Path(scratch_dir)
            index = {"GIT_INDEX_FILE": str(scratch / "index")}
            for commit in commits:
                mapping[commit] = None
                keep_all = ours(commit)
                entries = [
                    entry
                    for entry in self._entries(self.rev(f"{commit}^1"), commit)
                    if keep_all or entry[2] not in theirs
                ]
                if not entries:
                    continue
                self.git("read-tree", tip, env=index)
                info = scratch / "entries"
                info.write_bytes(b"".join(f"{mode} {sha}\t{path}\0".encode() for mode, sha, path in entries))
                self.git("update-index", "--replace", "-z", "--index-info", env=index, stdin=info)
                tree = self.git("write-tree", env=index).stdout.strip()
                if tree == tip_tree:
                    continue
                tip, tip_tree = self._recommit(commit, tree, tip, scratch), tree
                mapping[commit] = tip
        return tip, mapping

    def _move_to(self, commit: str) -> None:
        """Point the branch, index and work tree at commit, keeping unrelated local edits when git can."""
        if self.git("reset", "--quiet", "--keep", commit, check=False).returncode != 0:
            self.git("reset", "--quiet", "--hard", commit)

    # ---------------------------------------------------------------- publish

    def publish(
        self,
        files: Sequence[str],
        removed_files: Sequence[str] = (),
        message: str = DEFAULT_MESSAGE,
        message_vars: Optional[Mapping[str, Any]] = None,
        push_retries: int = DEFAULT_PUSH_RETRIES,
        check_mode: bool = False,
        trailers: Optional[Mapping[str, Any]] = None,
        file_owners: Optional[Mapping[str, str]] = None,
        refresh: Optional[Refresh] = None,
    ) -> PublishResult:
        """Stage exactly files (and removed_files), commit once, push with retries; release the run lock.

        The commit message is the rendered template followed by ``trailers`` (format_trailers); with
        ``file_owners`` (path -> device name) a ``Devices-Changed`` trailer counts the devices whose files
        the commit changes. The replay keeps the whole message, trailers included. ``refresh`` rebuilds
        files derived from the whole tree after a replay (see push).

        Nothing staged differs from HEAD: no commit, but commits left unpushed by an earlier run are
        still pushed. A push that fails for good is reported in the returned status's ``error`` (the
        commit stays local and the next run pushes it); unusable inputs and failing local commands raise.
        The run lock is taken (or kept, after prepare) and released at the end, success or failure.
        In check mode the staging is done in a throw-away index, nothing is committed or pushed, and
        the lock is not touched.
        """
        if check_mode:
            return self._publish(files, removed_files, message, message_vars, push_retries, True, trailers, file_owners)
        self.lock()
        try:
            return self._publish(
                files, removed_files, message, message_vars, push_retries, False, trailers, file_owners, refresh
            )
        finally:
            self.unlock()

    def _publish(
        self,
        files: Sequence[str],
        removed_files: Sequence[str],
        message: str,
        message_vars: Optional[Mapping[str, Any]],
        push_retries: int,
        check_mode: bool,
        trailers: Optional[Mapping[str, Any]] = None,
        file_owners: Optional[Mapping[str, str]] = None,
        refresh: Optional[Refresh] = None,
    ) -> PublishResult:
        """publish, once the run lock is held (or in check mode)."""
        if not self.inspect():
            raise GitRepoError(f"repo_dir {self.path} is not a checkout yet; run this module with mode=prepare first")
        if not check_mode:
            self.recover()
        current = self.current_branch()
        if current != self.branch:
            raise GitRepoError(
                f"the checkout {self.path} is on {current or 'a detached HEAD'}, not on {self.branch}; "
                "run this module with mode=prepare first"
            )
        if push_retries < 0:
            raise GitInputError("push_retries must be 0 or more")
        values: Dict[str, Any] = {"files_changed": 0, "branch": self.branch}
        values.update(message_vars or {})
        render_message(message, values)  # fail on a bad template before touching the index
        format_trailers(trailers or {})  # and on a bad trailer key
        added = relative_paths(self.path, files, "files")
        # Only looked up for the staged files, which were confined above: spelled alike, not confined again.
        owned = list((file_owners or {}).items())
        spelled = spelled_paths(self.path, [path for path, _name in owned], "files")
        owners = {spelled[index]: name for index, (_path, name) in enumerate(owned)}
        removed = relative_paths(self.path, removed_files, "removed_files")
        self._check_files(added, removed)

        changed_files = self._stage(added, removed, check_mode)
        values["files_changed"] = len(changed_files)
        status = GitCommitStatus(files_changed=len(changed_files))
        if check_mode:
            would_push = bool(changed_files) or self._needs_push()
            return PublishResult(status, changed_files, would_push, would_push)
        ours: List[str] = []
        if changed_files:
            commit_trailers = dict(trailers or {})
            if file_owners is not None:
                commit_trailers["Devices-Changed"] = len({owners[path] for path in changed_files if path in owners})
            text = with_trailers(render_message(message, values), commit_trailers)
            self.git("commit", "--quiet", "--no-edit", "-m", text)
            status.committed = True
            status.commit_hash = self.rev("HEAD")
            ours.append(status.commit_hash or "")
        if not self._needs_push():
            return PublishResult(status, changed_files, status.committed)
        try:
            status.commit_hash = self.push(push_retries, ours=ours, refresh=refresh)
            status.pushed = True
        except GitRepoError as exc:
            status.error = str(exc)
            if status.committed:
                status.commit_hash = self.rev("HEAD")
        return PublishResult(status, changed_files, status.committed or status.pushed)

    def _check_files(self, added: Sequence[str], removed: Sequence[str]) -> None:
        """Refuse listed files that are missing or directories, removals still on disk, and overlaps."""
        both = sorted(set(added) & set(removed))
        if both:
            raise GitInputError(f"listed in both files and removed_files: {', '.join(both[:10])}")
        missing: List[str] = []
        directories: List[str] = []
        for name in added:  # one lstat each (36,000 files of 10,000 devices)
            try:
                mode = os.lstat(os.path.join(self.path, name)).st_mode
            except OSError:
                missing.append(name)
                continue
            if stat.S_ISDIR(mode):  # a directory itself, not a symlink to one
                directories.append(name)
        if missing:
            raise GitInputError(
                f"{len(missing)} file(s) listed in files do not exist in {self.path}: {', '.join(missing[:10])} "
                "(list deleted files in removed_files)"
            )
        if directories:
            raise GitInputError(f"files must list files, not directories: {', '.join(directories[:10])}")
        present = [name for name in removed if os.path.lexists(self.path / name)]
        if present:
            raise GitInputError(f"removed_files still exist in {self.path}: {', '.join(present[:10])}")

    def _stage(self, added: Sequence[str], removed: Sequence[str], check_mode: bool) -> List[str]:
        """Reset the index to HEAD, stage the listed paths, and return the paths whose staged content changed.

        One ``git update-index --add --remove -z --stdin`` stages every listed path at once: it takes
        plain paths (no pathspec matching, which is quadratic with 10,000 pathspecs), adds new and
        modified files (through the repository's attributes and filters, like ``git add``) and removes
        tracked paths that no longer exist. In check mode all of it happens in a temporary copy of the
        index (GIT_INDEX_FILE), so the real index is untouched.
        """
        git_dir = Path(self.git("rev-parse", "--absolute-git-dir").stdout.strip())
        with tempfile.TemporaryDirectory(prefix="nb-backup-git-") as scratch:
            env: Dict[str, str] = {}
            if check_mode:
                env["GIT_INDEX_FILE"] = str(Path(scratch) / "index")
                if (git_dir / "index").exists():
                    shutil.copyfile(git_dir / "index", env["GIT_INDEX_FILE"])
            if self.rev("HEAD"):
                self.git("reset", "--quiet", env=env)
            else:
                self.git("read-tree", "--empty", env=env)
            if added or removed:
                paths = Path(scratch) / "paths"
                paths.write_bytes(b"".join(name.encode("utf-8") + b"\0" for name in [*added, *removed]))
                self.git("update-index", "--add", "--remove", "-z", "--stdin", env=env, stdin=paths)
            diff = self.git("diff", "--cached", "--name-only", "--no-renames", "-z", env=env)
        return nul_list(diff.stdout)

    def _needs_push(self) -> bool:
        """Tell whether HEAD holds commits the remote branch (as last fetched) does not have."""
        head = self.rev("HEAD")
        if head is None:
            return False
        tracking = self.rev(self.tracking_ref)
        return tracking is None or self.count(tracking, head) > 0

    def push(
        self,
        retries: int = DEFAULT_PUSH_RETRIES,
        ours: Optional[Sequence[str]] = None,
        refresh: Optional[Refresh] = None,
    ) -> str:
        """Push HEAD to the branch; on a rejection, fetch, replay and retry up to retries times.

        After a rejection the unpushed commits are replayed whole-file onto the fetched tip
        (``_replay``): every path a commit of ``ours`` (default: every unpushed commit) touched gets
        exactly that commit's file, the last pusher wins the whole file; an older unpushed commit
        (left by an earlier run) loses a path the remote changed since. Then ``refresh(checkout)``, when
        given, rewrites the files derived from the whole replayed tree (the status page's README.md) and
        returns their paths; what changed is folded into the tip commit (``_fold``). Returns the remote's
        new commit, which holds this run's files (the fetched tip itself when it already held exactly them).
        """
        winners = None if ours is None else {commit for commit in ours if commit}

        def wins(commit: str) -> bool:
            return winners is None or commit in winners

        attempt = 0
        while True:
            attempt += 1
            result = self.git("push", "--porcelain", "origin", f"HEAD:{self.branch_ref}", check=False)
            if result.returncode == 0:
                return self.rev("HEAD") or ""
            output = result.output
            if not _RETRYABLE_PUSH.search(output):
                error = command_error(result, f"git push to {redact_url(self.url)}")
                hint = {
                    "auth_failed": " (check username and token, or ssh_key_file)",
                    "unreachable": " (is the remote reachable?)",
                }.get(error.failure_class, "")
                raise GitPushError(
                    f"{error}{hint}; the commit stays in {self.path} and is pushed by the next run",
                    error.failure_class,
                )
            if attempt > retries:
                raise GitPushError(
                    f"git push to {redact_url(self.url)} was still rejected after {attempt} attempts "
                    f"({retries} retries) because the branch {self.branch} kept moving; the commit stays in "
                    f"{self.path} and is pushed by the next run. Last answer: {_last_lines(output)}"
                )
            self._sleep(random.uniform(0.05, min(2.0, 0.2 * attempt)))  # nosec B311 - jitter, not crypto
            upstream = self.fetch(self.branch)
            tip, mapping = self._replay(upstream, wins)
            if winners is not None:
                winners = {new for old, new in mapping.items() if old in winners and new}
            self._move_to(tip)
            if tip == upstream:
                return upstream  # the remote already holds exactly this run's files: nothing left to push
            if refresh is not None:
                folded = self._fold(refresh(self.path))
                if winners is not None and folded is not None and tip in winners:
                    winners = (winners - {tip}) | {folded}

    def _fold(self, paths: Sequence[str]) -> Optional[str]:
        """Amend HEAD with the current content of paths (the index follows HEAD); return the new HEAD, or None."""
        listed = relative_paths(self.path, paths, "refresh")
        if not listed:
            return None
        with tempfile.TemporaryDirectory(prefix="nb-backup-git-") as scratch:
            names = Path(scratch) / "paths"
            names.write_bytes(b"".join(name.encode("utf-8") + b"\0" for name in listed))
            self.git("update-index", "--add", "--remove", "-z", "--stdin", stdin=names)
        if not self.git("diff", "--cached", "--quiet", "HEAD", check=False).returncode:
            return None
        self.git("commit", "--quiet", "--amend", "--no-edit", "--no-verify")
        return self.rev("HEAD")


def _unlink_files(paths: Sequence[Path], root: Path) -> List[str]:
    """Remove the regular files among paths (never following a symlink); return them relative to root."""
    removed: List[str] = []
    for path in paths:
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed.append(os.path.relpath(path, root))
    return removed


def _last_lines(text: str, count: int = 4) -> str:
    """The last lines of a command's output, joined."""
    return " / ".join(line.strip() for line in text.strip().splitlines()[-count:] if line.strip()) or "(no output)"


def last_change_dates(repo_dir: Path, paths: Sequence[str], runner: Optional[GitRunner] = None) -> Dict[str, str]:
    """Path (relative to the checkout) -> author date (ISO 8601) of the newest commit on HEAD that changed it.

    One ``git log --name-only -z`` walk over HEAD's history (no pathspecs: 10,000 of them make git
    quadratic); paths never committed are absent, and so is everything when the checkout has no commit.
    """
    wanted = {path for path in paths if path}
    found: Dict[str, str] = {}
    if not wanted:
        return found
    result = (runner or GitRunner()).run(
        "log", "--no-renames", "--format=%x01%aI", "--name-only", "-z", "HEAD", cwd=Path(repo_dir), check=False
    )
    if result.returncode != 0:
        return found
    date = ""
    for token in result.stdout.split("\0"):
        if token.startswith("\x01"):
            date = token[1:].strip()
            continue
        name = token.lstrip("\n")
        if name in wanted and name not in found and date:
            found[name] = date
            if len(found) == len(wanted):
                break
    return found
