"""Tests of plugins/module_utils/git_remote.py: URLs without credentials, redaction, and the askpass/SSH environment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_remote import (
    GitAuth,
    check_url,
    redact_url,
    same_remote,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_runner import ASKPASS_TOKEN_VAR, GitInputError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.scrub import Scrubber


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
