"""The Git remotes of the test bed behave like the real ones the product pushes to.

Covers file:// remotes (seeded and empty), and the authenticated HTTP server: credentials via
GIT_ASKPASS only, refusals, secrets kept out of config and logs, big (chunked) pushes, gzip
request bodies, and concurrent pushes into one branch.
"""

from __future__ import annotations

import base64
import gzip
import random
import re
import shutil
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
import requests

from testbed.git_fixtures import GitRemotes
from testbed.git_remotes import (
    branches,
    clone,
    commit_files,
    git,
    log,
    ls_tree,
    rev_parse,
    show,
)

pytestmark = [pytest.mark.git, pytest.mark.timeout(120)]

REJECTED = re.compile(r"fetch first|non-fast-forward|failed to update ref|cannot lock ref|rejected")


def _server_log_lines(remotes: GitRemotes, pattern: str, timeout: float = 5.0) -> list[str]:
    """Return server log lines matching pattern, waiting briefly: the server logs after it has answered."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [ln for ln in remotes.server.logfile.read_text().splitlines() if re.search(pattern, ln)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_file_seeded_clone_commit_push(git_remotes: GitRemotes) -> None:
    """The basic backup flow over file://: clone, commit, push, and the bare repo has it."""
    work = clone(git_remotes.file_url, git_remotes.workdir / "clone")
    assert (work / "README.md").is_file()
    sha = commit_files(work, {"configs/r1.cfg": "hostname r1\n"}, "Backup r1")
    git("push", "origin", "main", cwd=work)
    assert rev_parse(git_remotes.seeded_remote, "main") == sha
    assert log(git_remotes.seeded_remote) == ["Backup r1", "Initial commit"]
    assert ls_tree(git_remotes.seeded_remote) == ["README.md", "configs/r1.cfg"]


def test_file_empty_clone_commit_push(git_remotes: GitRemotes) -> None:
    """A brand-new backup repo has no commits: cloning it works and the first push creates `main`."""
    assert branches(git_remotes.empty_remote) == []
    work = clone(git_remotes.empty_url, git_remotes.workdir / "clone")
    assert git("rev-parse", "--verify", "--quiet", "HEAD", cwd=work, check=False).returncode != 0
    sha = commit_files(work, {"configs/r1.cfg": "hostname r1\n"}, "First backup")
    git("push", "origin", "main", cwd=work)
    assert branches(git_remotes.empty_remote) == ["main"]
    assert rev_parse(git_remotes.empty_remote, "main") == sha
    assert show(git_remotes.empty_remote, "configs/r1.cfg") == "hostname r1\n"


@pytest.mark.parametrize("which", ["seeded", "empty"])
def test_http_push_with_askpass_credentials(git_remotes: GitRemotes, which: str) -> None:
    """Credentials reach git through GIT_ASKPASS, never the URL, and the push lands."""
    url, remote = (
        (git_remotes.http_url, git_remotes.http_remote)
        if which == "seeded"
        else (git_remotes.http_empty_url, git_remotes.http_empty_remote)
    )
    assert "@" not in url
    env = git_remotes.http_env()
    work = clone(url, git_remotes.workdir / "clone", env=env)
    sha = commit_files(work, {"configs/sw1.cfg": "hostname sw1\n"}, "Backup sw1")
    git("push", "origin", "main", cwd=work, env=env)
    assert rev_parse(remote, "main") == sha
    assert "configs/sw1.cfg" in ls_tree(remote)


@pytest.mark.parametrize("credentials", ["wrong-password", "wrong-user", "none"])
def test_http_push_refused_without_valid_credentials(git_remotes: GitRemotes, credentials: str) -> None:
    """Wrong or missing credentials: git fails (401 -> Authentication failed) and the remote is unchanged."""
    work = clone(git_remotes.http_url, git_remotes.workdir / "clone", env=git_remotes.http_env())
    commit_files(work, {"configs/sw1.cfg": "hostname sw1\n"}, "Backup sw1")
    before = rev_parse(git_remotes.http_remote, "main")
    env = {
        "wrong-password": git_remotes.http_env(password="not-the-password"),
        "wrong-user": git_remotes.http_env(username="intruder"),
        "none": {
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "credential.helper",
            "GIT_CONFIG_VALUE_0": "",
        },
    }[credentials]
    result = git("push", "origin", "main", cwd=work, env=env, check=False)
    assert result.returncode != 0
    expected = "Authentication failed" if credentials != "none" else "could not read Username"
    assert expected in result.stderr
    assert rev_parse(git_remotes.http_remote, "main") == before
    assert _server_log_lines(git_remotes, r"git-receive-pack -> 401")


