# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write backup files atomically, and report ``changed`` only when the content changed.

Like community.crypto: write a temporary file in the target's directory, fsync it, then
``os.replace`` it over the target, so a reader (or Git) never sees half a file and a
failed run never leaves a truncated one. Like ansible.netcommon's ``cli_backup``,
``changed`` compares content, not timestamps.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional, Union

PathLike = Union[str, Path]


def read_text(path: PathLike) -> Optional[str]:
    """Return the file's text, or None when it does not exist."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def write_if_changed(path: PathLike, content: str, check_mode: bool = False) -> bool:
    """Atomically replace path with content unless it already holds exactly that; return changed.

    In check mode nothing is written and the return value says whether it would change.
    """
    target = Path(path)
    data = content.encode("utf-8")
    try:
        if target.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    if check_mode:
        return True
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, 0o666 & ~_UMASK)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return True


def _read_umask() -> int:
    """Return the process umask. Reading it means setting it, so this runs once, at import."""
    current = os.umask(0o022)
    os.umask(current)
    return current


# Read once while the importing process is single-threaded: changing the umask at write
# time would race with other threads writing files.
_UMASK = _read_umask()
