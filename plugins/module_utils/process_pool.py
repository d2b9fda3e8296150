# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Share work items out over forked child processes and collect their results in the parent.

One Python process uses one CPU core (the GIL). ``run_sharded`` forks one child per shard;
each child runs its shard and writes one JSON line per item over a pipe, and the parent calls
``finished`` for each line as it arrives. A child that dies takes only its unreported items
with it: ``lost`` turns each of those into a failure result. A refused fork runs the shards
left over in this process, so every item is still done once.

Cancel (SIGTERM or SIGINT, what AWX and Ctrl-C send): while ``stop_on_signals`` is active, the
signal sets ``stop_requested()`` (no new item starts) and is forwarded to the children at once. This
process then reaps them (SIGKILL ``STOP_GRACE`` seconds after the signal), removes its temporary files
in flight, and runs the signal's previous handler (in an Ansible worker: Ansible's own, which exits).
In an Ansible worker, that second part first waits (at most ``SEND_WAIT`` seconds) while this process holds the
lock of Ansible's result queue, which it shares with ansible-playbook: a worker that exits holding it leaves
ansible-playbook blocked for ever. The children do not wait for it.
A child removes its own temporary files and exits at once on either signal, and gets SIGTERM
from the kernel when its parent dies, even by SIGKILL (Linux PR_SET_PDEATHSIG). Threads started
under ``stop_signals_blocked`` (the device sessions) never take a stop signal, so the main
thread, where Python runs the handler, does.
"""

from __future__ import annotations

import ctypes
import gc
import json
import math
import os
import selectors
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import abandoned_temp_files

Item = TypeVar("Item")
Shard = Sequence[Tuple[str, Any]]
# Runs one shard (in a child or in this process); yields (name, result) as each item finishes.
ShardRunner = Callable[[Shard], Iterator[Tuple[str, Dict[str, Any]]]]
# Called in the parent, in its thread, once per item: (name, result).
Finished = Callable[[str, Dict[str, Any]], None]
# The result of an item a child left unreported: (name, item, "<pid> ended (<how>)").
Lost = Callable[[str, Any, str], Dict[str, Any]]

# Below this many devices per process a second process costs more than it gains.
DEVICES_PER_PROCESS = 50
MAX_PROCESSES = 8


# The signals that stop a batch, and how long a child has to stop before it is killed.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_GRACE = 2.0
# How long a stop waits at most for a SIGKILLed child to be reaped (one stuck in the kernel, such as a hung disk,
# dies only when it leaves it); this process then goes on without it.
KILL_WAIT = 0.5
# How long a stop waits at most for this process to finish a message on Ansible's result queue (see _defer_stop).
SEND_WAIT = 2.0
# gc.freeze() across the forks: a child's garbage collections then skip every object it inherited, so they do not
# write to (and so copy) the parent's pages. A seam for benchmarks/fork_memory.py, which measures it.
FREEZE_BEFORE_FORK = True
_PR_SET_PDEATHSIG = 1
_PR_GET_PDEATHSIG = 2

PathLike = Union[str, Path]
CGROUP_ROOT = "/sys/fs/cgroup"
PROC_SELF_CGROUP = "/proc/self/cgroup"


def auto_processes(
    devices: int, workers: int, cgroup_root: PathLike = CGROUP_ROOT, proc_cgroup: PathLike = PROC_SELF_CGROUP
) -> int:
    """Processes for a batch: one per usable CPU core, at most 8, at least 50 devices and one thread each.

    Usable cores are the CPUs this process may run on (affinity), capped by its cgroup's CPU quota
    (a container's ``--cpus`` or a Kubernetes CPU limit), which the affinity does not show.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_limit(cgroup_root, proc_cgroup)
    if quota is not None:
        cores = min(cores, quota)
    return max(1, min(cores, MAX_PROCESSES, devices // DEVICES_PER_PROCESS, workers))


def cgroup_cpu_limit(cgroup_root: PathLike = CGROUP_ROOT, proc_cgroup: PathLike = PROC_SELF_CGROUP) -> Optional[int]:
    """CPUs this process's cgroup CPU quota allows (ceil(quota / period), at least 1), or None without a quota.

    Reads the process's own cgroup from ``proc_cgroup`` (/proc/self/cgroup) and the quota files under
    ``cgroup_root``: cgroup v2 ``cpu.max`` ("max <period>" or "<quota> <period>") and cgroup v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (-1: none). The smallest quota of the cgroup and
    its ancestors applies. A cgroup path that is not visible under the root (a container without
    its own cgroup namespace) falls back to the root's own files.
    """
    try:
        lines = Path(proc_cgroup).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    root = Path(cgroup_root)
    limits: List[int] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, cgroup = parts
        if hierarchy == "0" and controllers == "":
            limits += _quota_limits(root, cgroup, _cpu_max)
        elif "cpu" in controllers.split(","):
            for mount in dict.fromkeys((controllers, "cpu,cpuacct", "cpuacct,cpu", "cpu")):
                if (root / mount).is_dir():
                    limits += _quota_limits(root / mount, cgroup, _cfs_quota)
                    break
    return min(limits) if limits else None


def _quota_limits(mount: Path, cgroup: str, read: Callable[[Path], Optional[int]]) -> List[int]:
    """The CPU limits found in cgroup's directory under mount and in each of its ancestors up to mount."""
    directory = mount / cgroup.strip("/")
    if not directory.is_dir():
        directory = mount
    limits: List[int] = []
    while True:
        limit = read(directory)
        if limit is not None:
            limits.append(limit)
        if directory == mount or mount not in directory.parents:
            return limits
        directory = directory.parent


def _cpu_max(directory: Path) -> Optional[int]:
    """cgroup v2: CPUs from cpu.max, or None (no file, "max", unreadable)."""
    try:
        fields = (directory / "cpu.max").read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    return _cpus(fields[0], fields[1])


def _cfs_quota(directory: Path) -> Optional[int]:
    """cgroup v1: CPUs from cpu.cfs_quota_us and cpu.cfs_period_us, or None (no file, -1, unreadable)."""
    try:
        quota = (directory / "cpu.cfs_quota_us").read_text(encoding="ascii").strip()
        period = (directory / "cpu.cfs_period_us").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return _cpus(quota, period)


def _cpus(quota: str, period: str) -> Optional[int]:
    """ceil(quota / period), at least 1; None for a missing (-1) or malformed quota."""
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    if quota_us <= 0 or period_us <= 0:
        return None
    return max(1, math.ceil(quota_us / period_us))


class _StopState:
    """This process's stop state: the flag the pools read, the children to forward a stop to."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.children: Dict[int, None] = {}
        self.depth = 0
        self.handling = False
        # When a stop deferred while a message was being sent gives up waiting (monotonic seconds).
        self.send_deadline: Optional[float] = None
        # When the children of a stop that are still running get SIGKILL (monotonic seconds); None: no stop yet.
        self.kill_at: Optional[float] = None
        # True while a stop put off by _defer_stop has not come back to the handler.
        self.deferred = False


_state = _StopState()


def stop_requested() -> bool:
    """True once SIGTERM or SIGINT asked the running batch to stop: start no new item."""
    return _state.requested.is_set()


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGINT stop the batch cleanly, then reach their previous handler.

    The handler sets stop_requested() and forwards the signal to the children of run_sharded at once.
    Then (after _defer_stop's wait, if any) it reaps them (SIGKILL STOP_GRACE seconds after the signal),
    removes this process's temporary files in flight, and calls the previous handler (Ansible's worker
    handler, which exits; Python's SIGINT handler, which raises KeyboardInterrupt; or the default action,
    which ends the process). A signal that arrives while the handler runs is left to it.
    For the block, this process also gets SIGTERM when its parent dies (ansible-playbook killed,
    as ansible-runner's cancel does with SIGKILL to its process group). Nested blocks are one
    block. Outside the main thread (where Python cannot set handlers) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _state.depth:
        _state.depth += 1
        try:
            yield
        finally:
            _state.depth -= 1
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def on_signal(signum: int, frame: Any) -> None:
        if _state.handling:
            return
        # A signal that comes meanwhile (Ansible sends SIGTERM right after a SIGINT) leaves the stop to this call: it
        # would otherwise run in the middle of it, for example between telling one child and the next.
        _state.handling = True
        try:
            _state.requested.set()
            if _state.kill_at is None:
                # The children stop now, even while this process waits to finish a message (_defer_stop).
                _state.kill_at = time.monotonic() + STOP_GRACE
                _signal_children(signum)
            if _defer_stop(signum):
                _state.deferred = True
                return
            _state.deferred = False
            _reap_children(_state.kill_at)
            with abandoned_temp_files():
                _chain(signum, frame, previous[signum])
        finally:
            _state.handling = False

    previous_death_signal = _parent_death_signal()
    _state.depth = 1
    try:
        for signum, handler in previous.items():
            if handler is not signal.SIG_IGN:
                signal.signal(signum, on_signal)
        if previous_death_signal == 0:
            _set_parent_death_signal(signal.SIGTERM)
        yield
    finally:
        try:
            _await_deferred_stop()
        finally:
            if previous_death_signal == 0:
                _set_parent_death_signal(0)
            for signum, handler in previous.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
            _state.depth = 0
            _state.requested.clear()
            _state.send_deadline = None
            _state.kill_at = None
            _state.deferred = False


def _await_deferred_stop() -> None:
    """A stop that _defer_stop put off comes back to the handler: the block does not end before it (a batch whose
    children were stopped ends early), else the stop would reach the previous handler without the wait for the lock.
    """
    while _state.deferred and _state.send_deadline is not None and time.monotonic() < _state.send_deadline + 1.0:
        time.sleep(0.01)


@contextmanager
def stop_signals_blocked() -> Iterator[Any]:
    """SIGTERM and SIGINT blocked in this thread for the block; yields the signal mask to restore.

    A signal that arrives meanwhile waits until the block ends. Threads started in the block (and the threads
    they start) keep them blocked, so they never take one: Python runs signal handlers in the main thread only,
    and the kernel gives a signal sent to the process to any thread that does not block it. A main thread that
    waits (for a device session to finish) would run the handler only when that wait ends, which at a cancel
    could be many seconds later; with every other thread blocking them, the kernel wakes the main thread.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield previous
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _result_queue_lock() -> Any:
    """The lock of Ansible's result queue when this process is an Ansible worker that sends on it, else None.

    A worker sends its display lines (the batch's progress lines) to ansible-playbook over that queue, under a
    lock shared between the processes. A worker that exits while it holds the lock leaves it held for good, and
    ansible-playbook then waits for it for ever: its cleanup after Ctrl-C sends on that queue. Found through
    sys.modules, without importing Ansible (a module run by AnsiballZ has no such queue).
    """
    display = sys.modules.get("ansible.utils.display")
    try:
        queue = display.Display()._final_q if display is not None else None  # the singleton (only read)
        lock = queue._wlock._semlock if queue is not None else None
    except AttributeError:
        return None
    return lock if hasattr(lock, "_count") else None


def _defer_stop(signum: int) -> bool:
    """True when this process is sending on Ansible's result queue: the stop then comes again once it has sent.

    The signal is sent again to the main thread (where Python runs handlers) once the lock is free, for at most
    SEND_WAIT seconds after the first stop; after that the stop goes ahead whatever the lock.
    """
    lock = _result_queue_lock()
    if lock is None or not lock._count():  # no thread of this process holds it
        return False
    now = time.monotonic()
    if _state.send_deadline is None:
        _state.send_deadline = now + SEND_WAIT
    if now >= _state.send_deadline:
        return False
    with stop_signals_blocked():
        threading.Thread(target=_resend_when_free, args=(signum, lock, _state.send_deadline), daemon=True).start()
    return True


def _resend_when_free(signum: int, lock: Any, deadline: float) -> None:
    """Wait until this process no longer holds lock (or the deadline), then signal the main thread again."""
    while lock._count() and time.monotonic() < deadline:
        time.sleep(0.001)
    signal.pthread_kill(threading.main_thread().ident, signum)


def _chain(signum: int, frame: Any, previous: Any) -> None:
    """Run the handler that was in place before stop_on_signals (or the default action)."""
    if callable(previous):
        previous(signum, frame)
    elif previous is not signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _signal_children(signum: int) -> None:
    """Forward signum to every child."""
    for pid in list(_state.children):
        _signal_quietly(pid, signum)


def _reap_children(kill_at: float) -> None:
    """Reap the children (told to stop); SIGKILL those still running at kill_at; then wait KILL_WAIT at most."""
    pids = list(_state.children)
    waiting = _unreaped(pids, kill_at)
    for pid in waiting:
        _signal_quietly(pid, signal.SIGKILL)
    _unreaped(waiting, time.monotonic() + KILL_WAIT)
    for pid in pids:
        _state.children.pop(pid, None)


def _unreaped(pids: Sequence[int], deadline: float) -> List[int]:
    """Reap what ends of pids until deadline (monotonic seconds); return those still running then."""
    waiting = list(pids)
    while True:
        waiting = [pid for pid in waiting if not _reaped(pid)]
        if not waiting or time.monotonic() >= deadline:
            return waiting
        time.sleep(0.01)


def _reaped(pid: int) -> bool:
    """waitpid(pid, WNOHANG); True when the child is gone (reaped now or before)."""
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


def _libc_prctl() -> Optional[Callable[..., int]]:
    """libc's prctl on Linux, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _set_parent_death_signal(signum: int) -> bool:
    """Ask the kernel to send signum to this process when its parent dies (0: never); False where unsupported."""
    prctl = _libc_prctl()
    if prctl is None:
        return False
    # prctl is variadic and the kernel reads its arguments as unsigned longs: pass them so.
    zero = ctypes.c_ulong(0)
    return prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signum), zero, zero, zero) == 0


def _parent_death_signal() -> Optional[int]:
    """This process's parent-death signal (0: none), or None where unsupported."""
    prctl = _libc_prctl()
    if prctl is None:
        return None
    value = ctypes.c_int(0)
    zero = ctypes.c_ulong(0)
    if prctl(_PR_GET_PDEATHSIG, ctypes.byref(value), zero, zero, zero) != 0:
        return None
    return value.value


def run_sharded(shards: Sequence[Shard], run_shard: ShardRunner, finished: Finished, lost: Lost) -> None:
    """Run each shard in a forked child; call finished() in this thread as each item's line arrives.

    When the system refuses a fork (process limit, memory), the shards left over are run in
    this process after the children's, so every item is still done once.
    """
    children: Dict[int, Tuple[int, Shard]] = {}
    unforked: List[Tuple[str, Any]] = []
    with stop_on_signals():
        try:
            with _frozen_heap():
                _fork_all(shards, run_shard, children, unforked)
            _collect(children, finished, lost)
            if unforked:
                for name, result in run_shard(unforked):
                    finished(name, result)
        except BaseException:
            # _collect reaps the children on the normal path; here they are stopped and reaped.
            for pid, _shard in children.values():
                _signal_quietly(pid, signal.SIGTERM)
            for pid, _shard in children.values():
                _reap(pid)
            raise
        finally:
            for read_fd in children:
                _close_quietly(read_fd)
            for pid, _shard in children.values():
                _state.children.pop(pid, None)


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """While forking: every object so far in gc's permanent generation (the children keep it there), then back."""
    if not FREEZE_BEFORE_FORK:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _fork_all(
    shards: Sequence[Shard], run_shard: ShardRunner, children: Dict[int, Tuple[int, Shard]], unforked: List
) -> None:
    """Fork a child per shard into children (read end -> pid, shard); what cannot be forked goes to unforked."""
    for shard in shards:
        if unforked or stop_requested():
            unforked.extend(shard)
            continue
        try:
            read_fd, write_fd = os.pipe()
        except OSError:
            unforked.extend(shard)
            continue
        try:
            pid = _fork_child(read_fd, write_fd, shard, run_shard)
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            unforked.extend(shard)
            continue
        os.close(write_fd)
        children[read_fd] = (pid, shard)


def _fork_child(read_fd: int, write_fd: int, shard: Shard, run_shard: ShardRunner) -> int:
    """Fork the child of one shard and return its pid; the child never returns.

    SIGTERM and SIGINT are blocked across the fork, so a stop that arrives meanwhile reaches the
    child only once it is registered (parent) and has its own handlers (child).
    """
    parent = os.getpid()
    with stop_signals_blocked() as unblocked:
        pid = _fork()
        if pid == 0:  # pragma: no cover - the child; its behaviour is checked through the parent
            try:
                os.close(read_fd)
                _child_setup(parent)
                signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
                _child_main(write_fd, shard, run_shard)
            finally:
                os._exit(1)  # never back into the parent's code
        _state.children[pid] = None
    return pid


def _fork() -> int:
    """os.fork(); a seam for the tests of a refused fork."""
    return os.fork()


def _child_setup(parent: int) -> None:  # pragma: no cover - forked child
    """In a new child: stop on SIGTERM/SIGINT, get SIGTERM when the parent dies, stop if it already has."""
    _state.children.clear()
    _state.depth = 0
    _state.handling = False
    _state.kill_at = None
    _state.deferred = False
    _state.requested = threading.Event()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _child_stop)
    _set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:
        _child_stop(signal.SIGTERM, None)


def _child_stop(signum: int, _frame: Any) -> None:  # pragma: no cover - forked child
    """A child told to stop: start nothing more, remove its temporary files in flight, exit now (os._exit).

    The exit ends the session threads too; the parent fails the items this child did not report.
    """
    _state.requested.set()
    with abandoned_temp_files():
        os._exit(128 + signum)


def _child_main(write_fd: int, shard: Shard, run_shard: ShardRunner) -> None:  # pragma: no cover - forked child
    """Run one shard and write one JSON line per item; never returns (os._exit)."""
    code = 0
    try:
        with os.fdopen(write_fd, "w", encoding="utf-8") as out:
            for name, result in run_shard(shard):
                out.write(json.dumps({"name": name, "result": result}) + "\n")
                out.flush()
    except BaseException:  # noqa: BLE001 - the parent fails the items this child did not report
        code = 1
    # No atexit handlers or finalizers: they belong to the parent (Ansible's queues, loggers).
    os._exit(code)


def _collect(children: Mapping[int, Tuple[int, Shard]], finished: Finished, lost: Lost) -> None:
    """Read every child's lines until all pipes close; fail what a child left unreported."""
    buffers = {read_fd: b"" for read_fd in children}
    reported: Dict[int, set] = {read_fd: set() for read_fd in children}
    with selectors.DefaultSelector() as selector:
        for read_fd in children:
            selector.register(read_fd, selectors.EVENT_READ)
        open_fds = len(children)
        while open_fds:
            for key, _events in selector.select():
                read_fd = key.fd
                chunk = os.read(read_fd, 1 << 16)
                if not chunk:
                    selector.unregister(read_fd)
                    open_fds -= 1
                    continue
                *lines, buffers[read_fd] = (buffers[read_fd] + chunk).split(b"\n")
                for line in lines:
                    item = json.loads(line)
                    reported[read_fd].add(item["name"])
                    finished(item["name"], item["result"])
    for read_fd, (pid, shard) in children.items():
        status = _reap(pid)
        for name, item in shard:
            if name not in reported[read_fd]:
                finished(name, lost(name, item, f"{pid} ended ({status})"))


def _reap(pid: int) -> str:
    """Wait for a child once; describe how it ended."""
    try:
        _pid, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "already reaped"
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _signal_quietly(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
