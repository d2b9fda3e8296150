# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the backup status back to Nautobot: up to six custom fields on every device a run tried.

The statuses (each written into a dcim.device custom field, each key can be changed or turned off):

==================== ==================================================================================
last_backup          the run's date, on devices whose backup is durable (backed up and pushed)
last_backup_attempt  the run's date, on every device the run tried
last_backup_status   ``ok`` (durable) or ``failed``
last_backup_error    ``<class>: <message>`` (first line, bounded), empty (null) when ok; class ``push``
                     for a device backed up whose backup did not reach the remote
config_unsaved       running differs from startup (the backup's drift check); null when startup was not read
last_config_change   the run's date, on durable devices whose configuration changed in this run
==================== ==================================================================================

The steps, each a small function so they can be tested alone:

1. ``status_mapping``: status name -> custom field key, from the defaults and the caller's changes.
2. ``check_status_fields``: every mapped field must exist on ``dcim.device`` with a type its value fits
   (dates: ``date`` gets ``YYYY-MM-DD``, ``text``/``markdown`` ISO 8601; the status: ``select`` with the
   choices ``ok`` and ``failed``, or ``text``; the error: ``text``/``markdown``; unsaved: ``boolean``).
   Nautobot silently ignores unknown keys in a PATCH, so without this check a typo would "succeed" forever.
3. ``plan_devices``: each device's wanted values (``device_status``); devices without a usable id are set aside.
4. ``read_current_values``: current values are read with GraphQL, ``READ_BATCH_SIZE`` (500) devices per query
   or ``batch_size`` when larger, and only the values that
   differ are sent, so a rerun on the same day writes nothing.
5. ``write_values``: bulk PATCH ``/api/dcim/devices/`` in batches, each device with only its changed keys, up to
   ``concurrency`` batches at a time (a bounded thread pool; the outcome is the sequential one, batch by batch). A
   failed batch is recorded with its device names and the other batches still go.

``update_backup_status`` chains them and never raises for a Nautobot failure: by the time it runs the
backup is already pushed (or its push failed), so a write-back problem is reported in
``TimestampUpdateStatus.errors`` instead of failing the run. ``validate`` (the pre-flight check run before
any device is contacted) raises instead.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar

from ansible_collections.netops.nautobot_backup.plugins.module_utils.clock import run_instant
from ansible_collections.netops.nautobot_backup.plugins.module_utils.custom_fields import read_existing
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import TimestampUpdateStatus
from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import NautobotAPIError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import PathTemplateError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.report import bounded

DEVICE_CONTENT_TYPE = "dcim.device"
DEVICES_PATH = "/api/dcim/devices/"
DEFAULT_CUSTOM_FIELD = "last_backup"
DEFAULT_BATCH_SIZE = 50
# Devices per GraphQL read of the current values, at least: a read is cheap where a write is not. 2,000 devices of
# the bench Nautobot read in 0.42-1.30 s at 500 per query, 4.13-4.25 s at 50 (docs/docsite/rst/performance.rst).
READ_BATCH_SIZE = 500
# Bulk PATCH requests in flight at once (benchmarks/writeback_throughput.py; docs/docsite/rst/writeback.rst).
DEFAULT_CONCURRENCY = 1
MAX_CONCURRENCY = 8
CREATE_HINT = (
    "create the fields with playbooks/create_status_fields.yml (netops.nautobot_backup.create_status_fields), "
    "or turn an entry off in status_fields (backup_status_fields)"
)

# Status name -> the custom field types its value can be written into (the first is the one
# playbooks/vars/status_fields.yml creates).
DATE_TYPES = ("date", "text", "markdown")
STATUS_FIELD_TYPES: Dict[str, Tuple[str, ...]] = {
    "last_backup": DATE_TYPES,
    "last_backup_attempt": DATE_TYPES,
    "last_backup_status": ("select", "text"),
    "last_backup_error": ("text", "markdown"),
    "config_unsaved": ("boolean",),
    "last_config_change": DATE_TYPES,
}
STATUS_NAMES = tuple(STATUS_FIELD_TYPES)
STATUS_OK = "ok"
STATUS_FAILED = "failed"
PUSH_CLASS = "push"
ERROR_MAX_CHARS = 200

# Date field type -> how the run's time is written into it.
VALUE_FORMATS = {"date": "date", "text": "iso", "markdown": "iso"}

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_NAMES_SHOWN = 20


class _RunDate:
    """Stands for the run's date in a device's wanted values, until the field's type says how to write it."""

    def __repr__(self) -> str:
        return "RUN_DATE"


RUN_DATE = _RunDate()

CURRENT_VALUES_QUERY = """
query BackupWritebackCurrent($ids: [String]) {
  devices(id: $ids) { id name _custom_field_data }
}
"""

T = TypeVar("T")


class WritebackError(NautobotBackupError):
    """The write-back cannot run: bad arguments, or a custom field is missing or of the wrong type."""


@dataclass(frozen=True)
class CustomFieldInfo:
    """A Nautobot custom field as far as the write-back cares."""

    key: str
    type: str
    label: str = ""
    content_types: Tuple[str, ...] = ()
    choices: Tuple[str, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        """Return the field for module results."""
        return {"key": self.key, "type": self.type, "label": self.label}


@dataclass
class Target:
    """One device to write: its Nautobot id, a name for messages and its wanted values by status name."""

    device_id: str
    name: str
    values: Dict[str, Any] = field(default_factory=dict)
    files: Tuple[str, ...] = ()


@dataclass
class Selection:
    """The devices to write, the ones not durable (no last_backup), the ones without a usable id."""

    targets: List[Target] = field(default_factory=list)
    not_durable: List[str] = field(default_factory=list)
    without_id: List[str] = field(default_factory=list)


@dataclass
class WriteOutcome:
    """What the PATCH batches did."""

    updated: List[str] = field(default_factory=list)
    failed: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    requests: int = 0
    values_written: Dict[str, int] = field(default_factory=dict)


@dataclass
class WritebackResult:
    """Everything the write-back reports (see the module's RETURN)."""

    status: TimestampUpdateStatus
    mapping: Dict[str, str] = field(default_factory=dict)
    fields: Dict[str, CustomFieldInfo] = field(default_factory=dict)
    value: Optional[str] = None
    updated_devices: List[str] = field(default_factory=list)
    skipped_devices: List[str] = field(default_factory=list)
    failed_devices: List[str] = field(default_factory=list)
    not_durable_devices: List[str] = field(default_factory=list)
    values_written: Dict[str, int] = field(default_factory=dict)
    patch_requests: int = 0
    check_mode: bool = False

    @property
    def changed(self) -> bool:
        """Something was (or, in check mode, would be) written."""
        return self.status.updated_count > 0

    def summary(self) -> str:
        """One line for the task's msg."""
        if not self.fields:
            text = "backup status not written"
        else:
            verb = "would write" if self.check_mode else "wrote"
            text = (
                f"{verb} the backup status of {self.status.updated_count} device(s)"
                f"{_counts(self.values_written, self.mapping)}; {len(self.skipped_devices)} already up to date; "
                f"{self.status.failed_count} failed"
            )
        errors = self.status.errors
        if errors:
            more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
            text += f": {errors[0]}{more}" if not self.fields else f"; {errors[0]}{more}"
        return text

    def to_dict(self) -> Dict[str, Any]:
        """Return the module result fields (without changed/failed/msg)."""
        last_backup = self.fields.get("last_backup")
        return {
            "timestamp_update_status": self.status.to_dict(),
            "status_fields": dict(self.mapping),
            "custom_field": last_backup.to_dict() if last_backup else None,
            "value": self.value,
            "updated_devices": list(self.updated_devices),
            "skipped_devices": list(self.skipped_devices),
            "failed_devices": list(self.failed_devices),
            "not_durable_devices": list(self.not_durable_devices),
            "values_written": {self.mapping.get(name, name): count for name, count in self.values_written.items()},
            "patch_requests": self.patch_requests,
        }


def _counts(values_written: Mapping[str, int], mapping: Mapping[str, str]) -> str:
    """`` (last_backup 3, last_backup_attempt 5)``: how many values of each field were (would be) written."""
    parts = [f"{mapping.get(name, name)} {count}" for name, count in values_written.items() if count]
    return f" ({', '.join(parts)})" if parts else ""


# ------------------------------------------------------------------------------ values
def parse_timestamp(value: Any, now: Optional[datetime] = None) -> datetime:
    """Return the run's time as an aware UTC datetime, to the second.

    value: None or "" (now), a datetime (naive ones are UTC), an ISO 8601 string (``2026-11-24T02:00:00Z``,
    ``2026-11-24T03:00:00+01:00``, ``2026-11-24``), a ``YYYYMMDD_HHMMSS`` stamp (UTC), or the stamp
    dict returned by ``backup_path`` (its ``timestamp``). Parsing is clock.run_instant's, so the
    write-back and the backup paths read a run's time the same way. Raise WritebackError otherwise.
    """
    if isinstance(value, Mapping):
        if not value.get("timestamp"):
            raise WritebackError(f"the timestamp dict {dict(value)!r} has no 'timestamp' key (YYYYMMDD_HHMMSS)")
        value = str(value["timestamp"])
    if value is None or value == "":
        instant = now or datetime.now(UTC)
    else:
        try:
            instant = run_instant(value, UTC)
        except PathTemplateError as exc:
            raise WritebackError(str(exc).replace("run timestamp", "timestamp")) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).replace(microsecond=0)


def value_format(custom_field: CustomFieldInfo) -> str:
    """Return ``date`` or ``iso`` for a field type a date can be written into; raise WritebackError otherwise."""
    kind = VALUE_FORMATS.get(custom_field.type)
    if kind is None:
        supported = ", ".join(sorted(VALUE_FORMATS))
        raise WritebackError(
            f"custom field '{custom_field.key}' has type '{custom_field.type}'; the backup date can only be written "
            f"into a field of type {supported}"
        )
    return kind


def format_value(field_type: str, instant: datetime) -> str:
    """Format the run's time for a custom field type: ``date`` -> YYYY-MM-DD, text -> ISO 8601 (UTC)."""
    kind = value_format(CustomFieldInfo(key="?", type=field_type))
    utc = instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)
    if kind == "date":
        return utc.strftime("%Y-%m-%d")
    return utc.replace(microsecond=0).isoformat()


