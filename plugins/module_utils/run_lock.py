# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run per checkout: a lock file beside ``repo_dir`` that names the run holding it.

Two runs on one checkout (a cron job and a manual run share the default ``repo_dir``) would move
its branch, index and files under each other. ``git_commit_push`` therefore takes this lock in
``mode=prepare`` and releases it at the end of ``mode=publish``.

* The file is ``<parent of repo_dir>/.<name of repo_dir>.lock``: beside the checkout, so it
  exists before the clone and is never committed. It is opened with ``O_NOFOLLOW``, must be a
  regular file of the current user, and is kept ``0600``.
* Its JSON content names the owner: the ``ansible-playbook`` process (the parent of the forked
  worker that runs the action, so prepare and publish of one run are one owner and the lock dies
  with the run), its host, the time the run took the lock, the process start time from
  ``/proc/<pid>/stat`` and the boot ID (so a reused PID or a reboot is not mistaken for the
  owner), and the worker process of the latest step (a worker left running by a killed
  ``ansible-playbook`` still counts as the run).
* ``fcntl.flock`` on the file only makes read-check-write atomic; the lock itself is the content.
  A live owner on this host: wait, polling, up to ``timeout`` seconds, then fail naming it. A
  dead owner: the lock is stale and is taken over. An owner on another host (a shared file
  system) cannot be checked, so it always counts as live.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional, Union

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import DEFAULT_DIR_MODE, make_dirs

DEFAULT_LOCK_TIMEOUT = 600.0
POLL_INTERVAL = 1.0
_LOCK_MODE = 0o600


class RunLockError(NautobotBackupError):
    """The run lock file is unusable (a symlink, another user's file, not a regular file)."""


class RunLockBusyError(RunLockError):
    """Another live run still held the checkout after the lock timeout."""

    def __init__(self, message: str, holder: Holder) -> None:
        self.holder = holder
        super().__init__(message)


def lock_path(repo_dir: Union[str, Path]) -> Path:
    """The run lock file of a checkout: ``.<name>.lock`` in the directory that holds it."""
    path = Path(os.path.abspath(os.fspath(repo_dir)))
    return path.parent / f".{path.name}.lock"


