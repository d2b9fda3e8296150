# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prepare a Git checkout of the backup repository, then commit and push one run's files.

Two steps, used by the ``git_commit_push`` action plugin:

* ``BackupRepository.prepare`` clones the remote, or opens an existing checkout of the same
  URL, and brings the branch up to date with the remote *before* any file is written: a hard
  reset to ``origin/<branch>`` when the local branch has nothing unpushed, a rebase when it
  holds commits that an earlier run could not push (they are kept and pushed next). A
  directory that is not a checkout of that URL is an error, never deleted.
* ``BackupRepository.publish`` stages exactly the files the run wrote (and the removals it
  names), makes one commit, and pushes it with a bounded fetch-rebase-retry loop, so jobs
  that publish to the same branch at the same time all land.

Every git command runs through ``GitRunner`` (GitPython's ``Git.execute``: no shell, ``LC_ALL=C``
output, a kill timeout). Credentials never reach a URL, ``.git/config``, argv or a result:
``GitAuth.environment`` provides a per-run GIT_ASKPASS script that reads the token from an
environment variable set only for the git child processes, and credential helpers are
switched off so none stores it. Errors are ``GitRepoError`` subclasses with the secret scrubbed.
"""

from __future__ import annotations

import os
import random
import re
import shlex
import shutil
import string
import tempfile
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import GitCommitStatus, GitStatus

if has_library("gitpython"):
    from git.cmd import Git
else:  # pragma: no cover - exercised only without GitPython; callers use _deps.require first
    Git = None  # type: ignore[assignment,misc]

DEFAULT_BRANCH = "main"
DEFAULT_USERNAME = "x-access-token"
DEFAULT_MESSAGE = "Config backup {timestamp}: {files_changed} files changed"
DEFAULT_AUTHOR_NAME = "Nautobot Backup"
DEFAULT_AUTHOR_EMAIL = "nautobot-backup@localhost"
DEFAULT_PUSH_RETRIES = 5
DEFAULT_TIMEOUT = 300.0

# Environment variables the askpass script reads; set only in the git child processes' environment.
ASKPASS_USERNAME_VAR = "NB_BACKUP_GIT_ASKPASS_USERNAME"
ASKPASS_TOKEN_VAR = "NB_BACKUP_GIT_ASKPASS_TOKEN"  # nosec B105 - a variable name, not a secret

_ASKPASS_SCRIPT = f"""#!/bin/sh
# GIT_ASKPASS helper written by netops.nautobot_backup for one run. It holds no secret: it answers
# git's prompts from variables set only in the environment of that run's git processes.
case "$1" in
  Username*) printf '%s\\n' "${ASKPASS_USERNAME_VAR}" ;;
  *) printf '%s\\n' "${ASKPASS_TOKEN_VAR}" ;;
esac
"""

# Push rejections that a fetch + rebase + retry can cure: the branch moved on the remote
# ("fetch first", "non-fast-forward", "stale info"), or another push was updating it at the
# same moment ("cannot lock ref", "failed to update ref", "failed to lock", "incorrect old value").
_RETRYABLE_PUSH = re.compile(
    r"fetch first|non-fast-forward|stale info|cannot lock ref|failed to update ref|failed to lock|"
    r"incorrect old value",
    re.IGNORECASE,
)
_AUTH_FAILURE = re.compile(
    r"authentication failed|could not read (username|password)|permission denied|access denied|"
    r"invalid (username|password|credentials)|\b40[13]\b|terminal prompts disabled",
    re.IGNORECASE,
)
_NETWORK_FAILURE = re.compile(
    r"could not resolve|connection refused|failed to connect|network is unreachable|connection timed out|"
    r"could not read from remote repository|unable to access|does not appear to be a git repository|"
    r"connection reset|empty reply",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^/@\s]*:[^/@\s]*@", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHA = re.compile(r"^[0-9a-f]{40,64}$")


class GitRepoError(NautobotBackupError):
    """Base class of the Git step's errors; messages never hold a secret."""


