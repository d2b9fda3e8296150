# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the backup date back to Nautobot: one custom field on every durably backed-up device.

The steps, each a small function so they can be tested alone:

1. ``check_custom_field``: the field must exist on ``dcim.device`` with a type we can write
   (``date`` gets ``YYYY-MM-DD``; ``text`` and ``markdown`` get ISO 8601). Nautobot silently
   ignores unknown keys in a PATCH, so without this check a typo would "succeed" forever.
2. ``durable_devices``: only devices whose running configuration was backed up (no error)
   AND whose backup reached the remote (``pushed``) are stamped.
3. ``read_current_values``: current values are read in batches with GraphQL, and devices
   that already hold the new value are skipped, so a rerun on the same day writes nothing.
4. ``write_values``: bulk PATCH ``/api/dcim/devices/`` in batches. A failed batch is recorded
   with its device names and the other batches still go.

``update_backup_timestamps`` chains them and never raises for a Nautobot failure: by the time
it runs the backup is already pushed, so a write-back problem is reported in
``TimestampUpdateStatus.errors`` instead of failing the run. ``validate`` (the pre-flight
check run before any device is contacted) raises instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar

from ansible_collections.netops.nautobot_backup.plugins.module_utils.clock import run_instant
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import TimestampUpdateStatus
from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import NautobotAPIError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import PathTemplateError

DEVICE_CONTENT_TYPE = "dcim.device"
DEVICES_PATH = "/api/dcim/devices/"
CUSTOM_FIELDS_PATH = "/api/extras/custom-fields/"
DEFAULT_CUSTOM_FIELD = "last_backup"
DEFAULT_BATCH_SIZE = 200

# Custom field type -> how the run's time is written into it.
VALUE_FORMATS = {"date": "date", "text": "iso", "markdown": "iso"}

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_NAMES_SHOWN = 20

CURRENT_VALUES_QUERY = """
query BackupWritebackCurrent($ids: [String]) {
  devices(id: $ids) { id name _custom_field_data }
}
"""

T = TypeVar("T")


class WritebackError(NautobotBackupError):
    """The write-back cannot run: bad arguments, or the custom field is missing or of the wrong type."""


