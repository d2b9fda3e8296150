"""Tests for plugins/module_utils/files.py: atomic, private writes and the file_mode input."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import (
    FileModeError,
    file_modes,
    private_umask,
    write_if_changed,
)


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize(
    "given, expected",
    [
        (None, (0o600, 0o700)),
        ("", (0o600, 0o700)),
        ("0600", (0o600, 0o700)),
        ("600", (0o600, 0o700)),
        ("0o640", (0o640, 0o750)),
        ("0640", (0o640, 0o750)),
        ("0660", (0o660, 0o770)),
        (0o640, (0o640, 0o750)),
    ],
)
def test_file_modes(given, expected):
    assert file_modes(given) == expected


@pytest.mark.parametrize("given", ["0644", "0604", "0700", "0755", "0400", "4600", "rw-r--r--", "0x1", True, 0o666])
def test_file_modes_refuses_other_users_execute_and_nonsense(given):
    with pytest.raises(FileModeError, match="file_mode"):
        file_modes(given)


def test_write_is_private_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        target = tmp_path / "repo" / "backups" / "r1.running-config"
        assert write_if_changed(target, "hostname r1\nend\n")
    finally:
        os.umask(previous)
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700 and _mode(target.parent.parent) == 0o700
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


def test_group_read_mode_and_an_old_world_readable_file_is_tightened(tmp_path):
    target = tmp_path / "d" / "r1.cfg"
    assert write_if_changed(target, "a\n", mode=0o640)
    assert _mode(target) == 0o640 and _mode(target.parent) == 0o750
    os.chmod(target, 0o644)
    # Same content: not changed, but the mode is fixed.
    assert write_if_changed(target, "a\n") is False
    assert _mode(target) == 0o600


def test_check_mode_writes_nothing(tmp_path):
    target = tmp_path / "x" / "f"
    assert write_if_changed(target, "a\n", check_mode=True)
    assert not target.exists() and not target.parent.exists()


def test_private_umask_restores(tmp_path):
    before = os.umask(0o022)
    os.umask(before)
    with private_umask(0o700):
        (tmp_path / "d").mkdir()
    assert _mode(tmp_path / "d") == 0o700
    now = os.umask(0o022)
    os.umask(now)
    assert now == before