def status_mapping(
    status_fields: Optional[Mapping[str, Any]] = None, custom_field: Optional[str] = None
) -> Dict[str, str]:
    """Return status name -> custom field key for the entries that are on.

    Every status is on, with its own name as key, by default; ``custom_field`` (the older option) renames
    ``last_backup``; ``status_fields`` renames entries, and an empty or null key turns one off.
    Raise WritebackError for an unknown status name, a key that is not a string, or two statuses on one key.
    """
    unknown = sorted(str(name) for name in (status_fields or {}) if name not in STATUS_FIELD_TYPES)
    if unknown:
        raise WritebackError(
            f"status_fields has unknown entr{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"the statuses are {', '.join(STATUS_NAMES)}"
        )
    wanted: Dict[str, Any] = {name: name for name in STATUS_NAMES}
    if custom_field:
        wanted["last_backup"] = custom_field
    wanted.update(status_fields or {})
    chosen: Dict[str, str] = {}
    for name, key in wanted.items():
        if key is None or key == "":
            continue
        if not isinstance(key, str) or not key.strip():
            raise WritebackError(f"status_fields.{name} must be a custom field key (a string) or empty, not {key!r}")
        chosen[name] = key.strip()
    owners: Dict[str, List[str]] = {}
    for name, key in chosen.items():
        owners.setdefault(key, []).append(name)
    shared = [f"'{key}' ({', '.join(names)})" for key, names in owners.items() if len(names) > 1]
    if shared:
        raise WritebackError(f"one custom field cannot hold two statuses: {'; '.join(shared)}")
    return chosen


