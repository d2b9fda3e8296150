"""Tests of plugins/module_utils/git_runner.py: safe settings, scrubbed output, failure classes, credentials' reach."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_runner import (
    ASKPASS_TOKEN_VAR,
    NETWORK_COMMANDS,
    SAFE_CONFIG,
    TOKEN_ENV_VAR,
    GitCommandError,
    GitRunner,
    classify,
    git_lock_files,
)


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


def test_runner_scrubs_secrets_from_output() -> None:
    runner = GitRunner(secrets=["hunter2-token"])
    with pytest.raises(GitCommandError) as info:
        runner.run("rev-parse", "hunter2-token")
    assert "hunter2-token" not in str(info.value)
    assert "********" in str(info.value)


def test_every_git_command_gets_the_safe_settings() -> None:
    calls: List[List[str]] = []

    class Spy:
        def execute(self, command: List[str], **_kwargs: Any) -> tuple:
            calls.append(command)
            return 0, b"", b""

    runner = GitRunner()
    runner._git = Spy()  # type: ignore[assignment]
    runner.run("status", cwd=Path("/x"))
    assert calls[0][:3] == ["git", "-C", "/x"]
    assert calls[0][3:-1] == list(SAFE_CONFIG) and calls[0][-1] == "status"
    assert "core.hooksPath=/dev/null" in SAFE_CONFIG and "core.fsmonitor=false" in SAFE_CONFIG


def test_credentials_environment_only_for_network_commands(monkeypatch) -> None:
    monkeypatch.setenv(TOKEN_ENV_VAR, "tok-from-controller-env")
    runner = GitRunner(env={"GIT_AUTHOR_NAME": "bot"}, network_env={ASKPASS_TOKEN_VAR: "tok-123456"})
    for command in ["status", "commit", "update-index", *sorted(NETWORK_COMMANDS)]:
        env = runner.environment([command, "x"])
        assert env[TOKEN_ENV_VAR] == "" and env["GIT_AUTHOR_NAME"] == "bot", command
        assert env["GIT_TERMINAL_PROMPT"] == "0", command
        assert (env.get(ASKPASS_TOKEN_VAR) == "tok-123456") is (command in NETWORK_COMMANDS), command


def test_git_lock_files_lists_what_a_killed_git_leaves(tmp_path: Path) -> None:
    git_dir = tmp_path / ".git"
    for name in ["index.lock", "HEAD.lock", "refs/heads/main.lock", "logs/refs/heads/main.lock", "objects/x.lock"]:
        (git_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (git_dir / name).write_text("")
    (git_dir / "config").write_text("")
    found = sorted(os.path.relpath(path, git_dir) for path in git_lock_files(git_dir))
    assert found == ["HEAD.lock", "index.lock", "logs/refs/heads/main.lock", "refs/heads/main.lock"]