def test_http_challenge_is_basic_with_realm(git_remotes: GitRemotes) -> None:
    """git only sends credentials after a Basic challenge, so the server must issue one."""
    response = requests.get(f"{git_remotes.http_url}/info/refs?service=git-upload-pack", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    ok = requests.get(
        f"{git_remotes.http_url}/info/refs?service=git-upload-pack",
        auth=(git_remotes.http_username, git_remotes.http_password),
        timeout=10,
    )
    assert ok.status_code == 200
    assert ok.headers["Content-Type"] == "application/x-git-upload-pack-advertisement"


def test_password_not_in_clone_config_nor_server_log(git_remotes: GitRemotes) -> None:
    """The secret stays out of the clone (config, any .git file) and out of the server log."""
    env = git_remotes.http_env()
    work = clone(git_remotes.http_url, git_remotes.workdir / "clone", env=env)
    commit_files(work, {"configs/r2.cfg": "hostname r2\n"}, "Backup r2")
    git("push", "origin", "main", cwd=work, env=env)
    password = git_remotes.http_password.encode()
    token = base64.b64encode(f"{git_remotes.http_username}:{git_remotes.http_password}".encode())
    config = (work / ".git" / "config").read_bytes()
    assert password not in config
    assert git("remote", "get-url", "origin", cwd=work).stdout.strip() == git_remotes.http_url
    for path in (work / ".git").rglob("*"):
        if path.is_file():
            assert password not in path.read_bytes(), path
    assert _server_log_lines(git_remotes, r"git-receive-pack -> 200 user=backup-bot")
    server_log = git_remotes.server.logfile.read_bytes()
    assert password not in server_log
    assert token not in server_log


def test_http_big_push_uses_chunked_encoding(git_remotes: GitRemotes) -> None:
    """3,000 files (~4.5 MB pack) exceed http.postBuffer, so git streams the push chunked."""
    env = git_remotes.http_env()
    work = clone(git_remotes.http_url, git_remotes.workdir / "clone", env=env)
    rng = random.Random(1234)
    files = {f"configs/dev{i:04d}.cfg": base64.b64encode(rng.randbytes(1500)).decode() + "\n" for i in range(3000)}
    commit_files(work, files, "Backup 3000 devices")
    git("push", "origin", "main", cwd=work, env=env)
    tree = ls_tree(git_remotes.http_remote)
    assert len(tree) == 3001
    assert show(git_remotes.http_remote, "configs/dev2999.cfg") == files["configs/dev2999.cfg"]
    path = re.escape(git_remotes.http_url.split("/", 3)[3])
    chunked = _server_log_lines(git_remotes, rf"POST /{path}/git-receive-pack -> 200 .* body=chunked")
    assert chunked, "the big push did not arrive with Transfer-Encoding: chunked"
    assert int(re.search(r" in=(\d+)", chunked[-1]).group(1)) > 3_000_000  # type: ignore[union-attr]
    shutil.rmtree(work)  # 6,000 files: do not leave them for pytest's temp-dir rotation


def _upload_pack_request(sha: str) -> bytes:
    """A protocol v0 upload-pack request for one commit: want, flush, done."""
    want = f"want {sha} no-progress\n".encode()
    return b"%04x%s0000" % (len(want) + 4, want) + b"0009done\n"


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_http_gzip_request_body_is_passed_to_backend(git_remotes: GitRemotes, framing: str) -> None:
    """git gzips large upload-pack requests; the backend must be told (HTTP_CONTENT_ENCODING)."""
    sha = rev_parse(git_remotes.http_remote, "main")
    assert sha
    payload = gzip.compress(_upload_pack_request(sha))

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(payload), 7):
            yield payload[start : start + 7]

    response = requests.post(
        f"{git_remotes.http_url}/git-upload-pack",
        data=payload if framing == "length" else pieces(),
        headers={"Content-Type": "application/x-git-upload-pack-request", "Content-Encoding": "gzip"},
        auth=(git_remotes.http_username, git_remotes.http_password),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert b"PACK" in response.content


def test_http_server_serves_while_another_request_stalls(git_remotes: GitRemotes) -> None:
    """A client stuck mid-body must not block others: one thread per connection."""
    host, port = git_remotes.server.host, git_remotes.server.port
    path = git_remotes.http_url.split("/", 3)[3]
    token = base64.b64encode(f"{git_remotes.http_username}:{git_remotes.http_password}".encode()).decode()
    with socket.create_connection((host, port), timeout=10) as stalled:
        stalled.sendall(
            f"POST /{path}/git-upload-pack HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {token}\r\n"
            "Content-Type: application/x-git-upload-pack-request\r\nContent-Length: 1000\r\n\r\n0032".encode()
        )
        started = time.monotonic()
        result = git("ls-remote", git_remotes.http_url, "main", env=git_remotes.http_env(), timeout=20)
        assert result.stdout.split()[0] == rev_parse(git_remotes.http_remote, "main")
        assert time.monotonic() - started < 10


def test_http_concurrent_pushes_one_wins(git_remotes: GitRemotes) -> None:
    """Two pushes from the same base at once: git lets exactly one in and rejects the other."""
    env = git_remotes.http_env()
    clones = [clone(git_remotes.http_url, git_remotes.workdir / f"clone{i}", env=env) for i in range(2)]
    shas = [commit_files(w, {f"configs/job{i}.cfg": f"job {i}\n"}, f"Backup job {i}") for i, w in enumerate(clones)]
    barrier = threading.Barrier(2)

    def push(work: Path) -> tuple[int, str]:
        barrier.wait()
        result = git("push", "origin", "main", cwd=work, env=env, check=False)
        return result.returncode, result.stderr

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(push, clones))
    winners = [i for i, (rc, _output) in enumerate(results) if rc == 0]
    assert len(winners) == 1, results
    winner, loser = winners[0], 1 - winners[0]
    assert REJECTED.search(results[loser][1]), results[loser][1]
    assert rev_parse(git_remotes.http_remote, "main") == shas[winner]
    # The loser catches up and pushes again, as the product's retry does.
    git("pull", "--rebase", "--quiet", "origin", "main", cwd=clones[loser], env=env)
    git("push", "origin", "main", cwd=clones[loser], env=env)
    assert sorted(log(git_remotes.http_remote)[:2]) == ["Backup job 0", "Backup job 1"]