def process_start(pid: int) -> Optional[str]:
    """The start time of process pid (clock ticks since boot, /proc/<pid>/stat field 22), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stream:
            data = stream.read()
    except OSError:
        return None
    fields = data.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def boot_id() -> str:
    """This boot's ID (Linux), or an empty string; PIDs of an earlier boot mean nothing."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _exists(pid: Optional[int], start: Optional[str]) -> bool:
    """Tell whether process pid runs and is the same process as when start was recorded."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    if start is None:
        return True
    current = process_start(pid)
    return current is None or current == start


@dataclass(frozen=True)
class Holder:
    """Who holds a checkout: the run's process, its host and start, and the worker of its latest step."""

    pid: int
    host: str
    started: str
    pid_start: Optional[str] = None
    boot: str = ""
    worker_pid: Optional[int] = None
    worker_start: Optional[str] = None

    def describe(self) -> str:
        """``pid N on host H, started T``, for messages."""
        return f"pid {self.pid} on host {self.host}, started {self.started}"

    def same_run(self, other: Holder) -> bool:
        """Tell whether other is the same run (same process on the same host and boot)."""
        return (self.pid, self.host, self.pid_start, self.boot) == (other.pid, other.host, other.pid_start, other.boot)

    def alive(self) -> bool:
        """Tell whether the run still exists; a run on another host always counts as alive."""
        if self.host != socket.gethostname():
            return True
        if self.boot and self.boot != boot_id():
            return False
        return _exists(self.pid, self.pid_start) or _exists(self.worker_pid, self.worker_start)

    def to_json(self) -> str:
        """The lock file's content."""
        return json.dumps(asdict(self), sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Optional[Holder]:
        """Parse a lock file's content; None when it is empty or not a lock of this collection."""
        try:
            data: Dict[str, Any] = json.loads(text)
            return cls(
                pid=int(data["pid"]),
                host=str(data["host"]),
                started=str(data["started"]),
                pid_start=None if data.get("pid_start") is None else str(data["pid_start"]),
                boot=str(data.get("boot") or ""),
                worker_pid=None if data.get("worker_pid") is None else int(data["worker_pid"]),
                worker_start=None if data.get("worker_start") is None else str(data["worker_start"]),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def current_holder(owner_pid: Optional[int] = None) -> Holder:
    """The Holder describing this run: owner_pid (default this process) and this worker process."""
    pid = owner_pid or os.getpid()
    return Holder(
        pid=pid,
        host=socket.gethostname(),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        pid_start=process_start(pid),
        boot=boot_id(),
        worker_pid=os.getpid(),
        worker_start=process_start(os.getpid()),
    )


@dataclass
class Acquired:
    """What taking the lock took: seconds waited, the run waited for, the stale lock taken over."""

    waited: float = 0.0
    waited_for: Optional[Holder] = None
    stale: Optional[Holder] = None
    reentered: bool = False


class RunLock:
    """The run lock of one checkout, for the run whose process is owner_pid.

    timeout: seconds to wait for another live run; sleep/clock: injectable for tests;
    dir_mode: mode of the lock file's directory when it has to be created.
    """

    def __init__(
        self,
        repo_dir: Union[str, Path],
        owner_pid: Optional[int] = None,
        timeout: float = DEFAULT_LOCK_TIMEOUT,
        dir_mode: int = DEFAULT_DIR_MODE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout < 0:
            raise RunLockError("lock_timeout must be 0 or more seconds")
        self.repo_dir = Path(os.path.abspath(os.fspath(repo_dir)))
        self.path = lock_path(self.repo_dir)
        self.me = current_holder(owner_pid)
        self.timeout = timeout
        self.dir_mode = dir_mode
        self._sleep = sleep
        self._clock = clock
        self.held = False

    @contextmanager
    def _locked_file(self, create: bool) -> Iterator[Optional[int]]:
        """Open the lock file (no symlink, ours, regular) and hold flock on it; None when absent and not create.

        Retries when the file was replaced or removed between open and flock, so the content read
        is always that of the file at the path.
        """
        flags = os.O_RDWR | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | (os.O_CREAT if create else 0)
        while True:
            try:
                fd = os.open(self.path, flags, _LOCK_MODE)
            except FileNotFoundError:
                if create:
                    raise
                yield None
                return
            except OSError as exc:
                raise RunLockError(
                    f"cannot open the run lock {self.path}: {exc.strerror} (it must be a regular file, not a "
                    "symlink; remove it if no run is using the checkout)"
                ) from exc
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
                    raise RunLockError(
                        f"the run lock {self.path} is not a regular file of the current user; refusing to use it "
                        "(remove it if no run is using the checkout)"
                    )
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    now = os.stat(self.path, follow_symlinks=False)
                except FileNotFoundError:
                    continue  # released and removed while we waited for flock: open again
                if (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
                    continue
                if stat.S_IMODE(info.st_mode) != _LOCK_MODE:
                    os.fchmod(fd, _LOCK_MODE)
                yield fd
                return
            finally:
                os.close(fd)

    @staticmethod
    def _read(fd: int) -> Optional[Holder]:
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        return Holder.from_json(b"".join(chunks).decode("utf-8", errors="replace"))

    @staticmethod
    def _write(fd: int, holder: Holder) -> None:
        data = holder.to_json().encode("utf-8")
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)
        os.fsync(fd)

    def acquire(self) -> Acquired:
        """Take the lock for this run, waiting up to timeout for another live run; return what it took.

        Re-entrant for the same run (prepare then publish). Raises RunLockBusyError naming the other
        run when it still holds the checkout after timeout seconds.
        """
        make_dirs(self.path.parent, self.dir_mode)
        outcome = Acquired()
        start = self._clock()
        while True:
            with self._locked_file(create=True) as fd:
                if fd is None:  # create=True always yields a descriptor
                    raise RunLockError(f"cannot open the run lock {self.path}")
                holder = self._read(fd)
                if holder is None or holder.same_run(self.me) or not holder.alive():
                    if holder is not None and holder.same_run(self.me):
                        outcome.reentered = True
                        mine = replace(self.me, started=holder.started)
                    else:
                        outcome.stale = holder
                        mine = self.me
                    self._write(fd, mine)
                    self.held = True
                    outcome.waited = self._clock() - start if outcome.waited_for else 0.0
                    return outcome
            outcome.waited_for = holder
            remaining = self.timeout - (self._clock() - start)
            if remaining <= 0:
                raise RunLockBusyError(self._busy_message(holder), holder)
            self._sleep(min(POLL_INTERVAL, remaining))

    def _busy_message(self, holder: Holder) -> str:
        other_host = holder.host != self.me.host
        return (
            f"another run is using the checkout {self.repo_dir}: {holder.describe()} (lock file {self.path}). "
            f"Waited {self.timeout:g} s (lock_timeout / backup_lock_timeout). Let that run finish, or raise the "
            "timeout; "
            + (
                "it runs on another host, so its liveness cannot be checked: if it no longer exists, remove the lock "
                "file."
                if other_host
                else "if no such run exists any more, remove the lock file."
            )
        )

    def release(self) -> bool:
        """Remove the lock if this run holds it; return whether it did. Another run's lock is never touched."""
        self.held = False
        with self._locked_file(create=False) as fd:
            if fd is None:
                return False
            holder = self._read(fd)
            if holder is None or not holder.same_run(self.me):
                return False
            os.unlink(self.path)
            return True
