# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write backup files atomically and privately, and report ``changed`` only when the content changed.

Like community.crypto: write a temporary file in the target's directory, fsync it, then
``os.replace`` it over the target, so a reader (or Git) never sees half a file and a
failed run never leaves a truncated one. Like ansible.netcommon's ``cli_backup``,
``changed`` compares content, not timestamps.

Backups hold secrets unless sanitize is on, so every file written here gets an explicit mode
(default 0600) and every directory created for one the matching directory mode (0700),
whatever the process umask. ``file_modes`` is the one place that turns the documented
``file_mode`` input (for example ``"0640"`` for group read) into those two modes.

A process that is being stopped (a cancelled run) calls ``abandoned_temp_files`` so that no
temporary file of its writes stays behind in the checkout: every temporary file in flight is
tracked from its creation to its rename.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Set, Tuple, Union

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError

PathLike = Union[str, Path]

DEFAULT_FILE_MODE = 0o600
DEFAULT_DIR_MODE = 0o700
# Read and write for the owner and, when asked, the group; never for other users, never execute.
_ALLOWED_FILE_BITS = 0o660
# The temporary files this process has in flight (created, not yet renamed or removed), and the
# lock that makes creating, renaming and abandoning one atomic with respect to each other.
_temp_lock = threading.RLock()
_temp_files: Set[str] = set()
_TEMP_ATTEMPTS = 100


class FileModeError(NautobotBackupError):
    """The file_mode input is not an allowed mode."""


def file_modes(mode: Union[str, int, None] = None) -> Tuple[int, int]:
    """Return (file mode, directory mode) for the ``file_mode`` input (None: 0600 / 0700).

    The input is an octal string (``"0600"``, ``"0640"``, ``"640"``) or an int. It must give the
    owner read and write and may add group read/write; bits for other users, execute bits and
    special bits are refused. Directories get the owner's rwx plus x wherever the group may read.
    """
    if mode is None or mode == "":
        return DEFAULT_FILE_MODE, DEFAULT_DIR_MODE
    if isinstance(mode, bool):
        raise FileModeError(f"file_mode must be an octal mode such as '0600' or '0640', got {mode!r}")
    if isinstance(mode, int):
        value = mode
    else:
        text = str(mode).strip()
        try:
            value = int(text[2:] if text.lower().startswith("0o") else text, 8)
        except ValueError:
            raise FileModeError(f"file_mode must be an octal mode such as '0600' or '0640', got {mode!r}") from None
    if value & ~_ALLOWED_FILE_BITS or value & 0o600 != 0o600:
        raise FileModeError(
            f"file_mode {value:04o} is not allowed: backups may be readable by their owner and, at most, "
            "the owner's group (0600, 0640 or 0660); never by other users"
        )
    directory = 0o700 | (value & 0o060) | (0o010 if value & 0o040 else 0)
    return value, directory