def status_error(error_class: Any, message: Any) -> str:
    """``<class>: <message>`` for last_backup_error: the message's first line, no control characters, bounded.

    Device errors are scrubbed of secrets where they are made; only their first line is kept, so no
    configuration text a message might quote after it reaches Nautobot.
    """
    lines = str(message or "").strip().splitlines()
    first = _CONTROL.sub(" ", lines[0]).strip() if lines else ""
    text = f"{error_class or 'other'}: {first or 'no message'}"
    return bounded(text, ERROR_MAX_CHARS) or text


# ------------------------------------------------------------------------------ devices
def _name_of(device: Mapping[str, Any]) -> str:
    """A name for messages: device_name, else the id, else a placeholder."""
    return str(device.get("device_name") or device.get("device_id") or "(unnamed device)")


def is_backed_up(device: Mapping[str, Any]) -> bool:
    """The device's running config was backed up: running_config_success true and no error (as DeviceBackupInfo)."""
    return device.get("running_config_success") is True and not device.get("error")


def device_status(device: Mapping[str, Any], pushed: bool, push_error: Optional[str] = None) -> Dict[str, Any]:
    """The status values a device gets from this run, by status name (RUN_DATE stands for the run's date).

    Durable (backed up and pushed): last_backup, ok, no error, and last_config_change when its configuration
    changed. Backed up but not pushed: failed with class ``push``. Not backed up: failed with its own class.
    Every device gets last_backup_attempt and config_unsaved (null unless the backup read startup).
    """
    backed_up = is_backed_up(device)
    values: Dict[str, Any] = {"last_backup_attempt": RUN_DATE}
    if backed_up and pushed:
        values.update(last_backup=RUN_DATE, last_backup_status=STATUS_OK, last_backup_error=None)
        if device.get("changed") is True:
            values["last_config_change"] = RUN_DATE
    elif backed_up:
        reason = push_error or "the backup did not reach the Git remote"
        values.update(last_backup_status=STATUS_FAILED, last_backup_error=status_error(PUSH_CLASS, reason))
    else:
        reason = device.get("error") or "the running configuration was not backed up"
        values.update(
            last_backup_status=STATUS_FAILED, last_backup_error=status_error(device.get("error_class"), reason)
        )
    unsaved = device.get("unsaved_changes")
    values["config_unsaved"] = unsaved if backed_up and isinstance(unsaved, bool) else None
    return values