def test_http_four_parallel_jobs_with_retry_all_land(git_remotes: GitRemotes) -> None:
    """The product's pattern: 4 jobs push into one branch, rebasing and retrying on rejection."""
    env = git_remotes.http_env()
    jobs = 4
    clones = [clone(git_remotes.http_url, git_remotes.workdir / f"job{i}", env=env) for i in range(jobs)]
    for i, work in enumerate(clones):
        commit_files(work, {f"configs/job{i}.cfg": f"job {i}\n"}, f"Backup job {i}")
    barrier = threading.Barrier(jobs)

    def push_with_retry(work: Path) -> int:
        barrier.wait()
        for attempt in range(1, 11):
            result = git("push", "origin", "main", cwd=work, env=env, check=False)
            if result.returncode == 0:
                return attempt
            assert REJECTED.search(result.stderr), result.stderr
            git("pull", "--rebase", "--quiet", "origin", "main", cwd=work, env=env)
        raise AssertionError(f"{work.name} never got its push in")

    with ThreadPoolExecutor(jobs) as pool:
        attempts = list(pool.map(push_with_retry, clones))
    assert max(attempts) > 1, "all four pushes landed first time, which git cannot allow"
    assert sorted(log(git_remotes.http_remote)[:jobs]) == [f"Backup job {i}" for i in range(jobs)]
    assert ls_tree(git_remotes.http_remote) == ["README.md"] + [f"configs/job{i}.cfg" for i in range(jobs)]
