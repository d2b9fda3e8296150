# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup repository's remote: URLs without credentials, and how git authenticates to it.

``check_url`` refuses a repo_url that carries credentials (``carries_credentials`` is the one home
of that rule; the roles reach it through the ``url_without_credentials`` test plugin), ``redact_url``
and ``same_remote`` compare and show URLs without secrets, and ``GitAuth.environment`` provides a
per-run GIT_ASKPASS script that reads the token from an environment variable that
``git_runner.GitRunner`` gives only to the network commands; credential helpers are switched off so
none stores it. Credentials never reach a URL,
``.git/config``, argv or a result.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple
from urllib.parse import urlsplit

from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_runner import (
    ASKPASS_TOKEN_VAR,
    ASKPASS_USERNAME_VAR,
    GitInputError,
)

DEFAULT_USERNAME = "x-access-token"

_ASKPASS_SCRIPT = f"""#!/bin/sh
# GIT_ASKPASS helper written by netops.nautobot_backup for one run. It holds no secret: it answers
# git's prompts from variables set only in the environment of that run's git processes.
case "$1" in
  Username*) printf '%s\\n' "${ASKPASS_USERNAME_VAR}" ;;
  *) printf '%s\\n' "${ASKPASS_TOKEN_VAR}" ;;
esac
"""


def check_url(url: str) -> str:
    """Return url stripped of surrounding blanks, or raise GitInputError if it is empty or carries credentials.

    HTTP(S) URLs may not carry any user information (``https://user:token@host``, ``https://token@host``);
    other URLs (ssh) may name a user but not a password.
    """
    url = (url or "").strip()
    if not url:
        raise GitInputError("repo_url is empty")
    if carries_credentials(url):
        raise GitInputError(
            f"repo_url {redact_url(url)} contains credentials; give the URL without them and pass the secret in "
            "the 'token' option (or the NB_BACKUP_GIT_TOKEN environment variable), and the user name in "
            "'username'"
        )
    return url


def carries_credentials(url: str) -> bool:
    """Tell whether url carries credentials: a password, or any user information in an HTTP(S)/FTP(S) URL.

    The one rule for repository URLs: ``check_url`` refuses them, and the roles test their URL with it
    (the ``netops.nautobot_backup.url_without_credentials`` test) before anything is stored or cloned.
    """
    url = str(url or "").strip()
    if "://" not in url:
        return False
    parts = urlsplit(url)
    http = parts.scheme.lower() in ("http", "https", "ftp", "ftps")
    return parts.password is not None or (http and parts.username is not None)


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