def plan_devices(
    devices: Iterable[Mapping[str, Any]],
    pushed: bool,
    push_error: Optional[str] = None,
    enabled: Optional[Iterable[str]] = None,
) -> Selection:
    """Each device's wanted values (device_status) of the enabled statuses (default: all).

    ``not_durable`` names the devices that do not get last_backup. A device with no enabled value to write is
    left out; one without a valid Nautobot id (a UUID) is set aside. Duplicate ids are written once.
    """
    selection = Selection()
    seen = set()
    wanted = set(STATUS_NAMES if enabled is None else enabled)
    for device in devices:
        name = _name_of(device)
        values = {key: value for key, value in device_status(device, pushed, push_error).items() if key in wanted}
        if "last_backup" not in values:
            selection.not_durable.append(name)
        if not values:
            continue
        device_id = str(device.get("device_id") or "").strip()
        if not _UUID_RE.match(device_id):
            selection.without_id.append(name)
            continue
        if device_id.lower() in seen:
            continue
        seen.add(device_id.lower())
        files = tuple(str(device[key]) for key in ("running_config_file", "startup_config_file") if device.get(key))
        selection.targets.append(Target(device_id=device_id, name=name, values=values, files=files))
    return selection


def batched(items: Sequence[T], size: int) -> Iterator[List[T]]:
    """Yield consecutive slices of at most size items."""
    if size < 1:
        raise WritebackError(f"batch_size must be at least 1, not {size}")
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def same_value(current: Any, wanted: Any) -> bool:
    """Nautobot already holds the value (an empty text and null are the same: both are "not set")."""
    if current in (None, "") and wanted in (None, ""):
        return True
    return current == wanted


