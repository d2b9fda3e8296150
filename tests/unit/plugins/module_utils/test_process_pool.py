"""Tests for plugins/module_utils/process_pool.py: automatic process count (CPU affinity and cgroup quota), cancel.

The cancel tests run a real batch in a separate Python process (so the signals never reach
pytest), with real forked children, real signals and real files; only the disk is made slow
(os.fsync waits) so that writes are in flight when the signal arrives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils import process_pool
from ansible_collections.netops.nautobot_backup.plugins.module_utils.process_pool import (
    auto_processes,
    cgroup_cpu_limit,
    stop_on_signals,
    stop_requested,
)
from testbed.ansible_run import ansible_env
from testbed.procs import kill_quietly, process_tree, wait_gone

# The directory that holds ansible_collections/ (the installed tree the tests import), for the batch process.
COLLECTIONS = next(
    path.parent for path in Path(os.path.abspath(process_pool.__file__)).parents if path.name == "ansible_collections"
)


def _descendants_of(root: int) -> Set[int]:
    """Every descendant of root (from /proc)."""
    return set(process_tree(root)) - {root}


def _tree(root: Path, files: Dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="ascii")
    return root


def _limit(tmp_path: Path, proc_cgroup: str, files: Dict[str, str]) -> Optional[int]:
    root = _tree(tmp_path / "cgroup", files)
    (tmp_path / "proc_self_cgroup").write_text(proc_cgroup, encoding="ascii")
    return cgroup_cpu_limit(root, tmp_path / "proc_self_cgroup")


V2 = "0::/kubepods/pod1/ctr\n"
V1 = "12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n"
V1_DIR = "cpu,cpuacct/docker/abc"


@pytest.mark.parametrize(
    "proc_cgroup, files, expected",
    [
        # cgroup v2: "<quota> <period>" -> ceil(quota / period).
        (V2, {"kubepods/pod1/ctr/cpu.max": "200000 100000\n"}, 2),
        (V2, {"kubepods/pod1/ctr/cpu.max": "150000 100000\n"}, 2),
        (V2, {"kubepods/pod1/ctr/cpu.max": "50000 100000\n"}, 1),
        (V2, {"kubepods/pod1/ctr/cpu.max": "max 100000\n"}, None),
        # The smallest quota on the way up to the root applies (a pod limit above the container's).
        (V2, {"kubepods/pod1/ctr/cpu.max": "max 100000\n", "kubepods/pod1/cpu.max": "300000 100000\n"}, 3),
        (V2, {"kubepods/pod1/ctr/cpu.max": "400000 100000\n", "kubepods/cpu.max": "100000 100000\n"}, 1),
        # A container with its own cgroup namespace sees itself as "/": the root's own cpu.max.
        ("0::/\n", {"cpu.max": "300000 100000\n"}, 3),
        # A path not visible under the root (no cgroup namespace): the root's files.
        (V2, {"cpu.max": "100000 50000\n"}, 2),
        # cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us, -1 = none; the mount named after the controllers.
        (V1, {f"{V1_DIR}/cpu.cfs_quota_us": "250000\n", f"{V1_DIR}/cpu.cfs_period_us": "100000\n"}, 3),
        (V1, {f"{V1_DIR}/cpu.cfs_quota_us": "-1\n", f"{V1_DIR}/cpu.cfs_period_us": "100000\n"}, None),
        # ... and the parent's quota when it is smaller.
        (
            V1,
            {
                f"{V1_DIR}/cpu.cfs_quota_us": "400000\n",
                f"{V1_DIR}/cpu.cfs_period_us": "100000\n",
                "cpu,cpuacct/docker/cpu.cfs_quota_us": "100000\n",
                "cpu,cpuacct/docker/cpu.cfs_period_us": "100000\n",
            },
            1,
        ),
        ("4:cpu:/docker/abc\n", {"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),
        # Hybrid host (v1 cpu controller, v2 unified elsewhere) without quotas: none.
        (V1 + "0::/\n", {"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, None),
        # Nothing readable: none.
        (V2, {}, None),
        ("garbage\n", {"cpu.max": "100000 100000\n"}, None),
        (V2, {"kubepods/pod1/ctr/cpu.max": "lots 100000\n"}, None),
    ],
)
def test_cgroup_cpu_limit(tmp_path, proc_cgroup, files, expected):
    assert _limit(tmp_path, proc_cgroup, files) == expected


def test_cgroup_cpu_limit_without_proc_file(tmp_path):
    assert cgroup_cpu_limit(tmp_path, tmp_path / "missing") is None


def test_auto_processes_depends_on_devices_cores_and_workers(monkeypatch, tmp_path):
    no_cgroup = {"cgroup_root": tmp_path, "proc_cgroup": tmp_path / "missing"}
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False)
    assert auto_processes(10, 50, **no_cgroup) == 1
    assert auto_processes(99, 50, **no_cgroup) == 1
    assert auto_processes(100, 50, **no_cgroup) == 2
    assert auto_processes(500, 50, **no_cgroup) == 4
    assert auto_processes(500, 3, **no_cgroup) == 3
    assert auto_processes(0, 50, **no_cgroup) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(64)), raising=False)
    assert auto_processes(10_000, 50, **no_cgroup) == 8


def test_auto_processes_respects_the_cgroup_quota(monkeypatch, tmp_path):
    # 16 CPUs visible, but the container may use 2.5 of them: 3 processes, not 8.
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(16)), raising=False)
    root = _tree(tmp_path / "cgroup", {"cpu.max": "250000 100000\n"})
    (tmp_path / "self").write_text("0::/\n", encoding="ascii")
    assert auto_processes(10_000, 50, cgroup_root=root, proc_cgroup=tmp_path / "self") == 3
    # A quota above the affinity changes nothing.
    (root / "cpu.max").write_text("3200000 100000\n", encoding="ascii")
    assert auto_processes(10_000, 50, cgroup_root=root, proc_cgroup=tmp_path / "self") == 8


def test_stop_on_signals_restores_the_handlers_and_the_flag():
    before = {signum: signal.getsignal(signum) for signum in process_pool.STOP_SIGNALS}
    death_signal = process_pool._parent_death_signal()
    with stop_on_signals():
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
        if death_signal == 0:  # Linux: SIGTERM when the parent dies, for the block only
            assert process_pool._parent_death_signal() == signal.SIGTERM
        with stop_on_signals():  # nested: one scope
            pass
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
        assert not stop_requested()
    assert {signum: signal.getsignal(signum) for signum in process_pool.STOP_SIGNALS} == before
    assert process_pool._parent_death_signal() == death_signal
    assert not stop_requested()


def test_stop_on_signals_chains_to_the_previous_handler():
    seen: List[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: seen.append(signum))
    try:
        with stop_on_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            deadline = time.monotonic() + 10
            while not seen and time.monotonic() < deadline:
                time.sleep(0.01)
            assert stop_requested()
        assert seen == [signal.SIGTERM]
        assert not stop_requested()
    finally:
        signal.signal(signal.SIGTERM, previous)


# A batch of 20 devices in its own process (processes 0: one device, backup_device in the main
# thread): every fetch is logged ("<pid> <device>"); every file write stays in flight (its
# temporary file exists) for HANG seconds, like a hung disk. With a 5th argument (a path), the
# process acts as an Ansible worker that holds the lock of Ansible's result queue until that file
# exists (a progress line being sent), and a stop waits for it without a time limit. With NESTED_SIGTERM
# in its environment, the stop sends this process a SIGTERM as soon as it has told its first child
# (as Ansible's SIGTERMs follow its SIGINT to a worker).
BATCH = textwrap.dedent(
    """
    import os, signal, sys, threading
    from pathlib import Path
    from ansible_collections.netops.nautobot_backup.plugins.module_utils import process_pool
    from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup import (
        BackupRequest, backup_batch, backup_device)
    from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import (
        ConnectionSettings, FetchedConfigs)

    repo, log, processes, hang = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    config = "hostname {name}\\n!\\ninterface Ethernet1\\n description x\\n!\\nend\\n"
    real_fsync = os.fsync

    def slow_fsync(fd):
        threading.Event().wait(hang)
        real_fsync(fd)

    os.fsync = slow_fsync

    if len(sys.argv) > 5:
        released = Path(sys.argv[5])

        class HeldLock:
            def _count(self):
                return 0 if released.exists() else 1

        process_pool._result_queue_lock = HeldLock
        process_pool.SEND_WAIT = 3600.0

    if os.environ.get("NESTED_SIGTERM"):
        real_signal_quietly = process_pool._signal_quietly

        def signal_then_sigterm(pid, signum):
            real_signal_quietly(pid, signum)
            if not os.environ.pop("NESTED_SIGTERM", None):
                return
            os.kill(os.getpid(), signal.SIGTERM)

        process_pool._signal_quietly = signal_then_sigterm

    def fetch(settings, running, startup, enable):
        with open(log, "a", encoding="ascii") as out:
            out.write(f"{os.getpid()} {settings.host}\\n")
        name = settings.host.split(".")[0]
        return FetchedConfigs(running=config.format(name=name), startup=None)

    requests = {}
    for i in range(20):
        settings = ConnectionSettings(host=f"r{i:02d}.lab", device_type="cisco_ios", password="S3cret-pw")
        requests[f"r{i:02d}"] = BackupRequest(device_name=f"r{i:02d}", settings=settings, repo_dir=repo,
                                              stamp={"date": "d", "timestamp": "t"}, backup_startup=False)
    try:
        if processes:
            backup_batch(requests, workers=4, processes=processes, fetch=fetch)
        else:  # one device in the main thread, as the per-host action runs it
            backup_device(requests["r00"], fetch=fetch)
    except KeyboardInterrupt:
        sys.exit(130)
    """
)


class Batch:
    """The batch process of BATCH, its log and its checkout."""

    def __init__(
        self,
        tmp_path: Path,
        processes: int,
        hang: float = 600.0,
        lock_released: Optional[Path] = None,
        nested_sigterm: bool = False,
    ) -> None:
        self.repo, self.log = tmp_path / "repo", tmp_path / "fetch.log"
        self.repo.mkdir()
        env = {**os.environ, "PYTHONPATH": str(COLLECTIONS), **({"NESTED_SIGTERM": "1"} if nested_sigterm else {})}
        command = [sys.executable, "-c", BATCH, str(self.repo), str(self.log), str(processes), str(hang)]
        self.proc = subprocess.Popen(command + ([str(lock_released)] if lock_released else []), env=env)

    def temp_files(self) -> List[Path]:
        return sorted(self.repo.rglob("*.tmp"))

    def fetches(self) -> List[str]:
        try:
            return self.log.read_text(encoding="ascii").splitlines()
        except FileNotFoundError:
            return []

    def wait_for_temp_files(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.temp_files()) < count:
            assert self.proc.poll() is None, "the batch ended before its writes were in flight"
            assert time.monotonic() < deadline, f"only {self.temp_files()} in flight"
            time.sleep(0.05)

    def stop(self) -> None:
        for pid in _descendants_of(self.proc.pid):
            kill_quietly(pid)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


# How long the signalled batch process itself may take to exit. The bounds that matter (children gone within 5 s, no
# device started after the stop, no temp file left) are asserted separately; at load 12 the parent's own exit took
# more than 5 s.
PARENT_EXIT_WITHIN = 30

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG are Linux")


@needs_linux
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_parent_stops_the_children_and_removes_their_temp_files(tmp_path, signum):
    batch = Batch(tmp_path, processes=2)
    try:
        # 2 children of 2 threads: 4 writes hang with their temporary files in the checkout.
        batch.wait_for_temp_files(4)
        children = _descendants_of(batch.proc.pid)
        assert len(children) == 2
        fetched = len(batch.fetches())
        os.kill(batch.proc.pid, signum)
        batch.proc.wait(timeout=PARENT_EXIT_WITHIN)
        assert not wait_gone(children, 0.5), "a child outlived its stopped parent"
        assert batch.temp_files() == []
        # SIGTERM keeps its default action (after the cleanup); SIGINT is Python's KeyboardInterrupt.
        assert batch.proc.returncode == (-signal.SIGTERM if signum == signal.SIGTERM else 130)
        assert len(batch.fetches()) == fetched, "a device was started after the stop"
    finally:
        batch.stop()


@needs_linux
def test_the_children_stop_at_once_while_the_parent_waits_to_finish_a_progress_line(tmp_path):
    # An Ansible worker that holds the result queue's lock ends only once the line is sent (up to SEND_WAIT); the
    # stop reaches its children meanwhile. They waited for it before: up to 2 s, then 3 s of grace, more than the
    # 5 s a cancel may take (a CI run's cancel test found the worker and both children alive 5 s after Ctrl-C).
    released = tmp_path / "released"
    batch = Batch(tmp_path, processes=2, lock_released=released)
    try:
        batch.wait_for_temp_files(4)
        children = _descendants_of(batch.proc.pid)
        assert len(children) == 2
        fetched = len(batch.fetches())
        os.kill(batch.proc.pid, signal.SIGTERM)
        # Here the lock is never released: without the fix the children stay until the parent goes ahead.
        assert not wait_gone(children, PARENT_EXIT_WITHIN), "the children waited for their parent's lock"
        assert batch.proc.poll() is None, "the parent ended holding the result queue's lock"
        released.touch()
        batch.proc.wait(timeout=PARENT_EXIT_WITHIN)
        # The stop came back once the lock was free; the batch, whose children were gone, did not end on its own.
        assert batch.proc.returncode == -signal.SIGTERM
        assert batch.temp_files() == []
        assert len(batch.fetches()) == fetched, "a device was started after the stop"
    finally:
        batch.stop()


@needs_linux
def test_a_second_signal_during_a_stop_does_not_cut_it_short(tmp_path):
    # Ansible sends its worker SIGINT, then SIGTERM twice within milliseconds. A SIGTERM that came between telling
    # one child and the next ran a second stop inside the first: the next child was never told, got SIGKILL 2 s
    # later and left its temporary files (4 of 20 cancels of the slow lab under load).
    batch = Batch(tmp_path, processes=2, nested_sigterm=True)
    try:
        batch.wait_for_temp_files(4)
        children = _descendants_of(batch.proc.pid)
        assert len(children) == 2
        os.kill(batch.proc.pid, signal.SIGINT)
        batch.proc.wait(timeout=PARENT_EXIT_WITHIN)
        assert not wait_gone(children, 0.5)
        assert batch.temp_files() == [], "a child was killed without being told to stop"
        assert batch.proc.returncode == 130, "the SIGINT's stop did not run to its end"
    finally:
        batch.stop()


def _stop_signals_blocked(task: Path) -> bool:
    """Whether the thread /proc/<pid>/task/<tid> blocks both SIGTERM and SIGINT (from its SigBlk mask)."""
    status = (task / "status").read_text(encoding="ascii")
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)
    return all(mask & (1 << (signum - 1)) for signum in process_pool.STOP_SIGNALS)


@needs_linux
@pytest.mark.parametrize("processes", [1, 2])
def test_in_a_backup_process_only_the_main_thread_takes_a_stop_signal(tmp_path, processes):
    # Python runs signal handlers in the main thread; a stop that a session thread took waited until the main
    # thread's wait for a device ended (a cancel test's child ran its handler only when SIGKILLed 2 s later).
    batch = Batch(tmp_path, processes=processes)
    try:
        batch.wait_for_temp_files(4)
        pids = _descendants_of(batch.proc.pid) if processes > 1 else {batch.proc.pid}
        assert len(pids) == processes
        for pid in pids:
            tasks = {int(task.name): task for task in Path(f"/proc/{pid}/task").iterdir()}
            assert len(tasks) > 1, "the backup process has no session threads"
            assert not _stop_signals_blocked(tasks.pop(pid)), "the main thread blocks the stop signals"
            takers = [tid for tid, task in tasks.items() if not _stop_signals_blocked(task)]
            assert not takers, f"threads {takers} of {pid} may take a stop signal"
    finally:
        batch.stop()


@needs_linux
def test_sigkill_of_the_parent_stops_the_children_and_removes_their_temp_files(tmp_path):
    batch = Batch(tmp_path, processes=2)
    try:
        batch.wait_for_temp_files(4)
        children = _descendants_of(batch.proc.pid)
        fetched = len(batch.fetches())
        os.kill(batch.proc.pid, signal.SIGKILL)
        batch.proc.wait(timeout=PARENT_EXIT_WITHIN)
        assert not wait_gone(children, 5.0), "a child outlived its killed parent (no parent-death signal)"
        assert batch.temp_files() == []
        assert len(batch.fetches()) == fetched
    finally:
        batch.stop()


@needs_linux
def test_a_child_told_to_stop_removes_its_temp_files_and_the_other_child_goes_on(tmp_path):
    batch = Batch(tmp_path, processes=2)
    try:
        batch.wait_for_temp_files(4)
        child = min(_descendants_of(batch.proc.pid))
        os.kill(child, signal.SIGTERM)
        assert not wait_gone({child}, 5.0)
        # The stopped child's two temp files are gone; the other child's two writes are still in flight.
        deadline = time.monotonic() + 5
        while len(batch.temp_files()) != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(batch.temp_files()) == 2
        assert batch.proc.poll() is None
    finally:
        batch.stop()


@needs_linux
def test_one_process_batch_sigterm_removes_temp_files_and_starts_nothing(tmp_path):
    batch = Batch(tmp_path, processes=1)
    try:
        batch.wait_for_temp_files(4)
        assert _descendants_of(batch.proc.pid) == set()
        fetched = len(batch.fetches())
        os.kill(batch.proc.pid, signal.SIGTERM)
        batch.proc.wait(timeout=PARENT_EXIT_WITHIN)
        assert batch.proc.returncode == -signal.SIGTERM
        assert batch.temp_files() == []
        assert len(batch.fetches()) == fetched
    finally:
        batch.stop()


@needs_linux
def test_one_process_batch_sigint_cancels_the_queued_devices(tmp_path):
    # Writes hang 3 s: after SIGINT the 4 running devices finish (their files fail: the temp
    # files were removed), and none of the 16 queued devices opens a session.
    batch = Batch(tmp_path, processes=1, hang=3.0)
    try:
        batch.wait_for_temp_files(4)
        fetched = batch.fetches()
        assert len(fetched) == 4
        os.kill(batch.proc.pid, signal.SIGINT)
        batch.proc.wait(timeout=30)
        assert batch.proc.returncode == 130
        assert batch.fetches() == fetched
        assert batch.temp_files() == []
        assert list((batch.repo / "backups").glob("*.running-config")) == []
    finally:
        batch.stop()


@needs_linux
def test_sigterm_during_a_single_device_backup_removes_its_temp_file(tmp_path):
    # The per-host action runs backup_device in the worker's main thread.
    batch = Batch(tmp_path, processes=0)
    try:
        batch.wait_for_temp_files(1)
        os.kill(batch.proc.pid, signal.SIGTERM)
        batch.proc.wait(timeout=PARENT_EXIT_WITHIN)
        assert batch.proc.returncode == -signal.SIGTERM
        assert batch.temp_files() == []
    finally:
        batch.stop()


# An action that sends display lines to ansible-playbook without a pause, as the batch's progress lines do, inside
# stop_on_signals (the worker's stop handler is ours, then Ansible's, which ends the worker).
CHATTY_ACTION = """
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.netops.nautobot_backup.plugins.module_utils.process_pool import stop_on_signals

