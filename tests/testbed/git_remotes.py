"""Create bare Git remotes, inspect them, and talk to them like the product does.

Private to the test suite. A remote is a bare repository on disk; the tests reach it
over file:// or through the loopback HTTP server in testbed.git_http. Everything runs
the git CLI, so what is tested is what the product's git invocations will meet.

Credentials for HTTP remotes never go into a URL: `askpass_env` returns environment
variables that make git ask a tiny GIT_ASKPASS script, which echoes the username and
password from the environment. The script itself holds no secret.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

LOG = logging.getLogger(__name__)

DEFAULT_BRANCH = "main"
USERNAME_VAR = "NB_BACKUP_GIT_USERNAME"
PASSWORD_VAR = "NB_BACKUP_GIT_PASSWORD"

# Fixed identity and dates: seeded remotes are byte-identical, so their commit IDs are stable.
IDENTITY_ENV = {
    "GIT_AUTHOR_NAME": "Test Bed",
    "GIT_AUTHOR_EMAIL": "testbed@example.invalid",
    "GIT_COMMITTER_NAME": "Test Bed",
    "GIT_COMMITTER_EMAIL": "testbed@example.invalid",
}
_SEED_DATE = "2024-01-01T00:00:00+00:00"

_ASKPASS_SCRIPT = f"""#!/bin/sh
# GIT_ASKPASS helper: answers git's prompts from the environment. Holds no secret.
case "$1" in
  Username*) printf '%s\\n' "${USERNAME_VAR}" ;;
  *) printf '%s\\n' "${PASSWORD_VAR}" ;;
esac
"""


class GitError(RuntimeError):
    """A git command failed; carries its output so the cause is visible in test reports."""

    def __init__(self, args: Sequence[str], result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(
            f"git {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        self.result = result


@dataclass(frozen=True)
class Remote:
    """A bare repository on disk; `url` is its file:// URL."""

    path: Path

    @property
    def url(self) -> str:
        """The file:// URL of the bare repository."""
        return self.path.resolve().as_uri()