def changes_for(
    target: Target, current: Mapping[str, Any], fields: Mapping[str, CustomFieldInfo], run: datetime
) -> Dict[str, Any]:
    """The custom field key -> value pairs of target that Nautobot does not hold yet (its enabled statuses only)."""
    changes: Dict[str, Any] = {}
    for name, value in target.values.items():
        info = fields.get(name)
        if info is None:
            continue
        if value is RUN_DATE:
            value = format_value(info.type, run)
        elif isinstance(value, datetime):
            value = format_value(info.type, value)
        if not same_value(current.get(info.key), value):
            changes[info.key] = value
    return changes


def names(targets: Iterable[Target]) -> List[str]:
    """The names of targets, in order."""
    return [target.name for target in targets]


def _shown(items: Sequence[str]) -> str:
    """A comma-separated list, cut after a few names."""
    text = ", ".join(items[:_NAMES_SHOWN])
    return text + (f" and {len(items) - _NAMES_SHOWN} more" if len(items) > _NAMES_SHOWN else "")


# ------------------------------------------------------------------------------ Nautobot
def device_custom_fields(client: Any) -> Dict[str, CustomFieldInfo]:
    """Return the custom fields of dcim.device by key, with their choices; raise NautobotAPIError on failure."""
    try:
        existing = read_existing(client)
    except NautobotAPIError as exc:
        hint = (
            " (the token needs view permission on extras.customfield and extras.customfieldchoice)"
            if exc.status in (401, 403)
            else ""
        )
        raise NautobotAPIError(
            f"cannot read the custom fields of {DEVICE_CONTENT_TYPE}{hint}: {exc}", exc.url, exc.status
        ) from exc
    return {
        key: CustomFieldInfo(
            key=key, type=found.type, label=found.label, content_types=found.content_types, choices=found.choices
        )
        for key, found in existing.items()
        if DEVICE_CONTENT_TYPE in found.content_types
    }


def _unfit(name: str, info: CustomFieldInfo) -> Optional[str]:
    """Why the field cannot hold the status (None when it can)."""
    types = STATUS_FIELD_TYPES[name]
    if info.type not in types:
        return f"'{info.key}' ({name}) is of type {info.type}; it must be {' or '.join(types)}"
    if info.type == "select":
        missing = [choice for choice in (STATUS_OK, STATUS_FAILED) if choice not in info.choices]
        if missing:
            return f"'{info.key}' ({name}) is a select without the choice(s) {', '.join(missing)}"
    return None


def check_status_fields(client: Any, mapping: Mapping[str, str]) -> Dict[str, CustomFieldInfo]:
    """Return status name -> its custom field; raise WritebackError naming every field missing or unfit.

    One error for all of them, so one fix (playbooks/create_status_fields.yml) makes the next run pass.
    """
    fields = device_custom_fields(client)
    missing = [f"'{key}' ({name})" if key != name else f"'{key}'" for name, key in mapping.items() if key not in fields]
    unfit = [
        reason for name, key in mapping.items() if key in fields for reason in [_unfit(name, fields[key])] if reason
    ]
    problems = []
    if missing:
        problems.append(
            f"custom field{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'do' if len(missing) > 1 else 'does'} not exist on {DEVICE_CONTENT_TYPE}"
        )
    if unfit:
        problems.append("; ".join(unfit))
    if problems:
        existing = ", ".join(f"{info.key} ({info.type})" for info in sorted(fields.values(), key=lambda f: f.key))
        raise WritebackError(
            f"{'; '.join(problems)} in Nautobot at {client.url}: {CREATE_HINT}. "
            f"Device custom fields: {existing or 'none'}"
        )
    return {name: fields[key] for name, key in mapping.items()}