class GitInputError(GitRepoError):
    """An option is unusable: credentials in the URL, a path outside the checkout, a bad message template."""


class RepositoryMismatchError(GitRepoError):
    """repo_dir exists but is not a checkout of repo_url (or not a checkout at all); it is left untouched."""


class GitCommandError(GitRepoError):
    """A git command failed; ``output`` holds its scrubbed stderr/stdout."""

    def __init__(self, message: str, output: str = "", failure_class: str = "other") -> None:
        self.output = output
        self.failure_class = failure_class
        super().__init__(message)


class GitSyncError(GitRepoError):
    """The checkout could not be brought up to date with the remote (for example a rebase conflict)."""


class GitPushError(GitRepoError):
    """The push failed for good (authentication, network, a rejection that retries did not cure)."""

    def __init__(self, message: str, failure_class: str = "other") -> None:
        self.failure_class = failure_class
        super().__init__(message)


# ---------------------------------------------------------------- URLs, secrets, credentials


def check_url(url: str) -> str:
    """Return url stripped of surrounding blanks, or raise GitInputError if it is empty or carries credentials.

    HTTP(S) URLs may not carry any user information (``https://user:token@host``, ``https://token@host``);
    other URLs (ssh) may name a user but not a password.
    """
    url = (url or "").strip()
    if not url:
        raise GitInputError("repo_url is empty")
    if "://" in url:
        parts = urlsplit(url)
        http = parts.scheme.lower() in ("http", "https", "ftp", "ftps")
        if parts.password is not None or (http and parts.username is not None):
            raise GitInputError(
                f"repo_url {redact_url(url)} contains credentials; give the URL without them and pass the secret in "
                "the 'token' option (or the NB_BACKUP_GIT_TOKEN environment variable), and the user name in "
                "'username'"
            )
    return url


def _with_credentials(url: str) -> Optional[Tuple[Any, str]]:
    """Split url when it carries credentials (a password, or an http(s) user): (parts, bare host), else None."""
    if "://" not in url:
        return None
    parts = urlsplit(url)
    if parts.password is None and not (parts.username and parts.scheme.lower() in ("http", "https")):
        return None
    return parts, parts.netloc.rsplit("@", 1)[-1]


def redact_url(url: str) -> str:
    """Return url with any ``user:password@`` or ``token@`` part of an http(s) URL replaced by ``***@``."""
    split = _with_credentials(url)
    if split is None:
        return url
    parts, host = split
    return parts._replace(netloc=f"***@{host}").geturl()


def same_remote(configured: str, wanted: str) -> bool:
    """Tell whether the checkout's origin URL designates the same repository as repo_url.

    Compared after removing credentials and a trailing slash, so a checkout made by an older
    tool with a token in its URL is recognised (prepare then rewrites that URL without it).
    """

    def norm(url: str) -> str:
        return _strip_userinfo(url.strip()).rstrip("/")

    return norm(configured) == norm(wanted)


def _strip_userinfo(url: str) -> str:
    """Remove the password (and, for http(s), the user) from a URL."""
    split = _with_credentials(url)
    if split is None:
        return url
    parts, host = split
    if parts.scheme.lower() not in ("http", "https") and parts.username:
        host = f"{parts.username}@{host}"
    return parts._replace(netloc=host).geturl()