def read_text(path: PathLike) -> Optional[str]:
    """Return the file's text, or None when it does not exist."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def make_dirs(path: PathLike, dir_mode: int = DEFAULT_DIR_MODE, root: Optional[PathLike] = None) -> None:
    """Create path and its missing parents with dir_mode (set explicitly: the umask does not apply).

    With root (the checkout), the directories below root that already exist on the way to path get
    dir_mode too, so a changed file_mode reaches directories made by an earlier run; nothing outside
    root is ever changed.
    """
    if root is not None:
        _fix_dir_modes(Path(path), Path(root), dir_mode)
    target = Path(path)
    missing = []
    while not target.exists():
        missing.append(target)
        if target.parent == target:
            break
        target = target.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=dir_mode)
        except FileExistsError:
            continue
        os.chmod(directory, dir_mode)


def write_if_changed(
    path: PathLike,
    content: str,
    check_mode: bool = False,
    mode: int = DEFAULT_FILE_MODE,
    dir_mode: Optional[int] = None,
    root: Optional[PathLike] = None,
) -> bool:
    """Atomically replace path with content unless it already holds exactly that; return changed.

    The file gets ``mode`` and new directories ``dir_mode`` (default: the directory mode that goes
    with ``mode``; with ``root``, existing directories below root get it too). A file that already
    holds the content but has another mode only gets its mode fixed (not reported as changed). In
    check mode nothing is written and the return value says whether it would change.
    """
    target = Path(path)
    data = content.encode("utf-8")
    directories = dir_mode if dir_mode is not None else file_modes(mode)[1]
    try:
        if target.read_bytes() == data:
            if not check_mode:
                _fix_mode(target, mode)
                if root is not None:
                    _fix_dir_modes(target.parent, Path(root), directories)
            return False
    except FileNotFoundError:
        pass
    if check_mode:
        return True
    make_dirs(target.parent, directories, root)
    handle, temp_name = _create_temp(target)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fchmod(temp.fileno(), mode)
            os.fsync(temp.fileno())
        with _temp_lock:
            os.replace(temp_name, target)
            _temp_files.discard(temp_name)
    except BaseException:
        with _temp_lock:
            Path(temp_name).unlink(missing_ok=True)
            _temp_files.discard(temp_name)
        raise
    return True


def _create_temp(target: Path) -> Tuple[int, str]:
    """Create ``.<name>.<random>.tmp`` beside target (0600, never through a symlink) and track it.

    Like tempfile.mkstemp, but the name is tracked under the same lock as its creation, so a
    stopping process (abandoned_temp_files) sees every temporary file that exists.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _attempt in range(_TEMP_ATTEMPTS):
        name = str(target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp")
        with _temp_lock:
            try:
                handle = os.open(name, flags, 0o600)
            except FileExistsError:
                continue
            _temp_files.add(name)
        return handle, name
    raise FileExistsError(f"no free temporary file name beside {target.name} after {_TEMP_ATTEMPTS} attempts")


def temp_files_in_flight() -> List[str]:
    """The temporary files this process has created and not yet renamed or removed."""
    with _temp_lock:
        return sorted(_temp_files)


@contextmanager
def abandoned_temp_files(timeout: float = 2.0) -> Iterator[List[str]]:
    """Remove this process's temporary files in flight; no write creates or renames one until the block ends.

    For a process that is being stopped: it runs its last step (exit, or the previous signal
    handler) inside the block, so no thread can leave a new temporary file behind meanwhile. Yields
    the removed paths. Waits at most ``timeout`` seconds for a writer that holds the lock (a
    filesystem call in progress), then removes what it knows anyway.
    """
    locked = _temp_lock.acquire(timeout=timeout)
    try:
        removed: List[str] = []
        for name in sorted(_temp_files):
            try:
                os.unlink(name)
                removed.append(name)
            except FileNotFoundError:
                pass
            except OSError:
                continue
            _temp_files.discard(name)
        yield removed
    finally:
        if locked:
            _temp_lock.release()


def _forget_temp_files_in_child() -> None:
    """After fork: the parent's temporary files are not the child's, and a lock held by another thread is gone."""
    global _temp_lock
    _temp_lock = threading.RLock()
    _temp_files.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_temp_files_in_child)


def _fix_dir_modes(path: Path, root: Path, dir_mode: int) -> None:
    """Give the existing directories strictly below root on the way to path (path included) dir_mode."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        return
    current = root
    for part in relative.parts:
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(info.st_mode):
            return
        if stat.S_IMODE(info.st_mode) != dir_mode:
            os.chmod(current, dir_mode)


def _fix_mode(path: Path, mode: int) -> None:
    """Give an existing regular file (not a symlink) mode, when it has another one."""
    try:
        current = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISREG(current.st_mode) and stat.S_IMODE(current.st_mode) != mode:
        os.chmod(path, mode)


@contextmanager
def private_umask(dir_mode: int = DEFAULT_DIR_MODE) -> Iterator[None]:
    """Set the process umask so new files and directories get at most dir_mode's bits; restore it on exit.

    The umask is process-wide: use this only around single-threaded steps that start other programs
    (git), never around the backup's thread pool.
    """
    previous = os.umask(0o777 & ~dir_mode)
    try:
        yield
    finally:
        os.umask(previous)