def read_current_values(
    client: Any, targets: Sequence[Target], batch_size: int
) -> Tuple[Dict[str, Dict[str, Any]], List[Target], List[str]]:
    """Read the custom field data of every target with GraphQL, batch by batch.

    Return (lower-case id -> the device's custom field data, for devices found; targets whose read
    failed; error messages). A failed batch never stops the others.
    """
    current: Dict[str, Dict[str, Any]] = {}
    unread: List[Target] = []
    errors: List[str] = []
    for batch in batched(targets, batch_size):
        try:
            data = client.graphql(CURRENT_VALUES_QUERY, {"ids": [target.device_id for target in batch]})
            records = data.get("devices")
            if not isinstance(records, list):
                raise NautobotAPIError(f"Nautobot GraphQL at {client.url} returned no device list", client.url)
        except NautobotAPIError as exc:
            unread.extend(batch)
            errors.append(f"reading the current status of {_shown(names(batch))} failed: {exc}")
            continue
        for record in records:
            if isinstance(record, Mapping) and record.get("id"):
                data_fields = record.get("_custom_field_data")
                current[str(record["id"]).lower()] = dict(data_fields) if isinstance(data_fields, Mapping) else {}
    return current, unread, errors


def check_concurrency(concurrency: int) -> int:
    """Return concurrency if it is a number of requests in flight the write-back allows; raise WritebackError otherwise.

    At most MAX_CONCURRENCY: past a few requests a small Nautobot only queues them (each then nears the timeout),
    and requests' connection pool keeps 10 connections per host.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise WritebackError(f"concurrency must be from 1 to {MAX_CONCURRENCY}, not {concurrency!r}")
    return concurrency


def write_values(
    client: Any,
    changes: Sequence[Tuple[Target, Dict[str, Any]]],
    batch_size: int,
    concurrency: int = 1,
) -> WriteOutcome:
    """Bulk PATCH each target's changed fields, batch_size devices per request; record failed batches and go on.

    Up to ``concurrency`` requests are in flight at once (a thread pool of that size; the client's keep-alive
    session is shared). The outcome is merged in batch order, so it is the same as one request at a time.
    """
    check_concurrency(concurrency)
    batches = list(batched(changes, batch_size))
    if concurrency == 1 or len(batches) < 2:
        parts = [_write_batch(client, batch) for batch in batches]
    else:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(batches)), thread_name_prefix="writeback") as pool:
            parts = list(pool.map(partial(_write_batch, client), batches))
    outcome = WriteOutcome(requests=len(batches))
    for part in parts:
        outcome.updated.extend(part.updated)
        outcome.failed.extend(part.failed)
        outcome.errors.extend(part.errors)
    return outcome


def _write_batch(client: Any, batch: Sequence[Tuple[Target, Dict[str, Any]]]) -> WriteOutcome:
    """One bulk PATCH; a failed request fails its batch, never the others.

    Nautobot answers a bulk PATCH with the updated objects. A device missing from the answer (deleted
    meanwhile) or whose fields do not hold the values afterwards is a failure too.
    """
    outcome = WriteOutcome(requests=1)
    batch_names = [target.name for target, _values in batch]
    payload = [{"id": target.device_id, "custom_fields": values} for target, values in batch]
    try:
        answer = client.patch(DEVICES_PATH, payload)
    except NautobotAPIError as exc:
        outcome.failed.extend(batch_names)
        outcome.errors.append(f"writing the status of {_shown(batch_names)} failed: {exc}")
        return outcome
    applied = _applied(answer)
    wrong: List[str] = []
    for target, values in batch:
        held = applied.get(target.device_id.lower())
        if held is None or not all(same_value(held.get(key), value) for key, value in values.items()):
            wrong.append(target.name)
        else:
            outcome.updated.append(target.name)
    if wrong:
        outcome.failed.extend(wrong)
        outcome.errors.append(
            f"Nautobot at {client.url} did not apply the status of {_shown(wrong)} "
            "(device deleted, or a value was rejected)"
        )
    return outcome


def _applied(answer: Any) -> Dict[str, Dict[str, Any]]:
    """Lower-case id -> the device's custom fields, from a bulk PATCH answer (a list of devices)."""
    records = answer if isinstance(answer, list) else [answer]
    applied: Dict[str, Dict[str, Any]] = {}
    for record in records:
        if isinstance(record, Mapping) and record.get("id"):
            fields = record.get("custom_fields")
            applied[str(record["id"]).lower()] = dict(fields) if isinstance(fields, Mapping) else {}
    return applied