def git(
    *args: str,
    cwd: Optional[Path] = None,
    env: Optional[Mapping[str, str]] = None,
    check: bool = True,
    timeout: float = 120.0,
    stdin: Optional[str] = None,
) -> subprocess.CompletedProcess[str]:
    """Run `git args...` with the test identity, never prompting on a terminal; raise GitError if check fails."""
    full_env = dict(os.environ)
    full_env.update(IDENTITY_ENV)
    full_env["GIT_TERMINAL_PROMPT"] = "0"
    if env:
        full_env.update(env)
    LOG.debug("git %s (cwd=%s)", " ".join(args), cwd)
    result = subprocess.run(
        ["git", *args],
        cwd=str(cwd) if cwd else None,
        env=full_env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise GitError(args, result)
    return result


def init_bare(path: Path, branch: str = DEFAULT_BRANCH) -> Remote:
    """Create an empty bare repository whose HEAD names `branch` and that accepts pushes over HTTP."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # An empty template skips the sample hooks: smaller, faster to copy.
    git("init", "--quiet", "--bare", "--template=", f"--initial-branch={branch}", str(path))
    git("config", "http.receivepack", "true", cwd=path)
    return Remote(path)


def empty(path: Path, branch: str = DEFAULT_BRANCH) -> Remote:
    """Create a bare repository with no commits at all (HEAD is an unborn `branch`)."""
    return init_bare(path, branch)


def seeded(path: Path, branch: str = DEFAULT_BRANCH, readme: str = "# Config backups\n") -> Remote:
    """Create a bare repository whose `branch` holds one commit adding README.md.

    Built with plumbing commands straight in the bare repository, so no work tree is needed.
    """
    remote = init_bare(path, branch)
    dates = {"GIT_AUTHOR_DATE": _SEED_DATE, "GIT_COMMITTER_DATE": _SEED_DATE}
    blob = _git_input(remote.path, readme, "hash-object", "-w", "--stdin")
    tree = _git_input(remote.path, f"100644 blob {blob}\tREADME.md\n", "mktree")
    commit = _git_input(remote.path, "Initial commit\n", "commit-tree", tree, env=dates)
    git("update-ref", f"refs/heads/{branch}", commit, cwd=remote.path)
    return remote


def copy(template: Remote, path: Path) -> Remote:
    """Copy a template bare repository to path: the cheap way to get a fresh remote per test."""
    shutil.copytree(template.path, path, symlinks=True)
    return Remote(Path(path))


def rev_parse(remote: Remote, ref: str) -> Optional[str]:
    """Return the commit ID of ref in remote, or None if the ref does not exist."""
    result = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=remote.path, check=False)
    return result.stdout.strip() or None


def branches(remote: Remote) -> list[str]:
    """Return the branch names of remote, sorted."""
    out = git("for-each-ref", "--format=%(refname:short)", "refs/heads/", cwd=remote.path).stdout
    return sorted(out.split())


def ls_tree(remote: Remote, branch: str = DEFAULT_BRANCH) -> list[str]:
    """Return every file path (recursively) in the tip of `branch`, sorted."""
    out = git("ls-tree", "-r", "--name-only", "-z", f"refs/heads/{branch}", cwd=remote.path).stdout
    return sorted(name for name in out.split("\0") if name)


def log(remote: Remote, branch: str = DEFAULT_BRANCH) -> list[str]:
    """Return the commit subjects of `branch`, newest first."""
    out = git("log", "--format=%s", f"refs/heads/{branch}", cwd=remote.path).stdout
    return out.splitlines()


def show(remote: Remote, path: str, branch: str = DEFAULT_BRANCH) -> str:
    """Return the content of one file at the tip of `branch`."""
    return git("show", f"refs/heads/{branch}:{path}", cwd=remote.path).stdout


def clone(url: str, dest: Path, env: Optional[Mapping[str, str]] = None) -> Path:
    """Clone url into dest and return dest."""
    git("clone", "--quiet", url, str(dest), env=env)
    return Path(dest)


def commit_files(
    workdir: Path,
    files: Mapping[str, Union[str, bytes]],
    message: str,
    branch: str = DEFAULT_BRANCH,
) -> str:
    """Write files (relative path -> content) in a work tree, commit them on `branch`, return the commit ID.

    Works in a fresh clone of an empty remote too: HEAD is pointed at `branch` first.
    """
    workdir = Path(workdir)
    git("symbolic-ref", "HEAD", f"refs/heads/{branch}", cwd=workdir)
    for name, content in files.items():
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    git("add", "--all", cwd=workdir)
    git("commit", "--quiet", "-m", message, cwd=workdir)
    return git("rev-parse", "HEAD", cwd=workdir).stdout.strip()


def askpass_env(username: str, password: str, directory: Optional[Path] = None) -> dict[str, str]:
    """Return environment variables that let git authenticate over HTTP without the secret in a URL or argv.

    GIT_ASKPASS points at a script (written once into `directory`, default a private temp dir removed
    at exit) that prints the username or the password from the environment. Credential helpers are
    reset through GIT_CONFIG_COUNT so that no configured helper (e.g. `store`) saves the password,
    and terminal prompts are off so a missing credential fails instead of hanging.
    Merge the result over os.environ (or the env given to `git`).
    """
    script = _askpass_script(directory)
    count = int(os.environ.get("GIT_CONFIG_COUNT", "0") or "0")
    return {
        "GIT_ASKPASS": str(script),
        "GIT_TERMINAL_PROMPT": "0",
        USERNAME_VAR: username,
        PASSWORD_VAR: password,
        f"GIT_CONFIG_KEY_{count}": "credential.helper",
        f"GIT_CONFIG_VALUE_{count}": "",
        "GIT_CONFIG_COUNT": str(count + 1),
    }


_ASKPASS_DIRS: dict[str, Path] = {}  # the lazily created per-process default directory


def _askpass_script(directory: Optional[Path]) -> Path:
    """Write the askpass script into directory (or the private default one) and return its path."""
    if directory is None:
        if "default" not in _ASKPASS_DIRS:
            _ASKPASS_DIRS["default"] = Path(tempfile.mkdtemp(prefix="git-askpass-"))
            atexit.register(shutil.rmtree, _ASKPASS_DIRS["default"], True)
        directory = _ASKPASS_DIRS["default"]
    script = Path(directory) / "git-askpass.sh"
    if not script.exists():
        script.parent.mkdir(parents=True, exist_ok=True)
        tmp = script.with_suffix(".tmp")
        tmp.write_text(_ASKPASS_SCRIPT, encoding="ascii")
        tmp.chmod(0o700)
        tmp.replace(script)
    return script


def _git_input(cwd: Path, stdin: str, *args: str, env: Optional[Mapping[str, str]] = None) -> str:
    """Run a git plumbing command with stdin, return its stripped stdout."""
    return git(*args, cwd=cwd, env=env, stdin=stdin).stdout.strip()
