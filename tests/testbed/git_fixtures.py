"""Pytest plugin: Git remotes over file:// and over an authenticated loopback HTTP server.

Private to the test suite; registered through `pytest_plugins` in tests/conftest.py.

* `git_http_server` (session): one testbed.git_http process over a session temp root,
  user `backup-bot`, a random password per session. Stopped by PID at session end,
  whatever happened; servers left behind by a killed pytest run are stopped at start.
* `git_remotes` (function): fresh remotes for one test, copied from session templates,
  see `GitRemotes`.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import pytest

from testbed import git_http, procs
from testbed.git_remotes import Remote, askpass_env, copy, empty, seeded

LOG = logging.getLogger(__name__)

HTTP_USERNAME = "backup-bot"


@dataclass(frozen=True)
class GitRemotes:
    """Fresh remotes for one test. URLs never carry credentials; use `http_env()` to authenticate."""

    seeded_remote: Remote  # bare, `main` has one commit (README.md); reached over file://
    empty_remote: Remote  # bare, no commits; reached over file://
    http_remote: Remote  # bare, seeded, served over HTTP at http_url
    http_empty_remote: Remote  # bare, empty, served over HTTP at http_empty_url
    http_url: str
    http_empty_url: str
    http_username: str
    http_password: str = field(repr=False)
    server: git_http.GitHttpServer
    workdir: Path  # a scratch directory for clones

    @property
    def file_url(self) -> str:
        """file:// URL of the seeded remote."""
        return self.seeded_remote.url

    @property
    def empty_url(self) -> str:
        """file:// URL of the empty remote."""
        return self.empty_remote.url

    def http_env(self, username: Optional[str] = None, password: Optional[str] = None) -> dict[str, str]:
        """Environment for git to authenticate via GIT_ASKPASS (defaults: the server's real credentials)."""
        return askpass_env(
            self.http_username if username is None else username,
            self.http_password if password is None else password,
            directory=self.workdir,
        )


@dataclass(frozen=True)
class _Templates:
    """Session-wide bare repositories that per-test remotes are copied from."""

    seeded: Remote
    empty: Remote


def _state_dir() -> Path:
    """Where pidfiles live: outside the per-session temp dir, so a later session finds stale servers."""
    path = procs.cache_dir() / "git-http"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stop_stale_servers(state_dir: Path) -> None:
    """Stop servers whose pytest process is gone (pidfile `pytest-<owner pid>.pid`), by their recorded PID."""
    for pidfile in state_dir.glob("pytest-*.pid"):
        try:
            owner = int(pidfile.stem.split("-", 1)[1])
        except ValueError:
            continue
        if owner == os.getpid() or procs.pid_alive(owner):
            continue
        pid = procs.read_pid(pidfile)
        if pid is not None and git_http.is_git_http_process(pid):
            LOG.warning("stopping git http server pid %s left by pytest pid %s", pid, owner)
            procs.stop_pid(pid)
        pidfile.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def git_http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[git_http.GitHttpServer]:
    """The session's authenticated Git HTTP server (user backup-bot, random password); always stopped."""
    state_dir = _state_dir()
    _stop_stale_servers(state_dir)
    base = tmp_path_factory.mktemp("git-http")
    root = base / "repos"
    root.mkdir()
    server = git_http.start_server(
        root,
        HTTP_USERNAME,
        secrets.token_urlsafe(24),
        pidfile=state_dir / f"pytest-{os.getpid()}.pid",
        logfile=base / "server.log",
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _git_remote_templates(tmp_path_factory: pytest.TempPathFactory) -> _Templates:
    """A seeded and an empty bare repository, built once; tests get copies."""
    base = tmp_path_factory.mktemp("git-templates")
    return _Templates(seeded=seeded(base / "seeded.git"), empty=empty(base / "empty.git"))


@pytest.fixture
def git_remotes(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    git_http_server: git_http.GitHttpServer,
    _git_remote_templates: _Templates,
) -> GitRemotes:
    """Fresh seeded and empty remotes over file:// and over HTTP for this test."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:60].strip("-.")
    http_dir = git_http_server.root / f"{slug}-{uuid.uuid4().hex[:8]}"
    http_remote = copy(_git_remote_templates.seeded, http_dir / "seeded.git")
    http_empty = copy(_git_remote_templates.empty, http_dir / "empty.git")
    workdir = tmp_path / "work"
    workdir.mkdir()
    return GitRemotes(
        seeded_remote=copy(_git_remote_templates.seeded, tmp_path / "remotes" / "seeded.git"),
        empty_remote=copy(_git_remote_templates.empty, tmp_path / "remotes" / "empty.git"),
        http_remote=http_remote,
        http_empty_remote=http_empty,
        http_url=git_http_server.url_for(http_remote.path),
        http_empty_url=git_http_server.url_for(http_empty.path),
        http_username=git_http_server.username,
        http_password=git_http_server.password,
        server=git_http_server,
        workdir=workdir,
    )
