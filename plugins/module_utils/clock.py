# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run clock: one instant per run, read the same way by every step that needs the run's time.

``run_stamp`` turns that instant into the ``{date}`` / ``{timestamp}`` values of the backup paths
(``paths.render_path``), the commit message and the reports; ``run_instant`` gives the write-back
the same instant as a datetime. A playbook computes the stamp once and hands it to every device,
so every device of a run gets the same date and time, even across midnight.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import Any, Dict, Mapping, Union

from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import PathTemplateError

DATE_FORMAT = "%Y%m%d"
TIMESTAMP_FORMAT = "%Y%m%d_%H%M%S"

_DATE_RE = re.compile(r"^\d{8}$")
_TIMESTAMP_RE = re.compile(r"^\d{8}_\d{6}$")


def run_instant(now: Union[None, str, datetime], tz: tzinfo = UTC) -> datetime:
    """Return the run's time as an aware datetime in tz (naive datetimes are taken to be in tz already).

    now: None (the current time), a datetime, an ISO 8601 string or a ``YYYYMMDD_HHMMSS`` stamp.
    Shared by every step that needs the run's time (paths, commit messages, Nautobot write-back).
    """
    if now is None:
        return datetime.now(tz)
    if isinstance(now, str):
        text = now.strip()
        try:
            if _TIMESTAMP_RE.match(text):
                parsed = datetime.strptime(text, TIMESTAMP_FORMAT)
            else:
                parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise PathTemplateError(
                f"the run timestamp {now!r} is neither ISO 8601 (2024-05-01T23:30:00Z) nor YYYYMMDD_HHMMSS",
                placeholder="{timestamp}",
            ) from None
        now = parsed
    if not isinstance(now, datetime):
        raise PathTemplateError(
            f"the run timestamp must be a datetime or a string, not {type(now).__name__}", placeholder="{timestamp}"
        )
    return now.astimezone(tz) if now.tzinfo is not None else now.replace(tzinfo=tz)


def run_stamp(now: Union[None, str, datetime] = None, tz: tzinfo = UTC) -> Dict[str, str]:
    """Return the run's ``{"date": "YYYYMMDD", "timestamp": "YYYYMMDD_HHMMSS"}`` from ONE instant.

    now: None (the current time), a datetime, or an ISO 8601 string (``2024-05-01T23:30:00Z``,
    ``2024-05-01``, ``20240501T233000+0200`` ...) or a ``YYYYMMDD_HHMMSS`` stamp, so a playbook
    can compute it once and hand it to every device. Aware times are converted to tz (UTC by
    default); naive ones are taken as already in tz. Compute it once per run: every device of
    the run then gets the same ``{date}`` and ``{timestamp}``, even across midnight.
    """
    instant = run_instant(now, tz)
    return {"date": instant.strftime(DATE_FORMAT), "timestamp": instant.strftime(TIMESTAMP_FORMAT)}


def as_stamp(value: Union[None, str, datetime, Mapping[str, Any]], tz: tzinfo = UTC) -> Dict[str, str]:
    """Return a run stamp from None, a datetime, a string (see run_stamp) or a stamp dict.

    A dict is a stamp returned earlier (``{"date": ..., "timestamp": ...}``, e.g. registered
    from a run_once task); it is checked, and ``date`` is derived when only ``timestamp`` is set.
    """
    if not isinstance(value, Mapping):
        return run_stamp(value, tz)
    timestamp = str(value.get("timestamp") or "")
    date = str(value.get("date") or timestamp[:8])
    if not _TIMESTAMP_RE.match(timestamp) or not _DATE_RE.match(date) or date != timestamp[:8]:
        raise PathTemplateError(
            f"the run stamp {dict(value)!r} must hold timestamp YYYYMMDD_HHMMSS and the matching date YYYYMMDD",
            placeholder="{timestamp}",
        )
    return {"date": date, "timestamp": timestamp}