display = Display()


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        with stop_on_signals():
            for index in range(10 ** 8):
                display.display(f"progress line {index}")
        return {}
"""
CHATTY_PLAYBOOK = """
- name: Chatty
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Send display lines until cancelled
      chatty: {}
"""


@needs_linux
def test_ctrl_c_while_the_worker_sends_display_lines_ends_ansible_playbook(tmp_path):
    # The worker sends each line to ansible-playbook under a lock the two processes share. A worker that exits
    # holding it (the stop arrived between taking and releasing it) left ansible-playbook waiting for ever in its
    # cleanup after Ctrl-C: 6 hangs in 6 tries before the stop handler learnt to wait for the lock.
    (tmp_path / "action_plugins").mkdir()
    (tmp_path / "action_plugins" / "chatty.py").write_text(CHATTY_ACTION, encoding="utf-8")
    (tmp_path / "play.yml").write_text(CHATTY_PLAYBOOK, encoding="utf-8")
    for attempt in range(4):
        output = tmp_path / f"output{attempt}.txt"
        with open(output, "w", encoding="utf-8") as out:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "ansible-playbook"), "play.yml"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=ansible_env(),
                cwd=tmp_path,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            while "progress line 2000" not in output.read_text(encoding="utf-8"):
                assert proc.poll() is None, output.read_text(encoding="utf-8")[-2000:]
                assert time.monotonic() < deadline, "no display lines"
                time.sleep(0.1)
            os.kill(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=PARENT_EXIT_WITHIN)
            except subprocess.TimeoutExpired:
                pytest.fail(f"ansible-playbook still running {PARENT_EXIT_WITHIN} s after Ctrl-C (attempt {attempt})")
            assert proc.returncode == 99, output.read_text(encoding="utf-8")[-2000:]  # Ansible's "User interrupted"
            assert "User interrupted execution" in output.read_text(encoding="utf-8")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
