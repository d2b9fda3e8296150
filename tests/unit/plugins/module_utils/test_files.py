"""Tests for plugins/module_utils/files.py: atomic, private writes and the file_mode input."""

from __future__ import annotations

import os
import re
import stat
import threading

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils import files
from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import (
    FileModeError,
    abandoned_temp_files,
    file_modes,
    private_umask,
    temp_files_in_flight,
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


def _hung_write(monkeypatch, target, release: threading.Event):
    """Start write_if_changed(target) in a thread whose fsync waits for release; return (thread, errors)."""
    real_fsync, entered = os.fsync, threading.Event()

    def fsync(fd: int) -> None:
        entered.set()
        release.wait(30)
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    errors: list = []

    def write() -> None:
        try:
            write_if_changed(target, "hostname r1\nend\n")
        except OSError as exc:
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    assert entered.wait(10)
    return thread, errors


def test_temp_files_are_tracked_from_creation_to_rename(tmp_path, monkeypatch):
    target = tmp_path / "backups" / "r1.running-config"
    release = threading.Event()
    thread, errors = _hung_write(monkeypatch, target, release)
    in_flight = temp_files_in_flight()
    assert len(in_flight) == 1
    temp = in_flight[0]
    assert re.fullmatch(re.escape(str(target.parent)) + r"/\.r1\.running-config\.[0-9a-f]{8}\.tmp", temp)
    assert _mode(temp) == 0o600
    release.set()
    thread.join(10)
    assert not errors and target.read_text() == "hostname r1\nend\n"
    assert temp_files_in_flight() == [] and not os.path.exists(temp)


def test_abandoned_temp_files_removes_those_in_flight_and_holds_off_renames(tmp_path, monkeypatch):
    target = tmp_path / "backups" / "r1.running-config"
    release = threading.Event()
    thread, errors = _hung_write(monkeypatch, target, release)
    [temp] = temp_files_in_flight()
    with abandoned_temp_files() as removed:
        assert removed == [temp] and not os.path.exists(temp)
        release.set()
        thread.join(0.5)
        assert thread.is_alive(), "the writer must wait: no rename while a stopping process cleans up"
    thread.join(10)
    # The writer's temp file is gone: its write fails and leaves nothing behind.
    assert len(errors) == 1 and isinstance(errors[0], FileNotFoundError)
    assert not target.exists()
    assert list(target.parent.iterdir()) == [] and temp_files_in_flight() == []


def test_a_failed_rename_removes_and_forgets_its_temp_file(tmp_path):
    target = tmp_path / "r1.cfg"
    target.mkdir()  # a directory where the file should go: os.replace fails
    with pytest.raises(OSError):
        write_if_changed(target, "a\n")
    assert [p.name for p in tmp_path.iterdir()] == ["r1.cfg"] and temp_files_in_flight() == []


def test_a_forked_child_does_not_inherit_the_parents_temp_files(tmp_path, monkeypatch):
    release = threading.Event()
    thread, _errors = _hung_write(monkeypatch, tmp_path / "r1.cfg", release)
    try:
        assert len(temp_files_in_flight()) == 1
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            code = 1
            try:
                with abandoned_temp_files(timeout=0.5) as removed:
                    code = 0 if removed == [] and temp_files_in_flight() == [] else 1
            finally:
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        assert len(temp_files_in_flight()) == 1, "the child must not have removed the parent's temp file"
    finally:
        release.set()
        thread.join(10)


def test_a_new_mode_reaches_existing_directories_below_the_root_only(tmp_path):
    root = tmp_path / "repo"
    target = root / "a" / "b" / "r1.cfg"
    assert write_if_changed(target, "x\n")
    os.chmod(tmp_path, 0o755)
    # Same content, group read asked: the file and the directories below root follow; root's parent does not.
    assert write_if_changed(target, "x\n", mode=0o640, root=root) is False
    assert _mode(target) == 0o640
    assert _mode(root / "a") == 0o750 and _mode(root / "a" / "b") == 0o750
    assert _mode(tmp_path) == 0o755