# ------------------------------------------------------------------------------ entry points
def check_write_permission(client: Any) -> None:
    """Raise NautobotAPIError unless the token may change devices.

    An empty bulk PATCH changes nothing and leaves no change-log entry, but Nautobot checks the
    change permission on dcim.device for it (HTTP 403 for a read-only or write-disabled token).
    """
    try:
        answer = client.patch(DEVICES_PATH, [])
    except NautobotAPIError as exc:
        hint = " (the token needs change permission on dcim.device)" if exc.status in (401, 403) else ""
        raise NautobotAPIError(
            f"an empty bulk update of {DEVICE_CONTENT_TYPE} failed{hint}: {exc}", exc.url, exc.status
        ) from exc
    if answer != []:
        raise NautobotAPIError(
            f"Nautobot at {client.api_url(DEVICES_PATH)} answered an empty bulk update with {str(answer)[:200]}",
            client.url,
        )


def validate(client: Any, mapping: Mapping[str, str]) -> Dict[str, CustomFieldInfo]:
    """Pre-flight check: Nautobot answers, every mapped field fits its status, devices can be changed.

    Raise NautobotAPIError (unreachable, token refused, read-only token, ...) or WritebackError
    (a missing field, a wrong type): the caller fails the task, before any device is contacted.
    Nothing is written (see check_write_permission).
    """
    fields = check_status_fields(client, mapping)
    check_write_permission(client)
    return fields


