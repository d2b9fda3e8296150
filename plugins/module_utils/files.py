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
"""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Tuple, Union

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError

PathLike = Union[str, Path]

DEFAULT_FILE_MODE = 0o600
DEFAULT_DIR_MODE = 0o700
# Read and write for the owner and, when asked, the group; never for other users, never execute.
_ALLOWED_FILE_BITS = 0o660


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


def make_dirs(path: PathLike, dir_mode: int = DEFAULT_DIR_MODE) -> None:
    """Create path and its missing parents with dir_mode (set explicitly: the umask does not apply)."""
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
) -> bool:
    """Atomically replace path with content unless it already holds exactly that; return changed.

    The file gets ``mode`` and new directories ``dir_mode`` (default: the directory mode that goes
    with ``mode``). A file that already holds the content but has another mode only gets its mode
    fixed (not reported as changed). In check mode nothing is written and the return value says
    whether it would change.
    """
    target = Path(path)
    data = content.encode("utf-8")
    try:
        if target.read_bytes() == data:
            if not check_mode:
                _fix_mode(target, mode)
            return False
    except FileNotFoundError:
        pass
    if check_mode:
        return True
    make_dirs(target.parent, dir_mode if dir_mode is not None else file_modes(mode)[1])
    # mkstemp creates the file 0600, so it is never readable by others, even for a moment.
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fchmod(temp.fileno(), mode)
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return True


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
