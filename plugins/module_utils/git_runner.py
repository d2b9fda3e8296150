# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the git binary for the backup repository: one environment, safe settings, a timeout, scrubbed output.

Every git command goes through ``GitRunner`` (GitPython's ``Git.execute``: no shell, ``LC_ALL=C``
output, a kill timeout) with hooks, ``core.fsmonitor`` and signing switched off (``SAFE_CONFIG``).
The credentials' environment (built by ``git_remote.GitAuth``) reaches only the network commands
(clone, fetch, push, ls-remote), and the controller's own token variables are blanked for every
git child. Output is scrubbed of secrets; a failed command is a ``GitCommandError`` whose failure
class (auth_failed, unreachable, timeout) comes from ``classify``. ``git_lock_files`` lists the
lock files a killed git leaves behind. The Git step's error classes start here.
"""

from __future__ import annotations

import os
import re
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.scrub import Scrubber

if has_library("gitpython"):
    from git.cmd import Git
else:  # pragma: no cover - exercised only without GitPython; callers use _deps.require first
    Git = None  # type: ignore[assignment,misc]

DEFAULT_TIMEOUT = 300.0

# Environment variables the askpass script reads; set only in the network git commands' environment.
ASKPASS_USERNAME_VAR = "NB_BACKUP_GIT_ASKPASS_USERNAME"
ASKPASS_TOKEN_VAR = "NB_BACKUP_GIT_ASKPASS_TOKEN"  # nosec B105 - a variable name, not a secret
# The module's token fallback variable: git never needs it (askpass answers), so no git child gets it.
TOKEN_ENV_VAR = "NB_BACKUP_GIT_TOKEN"  # nosec B105 - a variable name, not a secret

# The only git commands that talk to the remote, and so the only ones given the credentials' environment.
NETWORK_COMMANDS = frozenset({"clone", "fetch", "push", "ls-remote"})

# Given to every git command: no hook (.git/hooks or core.hooksPath), no fsmonitor program, no signing
# program, permissions from the umask (never a checkout's core.sharedRepository), no ext:: transport
# (an arbitrary command as a "URL").
SAFE_CONFIG: Tuple[str, ...] = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.sharedRepository=umask",
    "-c",
    "commit.gpgSign=false",
    "-c",
    "protocol.ext.allow=never",
)

# Lock files git leaves when it is killed (timeouts kill git with SIGKILL): they fail every later command.
_GIT_LOCK_DIRS = ("refs", "logs")

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


class GitRepoError(NautobotBackupError):
    """Base class of the Git step's errors; messages never hold a secret."""


class GitInputError(GitRepoError):
    """An option is unusable: credentials in the URL, a path outside the checkout, a bad message template."""


class GitCommandError(GitRepoError):
    """A git command failed; ``output`` holds its scrubbed stderr/stdout."""

    def __init__(self, message: str, output: str = "", failure_class: str = "other") -> None:
        self.output = output
        self.failure_class = failure_class
        super().__init__(message)


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
    """Runs git commands through GitPython with a fixed extra environment, safe settings and a timeout.

    ``env`` is added to the controller's environment for every git child process, ``network_env``
    (the credentials: askpass, token, SSH command) only for the network commands (clone, fetch,
    push, ls-remote). The controller's own ``os.environ`` is never changed, but the token variables
    it may hold are blanked for every child. Every command gets ``SAFE_CONFIG``; ``secrets`` are
    scrubbed from all output.
    """

    def __init__(
        self,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = DEFAULT_TIMEOUT,
        secrets: Sequence[Optional[str]] = (),
        network_env: Optional[Mapping[str, str]] = None,
    ) -> None:
        require("gitpython")
        self.env: Dict[str, str] = dict(env or {})
        self.env.setdefault("GIT_TERMINAL_PROMPT", "0")
        self.env.setdefault("GIT_EDITOR", "true")
        self.env.setdefault("GIT_MERGE_AUTOEDIT", "no")
        self.network_env: Dict[str, str] = dict(network_env or {})
        self.timeout = timeout
        self.scrub = Scrubber(secrets)
        self._git = Git()

    def environment(self, args: Sequence[str]) -> Dict[str, str]:
        """The variables added to the controller's environment for ``git args...``."""
        env = {name: "" for name in (TOKEN_ENV_VAR, ASKPASS_TOKEN_VAR, ASKPASS_USERNAME_VAR) if name in os.environ}
        env.update(self.env)
        if args and args[0] in NETWORK_COMMANDS:
            env.update(self.network_env)
        return env

    def run(
        self,
        *args: str,
        cwd: Optional[Path] = None,
        check: bool = True,
        env: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        stdin: Optional[Path] = None,
    ) -> GitResult:
        """Run ``git [-C cwd] SAFE_CONFIG args...`` (stdin: a file fed to it); raise GitCommandError if check fails.

        The credentials' environment is added only when args[0] is a network command.
        """
        command = ["git"] + (["-C", str(cwd)] if cwd is not None else []) + list(SAFE_CONFIG) + list(args)
        full_env = self.environment(args)
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


def nul_list(text: str) -> List[str]:
    """Split git's ``-z`` output into names."""
    return [name for name in text.split("\0") if name]


def git_lock_files(git_dir: Path) -> List[Path]:
    """The ``*.lock`` files in a git directory (top level, refs and logs): what a killed git leaves behind.

    Only the holder of the checkout's run lock may remove them (no other git can then be running there).
    """
    found = [git_dir / name for name in sorted(os.listdir(git_dir)) if name.endswith(".lock")]
    for sub in _GIT_LOCK_DIRS:
        for root, _dirs, names in os.walk(git_dir / sub):
            found.extend(Path(root) / name for name in sorted(names) if name.endswith(".lock"))
    return found
