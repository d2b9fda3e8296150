"""Tests of plugins/module_utils/run_lock.py: one run per checkout, with real processes and files."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import stat
import subprocess
from pathlib import Path
from typing import Iterator, List

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.run_lock import (
    POLL_INTERVAL,
    Holder,
    RunLock,
    RunLockBusyError,
    RunLockError,
    boot_id,
    lock_path,
    process_start,
)

HOST = socket.gethostname()


@pytest.fixture
def live_process() -> Iterator[subprocess.Popen]:
    """A live process standing for another run's ansible-playbook; stopped by PID."""
    process = subprocess.Popen(["sleep", "300"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def dead_pid() -> int:
    """The PID of a process that has exited."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def hold(repo_dir: Path, pid: int, **fields) -> Holder:
    """Write the lock file as the run of process pid would have (its worker gone)."""
    values = {"pid_start": process_start(pid), "boot": boot_id(), **fields}
    holder = Holder(pid, values.pop("host", HOST), "2026-01-01T02:00:00+00:00", **values)
    lock_path(repo_dir).parent.mkdir(parents=True, exist_ok=True)
    lock_path(repo_dir).write_text(holder.to_json())
    return holder


class FakeTime:
    """A clock that only moves when the lock sleeps; runs a callback at a given sleep."""

    def __init__(self, on_sleep=None) -> None:
        self.now = 0.0
        self.sleeps: List[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


def test_lock_file_is_beside_the_checkout() -> None:
    assert lock_path("/srv/backups/configs") == Path("/srv/backups/.configs.lock")
    assert lock_path("/srv/backups/configs/") == Path("/srv/backups/.configs.lock")


def test_acquire_names_the_run_and_release_removes_it(tmp_path: Path) -> None:
    repo_dir = tmp_path / "parent" / "configs"
    previous = os.umask(0)
    try:
        lock = RunLock(repo_dir)
        outcome = lock.acquire()
    finally:
        os.umask(previous)
    assert (outcome.waited, outcome.waited_for, outcome.stale, outcome.reentered) == (0.0, None, None, False)
    info = lock.path.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and stat.S_IMODE(lock.path.parent.stat().st_mode) == 0o700
    content = json.loads(lock.path.read_text())
    assert (content["pid"], content["host"], content["pid_start"]) == (os.getpid(), HOST, process_start(os.getpid()))
    assert content["started"].endswith("+00:00") and content["boot"] == boot_id()
    assert not repo_dir.exists()  # the lock exists before the clone
    again = RunLock(repo_dir).acquire()  # the same run (prepare, then publish): re-entrant, start time kept
    assert again.reentered and json.loads(lock.path.read_text())["started"] == content["started"]
    assert lock.release() is True and not lock.path.exists()
    assert lock.release() is False


def test_a_live_run_is_waited_for_then_the_message_names_it(tmp_path: Path, live_process) -> None:
    other = hold(tmp_path / "c", live_process.pid)
    fake = FakeTime()
    lock = RunLock(tmp_path / "c", timeout=5, sleep=fake.sleep, clock=fake.clock)
    with pytest.raises(RunLockBusyError) as info:
        lock.acquire()
    message = str(info.value)
    assert f"pid {live_process.pid} on host {HOST}, started 2026-01-01T02:00:00+00:00" in message
    assert str(lock.path) in message and "lock_timeout" in message
    assert info.value.holder == other and isinstance(info.value, NautobotBackupError)
    assert sum(fake.sleeps) == 5 and max(fake.sleeps) <= POLL_INTERVAL  # bounded wait, polling
    assert Holder.from_json(lock.path.read_text()) == other  # untouched
    assert lock.release() is False and lock.path.exists()  # another run's lock is never removed


def test_waits_until_the_other_run_releases(tmp_path: Path, live_process) -> None:
    hold(tmp_path / "c", live_process.pid)
    fake = FakeTime(on_sleep=lambda count: count == 3 and lock_path(tmp_path / "c").unlink())
    outcome = RunLock(tmp_path / "c", timeout=600, sleep=fake.sleep, clock=fake.clock).acquire()
    assert outcome.waited == 3 * POLL_INTERVAL and outcome.waited_for is not None
    assert outcome.waited_for.pid == live_process.pid and outcome.stale is None
    assert json.loads(lock_path(tmp_path / "c").read_text())["pid"] == os.getpid()


@pytest.mark.parametrize("case", ["dead-pid", "reused-pid", "other-boot", "garbage"])
def test_a_lock_whose_run_is_gone_is_taken_over(tmp_path: Path, live_process, case: str) -> None:
    repo_dir = tmp_path / "c"
    if case == "dead-pid":
        hold(repo_dir, dead_pid())
    elif case == "reused-pid":  # the PID is alive, but it is another process than the one that locked
        hold(repo_dir, live_process.pid, pid_start="1")
    elif case == "other-boot":
        hold(repo_dir, live_process.pid, boot="another-boot")
    else:
        lock_path(repo_dir).parent.mkdir(parents=True, exist_ok=True)
        lock_path(repo_dir).write_text("not json")
    fake = FakeTime()
    outcome = RunLock(repo_dir, timeout=600, sleep=fake.sleep, clock=fake.clock).acquire()
    assert fake.sleeps == [] and outcome.waited_for is None
    assert (outcome.stale is None) == (case == "garbage")
    assert json.loads(lock_path(repo_dir).read_text())["pid"] == os.getpid()


def test_a_live_worker_of_a_killed_run_still_holds_it(tmp_path: Path, live_process) -> None:
    """ansible-playbook was killed but its forked worker still runs git: the run is not over."""
    hold(tmp_path / "c", dead_pid(), worker_pid=live_process.pid, worker_start=process_start(live_process.pid))
    with pytest.raises(RunLockBusyError):
        RunLock(tmp_path / "c", timeout=0).acquire()


def test_a_run_on_another_host_is_never_taken_over(tmp_path: Path) -> None:
    hold(tmp_path / "c", dead_pid(), host="other-controller.example")
    with pytest.raises(RunLockBusyError, match="on host other-controller.example.*another host"):
        RunLock(tmp_path / "c", timeout=0).acquire()


def test_a_symlink_or_foreign_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_text("precious\n")
    lock_path(tmp_path / "c").symlink_to(target)
    with pytest.raises(RunLockError, match="not a symlink"):
        RunLock(tmp_path / "c", timeout=0).acquire()
    assert target.read_text() == "precious\n"
    with pytest.raises(RunLockError, match="0 or more"):
        RunLock(tmp_path / "d", timeout=-1)


def _contend(repo_dir: str, start, done, results) -> None:
    start.wait()
    try:
        RunLock(repo_dir, timeout=0).acquire()
        results.put("won")
    except RunLockBusyError:
        results.put("busy")
    done.wait()  # stay alive (a live owner) until every contender has tried


def test_only_one_of_many_simultaneous_runs_gets_the_lock(tmp_path: Path) -> None:
    """Read-check-write is atomic (flock): of processes racing for a free lock, exactly one wins."""
    context = multiprocessing.get_context("fork")
    count = 6
    start, done, results = context.Barrier(count), context.Barrier(count), context.Queue()
    processes = [
        context.Process(target=_contend, args=(str(tmp_path / "c"), start, done, results)) for _index in range(count)
    ]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=60) for _index in range(count))
    for process in processes:
        process.join(timeout=60)
    assert outcomes == ["busy"] * (count - 1) + ["won"], outcomes