@dataclass(frozen=True)
class CustomFieldInfo:
    """A Nautobot custom field as far as the write-back cares."""

    key: str
    type: str
    label: str = ""
    content_types: Tuple[str, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        """Return the field for module results."""
        return {"key": self.key, "type": self.type, "label": self.label}


@dataclass(frozen=True)
class Target:
    """One device to stamp: its Nautobot id and a name for messages."""

    device_id: str
    name: str


@dataclass
class Selection:
    """Devices split by durability: the ones to stamp, the ones not durable, the ones without a usable id."""

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


@dataclass
class WritebackResult:
    """Everything the write-back reports (see the module's RETURN)."""

    status: TimestampUpdateStatus
    custom_field: Optional[CustomFieldInfo] = None
    value: Optional[str] = None
    updated_devices: List[str] = field(default_factory=list)
    skipped_devices: List[str] = field(default_factory=list)
    failed_devices: List[str] = field(default_factory=list)
    not_durable_devices: List[str] = field(default_factory=list)
    patch_requests: int = 0
    check_mode: bool = False

    @property
    def changed(self) -> bool:
        """Something was (or, in check mode, would be) written."""
        return self.status.updated_count > 0

    def summary(self) -> str:
        """One line for the task's msg."""
        key = self.status.custom_field_name
        if self.value is None:
            text = f"{key} not written"
        else:
            verb = "would set" if self.check_mode else "set"
            text = (
                f"{verb} {key}={self.value} on {self.status.updated_count} device(s); "
                f"{len(self.skipped_devices)} already up to date; {self.status.failed_count} failed"
            )
        errors = self.status.errors
        if errors:
            more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
            text += f": {errors[0]}{more}" if self.value is None else f"; {errors[0]}{more}"
        return text

    def to_dict(self) -> Dict[str, Any]:
        """Return the module result fields (without changed/failed/msg)."""
        return {
            "timestamp_update_status": self.status.to_dict(),
            "custom_field": self.custom_field.to_dict() if self.custom_field else None,
            "value": self.value,
            "updated_devices": list(self.updated_devices),
            "skipped_devices": list(self.skipped_devices),
            "failed_devices": list(self.failed_devices),
            "not_durable_devices": list(self.not_durable_devices),
            "patch_requests": self.patch_requests,
        }


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
    """Return ``date`` or ``iso`` for a field type we can write; raise WritebackError otherwise."""
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


# ------------------------------------------------------------------------------ devices
def _name_of(device: Mapping[str, Any]) -> str:
    """A name for messages: device_name, else the id, else a placeholder."""
    return str(device.get("device_name") or device.get("device_id") or "(unnamed device)")


def is_backed_up(device: Mapping[str, Any]) -> bool:
    """The device's running config was backed up: running_config_success true and no error (as DeviceBackupInfo)."""
    return device.get("running_config_success") is True and not device.get("error")


def durable_devices(devices: Iterable[Mapping[str, Any]], pushed: bool) -> Selection:
    """Split device results into targets (backed up, pushed, with a Nautobot id) and the rest.

    A device whose backup is not durable (its backup failed, or the publish step did not
    succeed) goes to ``not_durable``; a backed-up device without a valid Nautobot id (a UUID)
    goes to ``without_id``. Duplicate ids are stamped once.
    """
    selection = Selection()
    seen = set()
    for device in devices:
        name = _name_of(device)
        if not pushed or not is_backed_up(device):
            selection.not_durable.append(name)
            continue
        device_id = str(device.get("device_id") or "").strip()
        if not _UUID_RE.match(device_id):
            selection.without_id.append(name)
            continue
        if device_id.lower() in seen:
            continue
        seen.add(device_id.lower())
        selection.targets.append(Target(device_id=device_id, name=name))
    return selection


def batched(items: Sequence[T], size: int) -> Iterator[List[T]]:
    """Yield consecutive slices of at most size items."""
    if size < 1:
        raise WritebackError(f"batch_size must be at least 1, not {size}")
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def plan_updates(
    targets: Sequence[Target], current: Mapping[str, Any], value: str
) -> Tuple[List[Target], List[Target], List[Target]]:
    """Split targets into (to write, already equal, not found in Nautobot) by their current values.

    current maps lower-case device ids to the field's current value; a missing id means the
    device was not found.
    """
    to_write: List[Target] = []
    unchanged: List[Target] = []
    missing: List[Target] = []
    for target in targets:
        key = target.device_id.lower()
        if key not in current:
            missing.append(target)
        elif current[key] == value:
            unchanged.append(target)
        else:
            to_write.append(target)
    return to_write, unchanged, missing


def names(targets: Iterable[Target]) -> List[str]:
    """The names of targets, in order."""
    return [target.name for target in targets]


def _shown(items: Sequence[str]) -> str:
    """A comma-separated list, cut after a few names."""
    text = ", ".join(items[:_NAMES_SHOWN])
    return text + (f" and {len(items) - _NAMES_SHOWN} more" if len(items) > _NAMES_SHOWN else "")


# ------------------------------------------------------------------------------ Nautobot
def device_custom_fields(client: Any) -> Dict[str, CustomFieldInfo]:
    """Return the custom fields of dcim.device by key (all pages); raise NautobotAPIError on failure."""
    try:
        records = client.get_all(CUSTOM_FIELDS_PATH, {"content_types": DEVICE_CONTENT_TYPE})
    except NautobotAPIError as exc:
        hint = " (the token needs view permission on extras.customfield)" if exc.status in (401, 403) else ""
        raise NautobotAPIError(
            f"cannot read the custom fields of {DEVICE_CONTENT_TYPE}{hint}: {exc}", exc.url, exc.status
        ) from exc
    fields: Dict[str, CustomFieldInfo] = {}
    for record in records:
        if not isinstance(record, Mapping):
            continue
        content_types = tuple(str(item) for item in record.get("content_types") or ())
        if DEVICE_CONTENT_TYPE not in content_types or not record.get("key"):
            continue
        kind = record.get("type")
        kind = kind.get("value") if isinstance(kind, Mapping) else kind
        fields[str(record["key"])] = CustomFieldInfo(
            key=str(record["key"]),
            type=str(kind),
            label=str(record.get("label") or ""),
            content_types=content_types,
        )
    return fields


def check_custom_field(client: Any, key: str) -> CustomFieldInfo:
    """Return the custom field key of dcim.device; raise WritebackError when it does not exist or cannot be written.

    The error names the field, the Nautobot URL and the device custom fields that do exist.
    """
    fields = device_custom_fields(client)
    found = fields.get(key)
    if found is None:
        existing = ", ".join(f"{info.key} ({info.type})" for info in sorted(fields.values(), key=lambda f: f.key))
        raise WritebackError(
            f"custom field '{key}' does not exist on {DEVICE_CONTENT_TYPE} in Nautobot at {client.url}; "
            f"device custom fields: {existing or 'none'}"
        )
    value_format(found)
    return found


def read_current_values(
    client: Any, targets: Sequence[Target], key: str, batch_size: int
) -> Tuple[Dict[str, Any], List[Target], List[str]]:
    """Read the field's current value of every target with GraphQL, batch by batch.

    Return (lower-case id -> current value, for devices found; targets whose read failed;
    error messages). A failed batch never stops the others.
    """
    current: Dict[str, Any] = {}
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
            errors.append(f"reading the current {key} of {_shown(names(batch))} failed: {exc}")
            continue
        for record in records:
            if isinstance(record, Mapping) and record.get("id"):
                data_fields = record.get("_custom_field_data") or {}
                current[str(record["id"]).lower()] = data_fields.get(key) if isinstance(data_fields, Mapping) else None
    return current, unread, errors


def write_values(client: Any, targets: Sequence[Target], key: str, value: str, batch_size: int) -> WriteOutcome:
    """Bulk PATCH the field on targets, batch_size devices per request; record failed batches and go on.

    Nautobot answers a bulk PATCH with the updated objects. A device missing from the answer
    (deleted meanwhile) or whose field does not hold the value afterwards is a failure too.
    """
    outcome = WriteOutcome()
    for batch in batched(targets, batch_size):
        payload = [{"id": target.device_id, "custom_fields": {key: value}} for target in batch]
        outcome.requests += 1
        try:
            answer = client.patch(DEVICES_PATH, payload)
        except NautobotAPIError as exc:
            outcome.failed.extend(names(batch))
            outcome.errors.append(f"writing {key} of {_shown(names(batch))} failed: {exc}")
            continue
        applied = _applied(answer, key)
        wrong = [target for target in batch if applied.get(target.device_id.lower(), object()) != value]
        outcome.updated.extend(target.name for target in batch if target not in wrong)
        if wrong:
            outcome.failed.extend(names(wrong))
            outcome.errors.append(
                f"Nautobot at {client.url} did not apply {key}={value} to {_shown(names(wrong))} "
                "(device deleted, or the field was rejected)"
            )
    return outcome


def _applied(answer: Any, key: str) -> Dict[str, Any]:
    """Lower-case id -> the field's value, from a bulk PATCH answer (a list of devices)."""
    records = answer if isinstance(answer, list) else [answer]
    applied: Dict[str, Any] = {}
    for record in records:
        if isinstance(record, Mapping) and record.get("id"):
            fields = record.get("custom_fields") or {}
            applied[str(record["id"]).lower()] = fields.get(key) if isinstance(fields, Mapping) else None
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


def validate(client: Any, key: str) -> CustomFieldInfo:
    """Pre-flight check: Nautobot answers, the field exists on dcim.device with a writable type, devices can be changed.

    Raise NautobotAPIError (unreachable, token refused, read-only token, ...) or WritebackError
    (missing field, wrong type): the caller fails the task, before any device is contacted.
    Nothing is written (see check_write_permission).
    """
    custom_field = check_custom_field(client, key)
    check_write_permission(client)
    return custom_field


def update_backup_timestamps(
    client: Any,
    devices: Sequence[Mapping[str, Any]],
    pushed: bool,
    key: str = DEFAULT_CUSTOM_FIELD,
    timestamp: Any = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    check_mode: bool = False,
) -> WritebackResult:
    """Stamp the durable devices' custom field key with the run's time; never raise for Nautobot failures.

    Argument errors (a bad timestamp or batch size) raise WritebackError before anything is
    read. Every Nautobot failure (unreachable, token refused, missing field, failed batch) is
    recorded in the result's ``status.errors`` and its devices in ``failed_count``.
    In check mode nothing is written; ``updated_count`` counts the devices that would be.
    """
    instant = parse_timestamp(timestamp)
    if batch_size < 1:
        raise WritebackError(f"batch_size must be at least 1, not {batch_size}")
    selection = durable_devices(devices, pushed)
    status = TimestampUpdateStatus(enabled=True, custom_field_name=key)
    result = WritebackResult(status=status, not_durable_devices=list(selection.not_durable), check_mode=check_mode)
    if not pushed:
        status.errors.append(
            f"the backup was not published (pushed is false), so no device's backup is durable: nothing written to "
            f"Nautobot, {len(selection.not_durable)} device(s) keep their previous {key}"
        )
        return result
    if selection.without_id:
        result.failed_devices.extend(selection.without_id)
        status.errors.append(
            f"no Nautobot device id for {_shown(selection.without_id)}: their {key} cannot be written "
            "(give each device result a device_id)"
        )
    if selection.targets:
        _stamp(client, selection.targets, key, instant, batch_size, result)
    status.failed_count = len(result.failed_devices)
    status.updated_count = len(result.updated_devices)
    return result


def _stamp(
    client: Any, targets: List[Target], key: str, instant: datetime, batch_size: int, result: WritebackResult
) -> None:
    """Check the field, read current values, then write (unless check mode) into result."""
    status = result.status
    try:
        custom_field = check_custom_field(client, key)
    except (NautobotAPIError, WritebackError) as exc:
        result.failed_devices.extend(names(targets))
        status.errors.append(f"{exc} (nothing written for {len(targets)} device(s))")
        return
    result.custom_field = custom_field
    result.value = format_value(custom_field.type, instant)
    current, unread, errors = read_current_values(client, targets, key, batch_size)
    status.errors.extend(errors)
    result.failed_devices.extend(names(unread))
    readable = [target for target in targets if target not in unread]
    to_write, unchanged, missing = plan_updates(readable, current, result.value)
    result.skipped_devices.extend(names(unchanged))
    if missing:
        result.failed_devices.extend(names(missing))
        status.errors.append(f"not found in Nautobot at {client.url} (deleted?): {_shown(names(missing))}")
    if result.check_mode:
        result.updated_devices.extend(names(to_write))
        return
    outcome = write_values(client, to_write, key, result.value, batch_size)
    result.updated_devices.extend(outcome.updated)
    result.failed_devices.extend(outcome.failed)
    result.patch_requests = outcome.requests
    status.errors.extend(outcome.errors)