def update_backup_status(
    client: Any,
    devices: Sequence[Mapping[str, Any]],
    pushed: bool,
    mapping: Optional[Mapping[str, str]] = None,
    timestamp: Any = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    check_mode: bool = False,
    push_error: Optional[str] = None,
    change_dates: Optional[Callable[[List[str]], Mapping[str, str]]] = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> WritebackResult:
    """Write the status of every device the run tried (device_status); never raise for Nautobot failures.

    ``change_dates`` (paths -> ISO date of their last commit, git_repo.last_change_dates on the checkout) fills
    an empty ``last_config_change`` of a durable device whose configuration did not change in this run, from
    Git's history (the first run after the field was created).
    ``concurrency`` bulk PATCH requests are in flight at once (write_values).
    Argument errors (a bad timestamp, batch size or concurrency) raise WritebackError before anything is read.
    Every Nautobot failure (unreachable, token refused, missing field, failed batch) is recorded in
    the result's ``status.errors`` and its devices in ``failed_count``. In check mode nothing is
    written; ``updated_count`` counts the devices that would be.
    """
    instant = parse_timestamp(timestamp)
    if batch_size < 1:
        raise WritebackError(f"batch_size must be at least 1, not {batch_size}")
    check_concurrency(concurrency)
    mapping = dict(status_mapping() if mapping is None else mapping)
    selection = plan_devices(devices, pushed, push_error, mapping)
    status = TimestampUpdateStatus(enabled=True, custom_field_name=mapping.get("last_backup"))
    result = WritebackResult(
        status=status, mapping=mapping, not_durable_devices=list(selection.not_durable), check_mode=check_mode
    )
    if not pushed and selection.not_durable:
        status.errors.append(
            f"the backup was not published (pushed is false), so no device's backup is durable: "
            f"{len(selection.not_durable)} device(s) keep their previous {mapping.get('last_backup', 'last_backup')}"
            + (f" ({push_error})" if push_error else "")
        )
    if selection.without_id:
        result.failed_devices.extend(selection.without_id)
        status.errors.append(
            f"no Nautobot device id for {_shown(selection.without_id)}: their status cannot be written "
            "(give each device result a device_id)"
        )
    if selection.targets:
        _write(client, selection.targets, instant, batch_size, result, change_dates, concurrency)
    status.failed_count = len(result.failed_devices)
    status.updated_count = len(result.updated_devices)
    return result


def _write(
    client: Any,
    targets: List[Target],
    instant: datetime,
    batch_size: int,
    result: WritebackResult,
    change_dates: Optional[Callable[[List[str]], Mapping[str, str]]] = None,
    concurrency: int = 1,
) -> None:
    """Check the fields, read current values, then write what differs (unless check mode) into result."""
    status = result.status
    try:
        fields = check_status_fields(client, result.mapping)
    except (NautobotAPIError, WritebackError) as exc:
        result.failed_devices.extend(names(targets))
        status.errors.append(f"{exc} (nothing written for {len(targets)} device(s))")
        return
    result.fields = fields
    if "last_backup" in fields:
        result.value = format_value(fields["last_backup"].type, instant)
    current, unread, errors = read_current_values(client, targets, max(batch_size, READ_BATCH_SIZE))
    status.errors.extend(errors)
    result.failed_devices.extend(names(unread))
    if change_dates is not None and "last_config_change" in fields:
        _backfill_change_dates(targets, current, fields["last_config_change"].key, change_dates, status.errors)
    planned: List[Tuple[Target, Dict[str, Any]]] = []
    missing: List[Target] = []
    for target in targets:
        if target in unread:
            continue
        held = current.get(target.device_id.lower())
        if held is None:
            missing.append(target)
            continue
        changes = changes_for(target, held, fields, instant)
        if changes:
            planned.append((target, changes))
        else:
            result.skipped_devices.append(target.name)
    if missing:
        result.failed_devices.extend(names(missing))
        status.errors.append(f"not found in Nautobot at {client.url} (deleted?): {_shown(names(missing))}")
    if result.check_mode:
        result.updated_devices.extend(target.name for target, _changes in planned)
        result.values_written = _tally(planned, fields)
        return
    outcome = write_values(client, planned, batch_size, concurrency)
    result.updated_devices.extend(outcome.updated)
    result.failed_devices.extend(outcome.failed)
    result.patch_requests = outcome.requests
    done = set(outcome.updated)
    result.values_written = _tally([item for item in planned if item[0].name in done], fields)
    status.errors.extend(outcome.errors)


def _backfill_change_dates(
    targets: Sequence[Target],
    current: Mapping[str, Mapping[str, Any]],
    key: str,
    change_dates: Callable[[List[str]], Mapping[str, str]],
    errors: List[str],
) -> None:
    """Give last_config_change, from Git's history, to durable unchanged devices whose field is still empty.

    A failure to read the history is one entry in errors; those devices keep an empty field until they change.
    """
    empty = [
        target
        for target in targets
        if "last_backup" in target.values
        and "last_config_change" not in target.values
        and target.files
        and not (current.get(target.device_id.lower()) or {}).get(key)
    ]
    if not empty:
        return
    try:
        dates = change_dates(sorted({path for target in empty for path in target.files}))
        for target in empty:
            found = [parse_timestamp(dates[path]) for path in target.files if dates.get(path)]
            if found:
                target.values["last_config_change"] = max(found)
    except NautobotBackupError as exc:
        errors.append(f"last_config_change of {len(empty)} device(s) could not be read from Git: {exc}")


def _tally(planned: Sequence[Tuple[Target, Dict[str, Any]]], fields: Mapping[str, CustomFieldInfo]) -> Dict[str, int]:
    """Status name -> how many devices got (would get) a new value of it."""
    by_key = {info.key: name for name, info in fields.items()}
    counts: Dict[str, int] = {name: 0 for name in fields}
    for _target, changes in planned:
        for key in changes:
            counts[by_key[key]] += 1
    return counts