class Scrubber:
    """Removes known secrets and URL credentials from text that may reach a result or a log."""

    def __init__(self, secrets: Sequence[Optional[str]] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return text with every secret replaced by ``********`` and URL credentials by ``***@``."""
        for secret in self._secrets:
            text = text.replace(secret, "********")
        return _URL_USERINFO.sub(r"\g<scheme>***@", text)


@dataclass(frozen=True)
class GitAuth:
    """How git authenticates to the remote: an HTTPS token through GIT_ASKPASS, and/or an SSH key."""

    username: str = DEFAULT_USERNAME
    token: Optional[str] = field(default=None, repr=False)
    ssh_key_file: Optional[str] = None

    @contextmanager
    def environment(self) -> Iterator[Dict[str, str]]:
        """Yield the environment variables git needs for this authentication; clean up on exit.

        With a token: a private temporary directory holding the askpass script (no secret in it),
        GIT_ASKPASS pointing at it, the username and token in variables only the script reads,
        and ``credential.helper`` reset (through GIT_CONFIG_COUNT, like ``-c credential.helper=``)
        so no configured helper is asked for or stores the token. With an SSH key:
        GIT_SSH_COMMAND with ``-i KEY -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new``.
        Terminal prompts are always off, so a missing credential fails instead of hanging.
        """
        env: Dict[str, str] = {"GIT_TERMINAL_PROMPT": "0"}
        if self.ssh_key_file:
            key = Path(self.ssh_key_file).expanduser()
            if not key.is_file():
                raise GitInputError(f"ssh_key_file {key} does not exist or is not a file")
            env["GIT_SSH_COMMAND"] = (
                f"ssh -i {shlex.quote(str(key))} -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new "
                "-o BatchMode=yes"
            )
        if not self.token:
            yield env
            return
        directory = tempfile.mkdtemp(prefix="nb-backup-askpass-")
        try:
            script = Path(directory) / "askpass.sh"
            script.write_text(_ASKPASS_SCRIPT, encoding="ascii")
            script.chmod(0o700)
            count = int(os.environ.get("GIT_CONFIG_COUNT", "0") or "0")
            env.update(
                {
                    "GIT_ASKPASS": str(script),
                    ASKPASS_USERNAME_VAR: self.username or DEFAULT_USERNAME,
                    ASKPASS_TOKEN_VAR: self.token,
                    f"GIT_CONFIG_KEY_{count}": "credential.helper",
                    f"GIT_CONFIG_VALUE_{count}": "",
                    "GIT_CONFIG_COUNT": str(count + 1),
                }
            )
            yield env
        finally:
            shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- running git


@dataclass(frozen=True)
class GitResult:
    """What one git command returned (output already scrubbed of secrets)."""

    args: Tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stderr and stdout together, for messages and pattern matching."""
        return "\n".join(part for part in (self.stderr.strip(), self.stdout.strip()) if part)


class GitRunner:
    """Runs git commands through GitPython with a fixed extra environment and a timeout.

    ``env`` is added to the controller's environment for the child processes only (the
    controller's own ``os.environ`` is never changed); ``secrets`` are scrubbed from all output.
    """

    def __init__(
        self,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = DEFAULT_TIMEOUT,
        secrets: Sequence[Optional[str]] = (),
    ) -> None:
        require("gitpython")
        self.env: Dict[str, str] = dict(env or {})
        self.env.setdefault("GIT_TERMINAL_PROMPT", "0")
        self.env.setdefault("GIT_EDITOR", "true")
        self.env.setdefault("GIT_MERGE_AUTOEDIT", "no")
        self.timeout = timeout
        self.scrub = Scrubber(secrets)
        self._git = Git()

    def run(
        self,
        *args: str,
        cwd: Optional[Path] = None,
        check: bool = True,
        env: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        stdin: Optional[Path] = None,
    ) -> GitResult:
        """Run ``git [-C cwd] args...`` (stdin: a file fed to it); raise GitCommandError if check and git fails."""
        command = ["git"] + (["-C", str(cwd)] if cwd is not None else []) + list(args)
        full_env = dict(self.env)
        full_env.update(env or {})
        with open(stdin, "rb") if stdin is not None else nullcontext() as stream:
            status, stdout, stderr = self._git.execute(
                command,
                istream=stream,
                with_extended_output=True,
                with_exceptions=False,
                env=full_env,
                kill_after_timeout=timeout or self.timeout,
                strip_newline_in_stdout=False,
            )
        result = GitResult(tuple(args), int(status or 0), self.scrub(_text(stdout)), self.scrub(_text(stderr)))
        if check and result.returncode != 0:
            raise command_error(result)
        return result


def _text(value: Any) -> str:
    """Decode GitPython's output (str or bytes; None when there was none)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def classify(output: str) -> str:
    """Return the failure class of a failed network git command's output."""
    if output.startswith("Timeout:") or "did not complete in" in output:
        return "timeout"
    if _AUTH_FAILURE.search(output):
        return "auth_failed"
    if _NETWORK_FAILURE.search(output):
        return "unreachable"
    return "other"


def command_error(result: GitResult, what: Optional[str] = None) -> GitCommandError:
    """Build the GitCommandError of a failed command, naming it and quoting the end of its output."""
    output = result.output
    tail = "\n".join(output.splitlines()[-8:]) or "(no output)"
    name = what or f"git {result.args[0] if result.args else ''}"
    return GitCommandError(f"{name} failed (exit {result.returncode}): {tail}", output, classify(output))


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


def relative_paths(repo_dir: Path, paths: Sequence[str], option: str = "files") -> List[str]:
    """Return paths as POSIX paths relative to repo_dir, without duplicates, in order.

    Relative paths are taken from repo_dir; absolute ones must lie inside it. ``..``, ``.git`` and
    empty paths are refused with a GitInputError naming the option.
    """
    root = os.path.normpath(os.path.abspath(repo_dir))
    real_root = os.path.realpath(root)
    seen: Dict[str, None] = {}
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
        parts = PurePosixPath(text.replace(os.sep, "/")).parts
        if not parts or parts == (".",) or ".." in parts or ".git" in parts:
            raise GitInputError(f"{option}: {raw!r} is not a file path inside the checkout (no '..' nor '.git')")
        seen.setdefault("/".join(part for part in parts if part != "."), None)
    return list(seen)


def _nul_list(text: str) -> List[str]:
    """Split git's ``-z`` output into names."""
    return [name for name in text.split("\0") if name]


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
    author_name/author_email: author and committer of the run's commit, and committer of rebased
    commits, so nothing depends on the controller's git configuration.
    sleep: how to wait between push retries (tests pass a no-op).
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
    ) -> None:
        self.runner = runner
        self.path = Path(path)
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
        remote. Changes nothing.
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
        return True

    def prepare(self, check_mode: bool = False) -> Tuple[GitStatus, bool]:
        """Clone or open the checkout and sync its branch with the remote; return (GitStatus, changed).

        Operation: "cloned" (the remote had commits), "initialized" (the remote had none: a clone of
        an empty repository, HEAD on the unborn branch) or "opened" (an existing checkout). In check
        mode nothing is cloned, fetched or moved: the remote is only queried and changed says whether
        something would be.
        """
        if not self.inspect():
            remote = self.ls_remote()
            if not check_mode:
                self._clone(remote)
            return self.status(False, "initialized" if remote.empty else "cloned"), True
        if check_mode:
            return self.status(True, "opened"), self._would_move(self.ls_remote())
        self._adopt_clean_url()
        before = (self.current_branch(), self.rev("HEAD"))
        self._sync()
        after = (self.current_branch(), self.rev("HEAD"))
        return self.status(True, "opened"), before != after

    def _clone(self, remote: RemoteState) -> None:
        """Clone the remote into repo_dir and put HEAD on the branch (created when the remote lacks it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
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
        """Abort a rebase left half-done by an interrupted run (reset --hard clears merges and cherry-picks)."""
        git_dir = Path(self.git("rev-parse", "--absolute-git-dir").stdout.strip())
        if (git_dir / "rebase-merge").exists() or (git_dir / "rebase-apply").exists():
            self.git("rebase", "--abort", check=False)

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
        """Bring the local branch to the remote's state, keeping unpushed local commits on top of it."""
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
        result = self.git("rebase", "--quiet", upstream, check=False)
        if result.returncode != 0:
            self.git("rebase", "--abort", check=False)
            raise GitSyncError(
                f"the checkout {self.path} holds commits not yet pushed to {self.branch} that conflict with the "
                f"remote's newer commits; resolve them by hand (or push them) before the next run: "
                f"{_last_lines(result.output)}"
            )

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

    # ---------------------------------------------------------------- publish

    def publish(
        self,
        files: Sequence[str],
        removed_files: Sequence[str] = (),
        message: str = DEFAULT_MESSAGE,
        message_vars: Optional[Mapping[str, Any]] = None,
        push_retries: int = DEFAULT_PUSH_RETRIES,
        check_mode: bool = False,
    ) -> PublishResult:
        """Stage exactly files (and removed_files), commit once, push with retries.

        Nothing staged differs from HEAD: no commit, but commits left unpushed by an earlier run are
        still pushed. A push that fails for good is reported in the returned status's ``error`` (the
        commit stays local and the next run pushes it); unusable inputs and failing local commands raise.
        In check mode the staging is done in a throw-away index and nothing is committed or pushed.
        """
        if not self.inspect():
            raise GitRepoError(f"repo_dir {self.path} is not a checkout yet; run this module with mode=prepare first")
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
        added = relative_paths(self.path, files, "files")
        removed = relative_paths(self.path, removed_files, "removed_files")
        self._check_files(added, removed)

        changed_files = self._stage(added, removed, check_mode)
        values["files_changed"] = len(changed_files)
        status = GitCommitStatus(files_changed=len(changed_files))
        if check_mode:
            would_push = bool(changed_files) or self._needs_push()
            return PublishResult(status, changed_files, would_push, would_push)
        if changed_files:
            self.git("commit", "--quiet", "--no-edit", "-m", render_message(message, values))
            status.committed = True
            status.commit_hash = self.rev("HEAD")
        if not self._needs_push():
            return PublishResult(status, changed_files, status.committed)
        try:
            status.commit_hash = self.push(push_retries)
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
        missing = [name for name in added if not os.path.lexists(self.path / name)]
        if missing:
            raise GitInputError(
                f"{len(missing)} file(s) listed in files do not exist in {self.path}: {', '.join(missing[:10])} "
                "(list deleted files in removed_files)"
            )
        directories = [name for name in added if (self.path / name).is_dir() and not (self.path / name).is_symlink()]
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
        return _nul_list(diff.stdout)

    def _needs_push(self) -> bool:
        """Tell whether HEAD holds commits the remote branch (as last fetched) does not have."""
        head = self.rev("HEAD")
        if head is None:
            return False
        tracking = self.rev(self.tracking_ref)
        return tracking is None or self.count(tracking, head) > 0

    def push(self, retries: int = DEFAULT_PUSH_RETRIES) -> str:
        """Push HEAD to the branch; on a rejection, fetch, rebase and retry up to retries times; return HEAD.

        Our commits win a content conflict with a concurrent job's (they hold the newest backup);
        a conflict the rebase cannot settle is a GitPushError and the commits stay local.
        """
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
            rebase = self.git("rebase", "--quiet", "--autostash", "-X", "theirs", upstream, check=False)
            if rebase.returncode != 0:
                self.git("rebase", "--abort", check=False)
                raise GitPushError(
                    f"git push to {redact_url(self.url)} was rejected and rebasing onto the remote's "
                    f"{self.branch} failed; the commit stays in {self.path}: {_last_lines(rebase.output)}"
                )


def _last_lines(text: str, count: int = 4) -> str:
    """The last lines of a command's output, joined."""
    return " / ".join(line.strip() for line in text.strip().splitlines()[-count:] if line.strip()) or "(no output)"
