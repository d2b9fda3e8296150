# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Share work items out over forked child processes and collect their results in the parent.

One Python process uses one CPU core (the GIL). ``run_sharded`` forks one child per shard;
each child runs its shard and writes one JSON line per item over a pipe, and the parent calls
``finished`` for each line as it arrives. A child that dies takes only its unreported items
with it: ``lost`` turns each of those into a failure result. A refused fork runs the shards
left over in this process, so every item is still done once.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
from typing import Any, Callable, Dict, Iterator, List, Mapping, Sequence, Tuple, TypeVar

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


def auto_processes(devices: int, workers: int) -> int:
    """Processes for a batch: one per usable CPU core, at most 8, at least 50 devices and one thread each."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_PROCESSES, devices // DEVICES_PER_PROCESS, workers))


def run_sharded(shards: Sequence[Shard], run_shard: ShardRunner, finished: Finished, lost: Lost) -> None:
    """Run each shard in a forked child; call finished() in this thread as each item's line arrives.

    When the system refuses a fork (process limit, memory), the shards left over are run in
    this process after the children's, so every item is still done once.
    """
    children: Dict[int, Tuple[int, Shard]] = {}
    unforked: List[Tuple[str, Any]] = []
    try:
        for shard in shards:
            if unforked:
                unforked.extend(shard)
                continue
            try:
                read_fd, write_fd = os.pipe()
            except OSError:
                unforked.extend(shard)
                continue
            try:
                pid = _fork()
            except OSError:
                os.close(read_fd)
                os.close(write_fd)
                unforked.extend(shard)
                continue
            if pid == 0:  # pragma: no cover - the child; its results are checked through the parent
                os.close(read_fd)
                _child_main(write_fd, shard, run_shard)
            os.close(write_fd)
            children[read_fd] = (pid, shard)
        _collect(children, finished, lost)
        if unforked:
            for name, result in run_shard(unforked):
                finished(name, result)
    except BaseException:
        # _collect reaps the children on the normal path; here they are stopped and reaped.
        for pid, _shard in children.values():
            _kill_quietly(pid)
        for pid, _shard in children.values():
            _reap(pid)
        raise
    finally:
        for read_fd in children:
            _close_quietly(read_fd)


def _fork() -> int:
    """os.fork(); a seam for the tests of a refused fork."""
    return os.fork()


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


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
