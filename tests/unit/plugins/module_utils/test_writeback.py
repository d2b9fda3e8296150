"""Tests for plugins/module_utils/writeback.py: the status values, field checks, batching, skip-equal, failures.

The fake client below stands in for single calls (a GraphQL read, a bulk PATCH, a custom-field
list); the real Nautobot is exercised in tests/integration/test_nautobot_backup_status.py.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional

import pytest
import yaml

from ansible_collections.netops.nautobot_backup.plugins.doc_fragments.nautobot import ModuleDocFragment
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_repo import last_change_dates
from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import (
    NautobotAPIError,
    NautobotClient,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.writeback import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    RUN_DATE,
    STATUS_NAMES,
    Target,
    WritebackError,
    batched,
    changes_for,
    check_concurrency,
    check_status_fields,
    device_status,
    format_value,
    parse_timestamp,
    plan_devices,
    read_current_values,
    same_value,
    status_error,
    status_mapping,
    update_backup_status,
    validate,
    write_values,
)
from ansible_collections.netops.nautobot_backup.plugins.modules import nautobot_backup_status as module_doc
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.argspecs import NAUTOBOT_SPEC

URL = "http://nautobot.test"
INSTANT = datetime(2026, 11, 24, 2, 0, 0, tzinfo=UTC)


def uuid(number: int) -> str:
    """A UUID-shaped device id."""
    return f"00000000-0000-4000-8000-{number:012d}"


def device(number: int, ok: bool = True, **extra: Any) -> Dict[str, Any]:
    """A DeviceBackupInfo-like result."""
    return {"device_id": uuid(number), "device_name": f"r{number}", "running_config_success": ok, **extra}


def _field(key: str, kind: str, content_types=("dcim.device",), label: str = "") -> Dict[str, Any]:
    return {
        "id": f"cf-{key}",
        "key": key,
        "label": label or key,
        "type": {"value": kind},
        "content_types": list(content_types),
    }


FIELDS = [
    _field("last_backup", "date", label="Last backup"),
    _field("last_backup_attempt", "date"),
    _field("last_backup_status", "select"),
    _field("last_backup_error", "text"),
    _field("config_unsaved", "boolean"),
    _field("last_config_change", "date"),
    _field("last_backup_iso", "text", label="ISO"),
    _field("notes_md", "markdown"),
    _field("colour", "select"),
    _field("site_only", "date", content_types=("dcim.location",)),
]
CHOICES = [
    {"custom_field": {"id": "cf-last_backup_status"}, "value": "ok", "weight": 100},
    {"custom_field": {"id": "cf-last_backup_status"}, "value": "failed", "weight": 200},
    {"custom_field": {"id": "cf-colour"}, "value": "red", "weight": 100},
]
ONLY_LAST_BACKUP = {name: "" for name in STATUS_NAMES if name != "last_backup"}


class FakeClient:
    """Answers GraphQL reads, custom-field lists and bulk PATCHes from a dict of device values."""

    url = URL

    def __init__(
        self,
        values: Optional[Dict[str, Dict[str, Any]]] = None,
        fields: Optional[List[Dict[str, Any]]] = None,
        fail_patch: Optional[set] = None,
        fail_read: bool = False,
        fail_fields: bool = False,
    ) -> None:
        self.values = values if values is not None else {}
        self.fields = FIELDS if fields is None else fields
        self.fail_patch = fail_patch or set()
        self.fail_read = fail_read
        self.fail_fields = fail_fields
        self.refuse_changes = False
        self.patch_answer: Any = None
        self.reads: List[List[str]] = []
        self.patches: List[List[Dict[str, Any]]] = []

    def get_all(self, path: str, params: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
        assert path in ("/api/extras/custom-fields/", "/api/extras/custom-field-choices/")
        if self.fail_fields:
            raise NautobotAPIError(f"Nautobot at {URL}{path} refused the API token (HTTP 403)", URL, 403)
        return list(self.fields) if path.endswith("custom-fields/") else list(CHOICES)

    def graphql(self, query: str, variables: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        ids = list((variables or {})["ids"])
        self.reads.append(ids)
        if self.fail_read:
            raise NautobotAPIError(f"Nautobot at {URL}/api/graphql/ answered HTTP 502: Bad Gateway", URL, 502)
        return {
            "devices": [{"id": i, "name": i, "_custom_field_data": self.values[i]} for i in ids if i in self.values]
        }

    def api_url(self, path: str) -> str:
        return URL + path

    def patch(self, path: str, payload: Any) -> Any:
        assert path == "/api/dcim/devices/"
        self.patches.append(payload)
        if self.patch_answer is not None:
            return self.patch_answer
        if not payload and self.refuse_changes:
            raise NautobotAPIError(f"Nautobot at {URL}{path} refused the API token (HTTP 403): check it", URL, 403)
        if {entry["id"] for entry in payload} & self.fail_patch:
            raise NautobotAPIError(f"Nautobot at {URL}{path} answered HTTP 500: boom", URL, 500)
        answer = []
        for entry in payload:
            if entry["id"] in self.values:
                self.values[entry["id"]].update(entry["custom_fields"])
                answer.append({"id": entry["id"], "custom_fields": dict(self.values[entry["id"]])})
        return answer


# --------------------------------------------------------------------------- timestamps and values
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-24T02:00:00Z", INSTANT),
        ("2026-11-24T02:00:00+00:00", INSTANT),
        ("2026-11-24T03:00:00+01:00", INSTANT),
        ("2026-11-24T02:00:00.123456Z", INSTANT),
        ("2026-11-24T02:00:00", INSTANT),
        ("20261124_020000", INSTANT),
        ("2026-11-24", datetime(2026, 11, 24, tzinfo=UTC)),
        ({"date": "20261124", "timestamp": "20261124_020000"}, INSTANT),
        (datetime(2026, 11, 24, 2, 0), INSTANT),
        (datetime(2026, 11, 23, 21, 0, tzinfo=timezone(timedelta(hours=-5))), INSTANT),
    ],
)
def test_parse_timestamp(value, expected):
    assert parse_timestamp(value) == expected


def test_parse_timestamp_defaults_to_now_in_utc():
    now = parse_timestamp(None)
    assert now.tzinfo == UTC and now.microsecond == 0
    assert abs((datetime.now(UTC) - now).total_seconds()) < 5
    assert parse_timestamp("", now=INSTANT) == INSTANT


@pytest.mark.parametrize("value", ["yesterday", "2026-13-45", 20261124, {"date": "20261124"}])
def test_bad_timestamp_is_an_error(value):
    with pytest.raises(WritebackError, match="timestamp"):
        parse_timestamp(value)


@pytest.mark.parametrize(
    ("field_type", "expected"),
    [("date", "2026-11-24"), ("text", "2026-11-24T02:00:00+00:00"), ("markdown", "2026-11-24T02:00:00+00:00")],
)
def test_format_value_by_type(field_type, expected):
    assert format_value(field_type, INSTANT) == expected


def test_date_is_the_utc_date():
    late_in_new_york = datetime(2026, 11, 23, 22, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert format_value("date", late_in_new_york) == "2026-11-24"
    assert format_value("text", late_in_new_york) == "2026-11-24T03:30:00+00:00"


@pytest.mark.parametrize("field_type", ["select", "integer", "boolean", "json", "multi-select", "url"])
def test_unsupported_field_types_are_errors(field_type):
    with pytest.raises(WritebackError, match=f"type '{field_type}'.*date, markdown, text"):
        format_value(field_type, INSTANT)


# --------------------------------------------------------------------------- the mapping and the values
def test_status_mapping_defaults_renames_and_turns_off():
    assert status_mapping() == {name: name for name in STATUS_NAMES}
    assert status_mapping(None, "last_backup_iso")["last_backup"] == "last_backup_iso"
    mapping = status_mapping({"last_backup_status": "backup_state", "config_unsaved": "", "last_config_change": None})
    assert mapping["last_backup_status"] == "backup_state"
    assert "config_unsaved" not in mapping and "last_config_change" not in mapping
    assert status_mapping({"last_backup": "lb"}, "ignored")["last_backup"] == "lb"  # status_fields wins
    assert status_mapping(ONLY_LAST_BACKUP) == {"last_backup": "last_backup"}


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"last_bakup": "x"}, "unknown entry last_bakup"),
        ({"last_backup": 3}, "must be a custom field key"),
        ({"last_backup_attempt": "last_backup"}, "cannot hold two statuses: 'last_backup'"),
    ],
)
def test_status_mapping_rejects_bad_entries(fields, match):
    with pytest.raises(WritebackError, match=match):
        status_mapping(fields)


def test_status_error_is_one_bounded_line_with_its_class():
    assert status_error("timeout", "timed out after 10 s") == "timeout: timed out after 10 s"
    assert status_error(None, "") == "other: no message"
    text = status_error("invalid_output", "bad output\nhostname r1\npassword 7 0822455D0A16")
    assert text == "invalid_output: bad output"  # nothing after the first line: never config text
    assert status_error("auth_failed", "a\x1b[31mb\tc") == "auth_failed: a [31mb c"
    long = status_error("other", "x" * 500)
    assert len(long) == 200 and long.endswith("...")


def test_device_status_of_a_durable_changed_device():
    values = device_status(device(1, changed=True, unsaved_changes=True), pushed=True)
    assert values == {
        "last_backup_attempt": RUN_DATE,
        "last_backup": RUN_DATE,
        "last_backup_status": "ok",
        "last_backup_error": None,
        "last_config_change": RUN_DATE,
        "config_unsaved": True,
    }
    unchanged = device_status(device(1, changed=False, unsaved_changes=False), pushed=True)
    assert "last_config_change" not in unchanged and unchanged["config_unsaved"] is False


def test_device_status_of_a_failed_device_never_has_last_backup():
    values = device_status(device(2, ok=False, error="Authentication failed.", error_class="auth_failed"), True)
    assert "last_backup" not in values and "last_config_change" not in values
    assert values["last_backup_status"] == "failed"
    assert values["last_backup_error"] == "auth_failed: Authentication failed."
    assert values["config_unsaved"] is None and values["last_backup_attempt"] is RUN_DATE
    # running_config_success without an error, or an error with success: not backed up either
    assert device_status(device(3, error="wrote nothing"), True)["last_backup_error"] == "other: wrote nothing"
    assert device_status({"device_name": "r4"}, True)["last_backup_status"] == "failed"
    assert device_status(device(5, running_config_success="yes"), True)["last_backup_status"] == "failed"


def test_device_status_when_the_push_failed():
    values = device_status(device(1, changed=True, unsaved_changes=True), False, "git push failed: HTTP 503\nmore")
    assert "last_backup" not in values and "last_config_change" not in values
    assert values["last_backup_status"] == "failed"
    assert values["last_backup_error"] == "push: git push failed: HTTP 503"
    assert values["config_unsaved"] is True  # read from the device, whatever happened to the push
    assert device_status(device(1), False)["last_backup_error"] == "push: the backup did not reach the Git remote"
    failed = device_status(device(2, ok=False, error="timed out", error_class="timeout"), False, "push failed")
    assert failed["last_backup_error"] == "timeout: timed out"  # its own failure, not the push


def test_plan_devices_sets_aside_devices_without_a_usable_id_and_writes_duplicates_once():
    devices = [
        device(1),
        device(2, ok=False, error="x"),
        device(3, device_id=None),
        device(4, device_id="ios-r4"),
        {"running_config_success": True},
        device(1, device_name="again"),
    ]
    selection = plan_devices(devices, pushed=True)
    assert [t.name for t in selection.targets] == ["r1", "r2"]
    assert selection.without_id == ["r3", "r4", "(unnamed device)"]
    assert selection.not_durable == ["r2"]
    assert plan_devices([device(1)], pushed=False).not_durable == ["r1"]


def test_same_value_treats_empty_text_and_null_alike():
    assert same_value(None, "") and same_value("", None) and same_value(None, None)
    assert not same_value(None, False) and not same_value(False, None) and same_value(True, True)
    assert not same_value("2026-11-23", "2026-11-24")


def test_changes_for_formats_dates_by_field_type_and_keeps_only_differences():
    fields = check_status_fields(FakeClient(), status_mapping(None, "last_backup_iso"))
    target = Target(uuid(1), "r1", device_status(device(1, changed=True, unsaved_changes=False), True))
    held = {"last_backup_attempt": "2026-11-24", "last_backup_status": "ok", "last_backup_error": "", "x": 1}
    assert changes_for(target, held, fields, INSTANT) == {
        "last_backup_iso": "2026-11-24T02:00:00+00:00",
        "config_unsaved": False,
        "last_config_change": "2026-11-24",
    }


# --------------------------------------------------------------------------- batching
@pytest.mark.parametrize(
    ("count", "size", "lengths"),
    [(0, 2, []), (1, 2, [1]), (4, 2, [2, 2]), (5, 2, [2, 2, 1]), (5, 200, [5]), (3, 1, [1, 1, 1])],
)
def test_batched(count, size, lengths):
    assert [len(batch) for batch in batched(list(range(count)), size)] == lengths
    assert [item for batch in batched(list(range(count)), size) for item in batch] == list(range(count))


def test_batch_size_must_be_positive():
    with pytest.raises(WritebackError, match="batch_size"):
        list(batched([1], 0))


# --------------------------------------------------------------------------- single Nautobot calls
def test_check_status_fields_finds_device_fields_of_a_fitting_type():
    fields = check_status_fields(FakeClient(), status_mapping())
    assert fields["last_backup"].key == "last_backup" and fields["last_backup"].label == "Last backup"
    assert fields["last_backup_status"].choices == ("ok", "failed")
    assert check_status_fields(FakeClient(), {"last_backup_error": "notes_md"})["last_backup_error"].type == "markdown"
    assert check_status_fields(FakeClient(), {"last_backup_status": "last_backup_iso"})  # a text field will do


def test_check_status_fields_names_every_missing_or_unfit_field_at_once():
    mapping = {
        "last_backup": "site_only",
        "last_backup_attempt": "nope",
        "config_unsaved": "last_backup_iso",
        "last_backup_status": "colour",
    }
    with pytest.raises(WritebackError) as raised:
        check_status_fields(FakeClient(), mapping)
    message = str(raised.value)
    assert (
        "custom fields 'site_only' (last_backup), 'nope' (last_backup_attempt) do not exist on dcim.device" in message
    )
    assert "'last_backup_iso' (config_unsaved) is of type text; it must be boolean" in message
    assert "'colour' (last_backup_status) is a select without the choice(s) ok, failed" in message
    assert URL in message and "create_status_fields.yml" in message and "site_only (" not in message


def test_check_status_fields_with_no_device_fields():
    with pytest.raises(WritebackError, match="Device custom fields: none"):
        check_status_fields(FakeClient(fields=[]), {"last_backup": "last_backup"})


def test_custom_field_read_failure_says_which_permission():
    with pytest.raises(NautobotAPIError, match="view permission on extras.customfield.*HTTP 403") as raised:
        check_status_fields(FakeClient(fail_fields=True), status_mapping())
    assert raised.value.status == 403 and raised.value.url == URL


def test_validate_checks_the_fields_and_the_change_permission_without_writing():
    client = FakeClient()
    assert validate(client, {"last_backup": "last_backup_iso"})["last_backup"].type == "text"
    assert client.patches == [[]] and client.reads == []
    client.refuse_changes = True
    with pytest.raises(NautobotAPIError, match="change permission on dcim.device.*HTTP 403"):
        validate(client, status_mapping())
    with pytest.raises(WritebackError, match=r"'nope' \(last_backup\) does not exist"):
        validate(client, {"last_backup": "nope"})


def test_validate_rejects_an_odd_answer_to_the_empty_update():
    client = FakeClient()
    client.patch_answer = {"detail": "huh"}
    with pytest.raises(NautobotAPIError, match="answered an empty bulk update with"):
        validate(client, status_mapping())


def test_read_current_values_in_batches():
    client = FakeClient({uuid(n): {"last_backup": f"2026-11-0{n}"} for n in range(1, 6)})
    targets = [Target(uuid(n), f"r{n}") for n in range(1, 7)]
    current, unread, errors = read_current_values(client, targets, 2)
    assert [len(ids) for ids in client.reads] == [2, 2, 2]
    assert current == {uuid(n): {"last_backup": f"2026-11-0{n}"} for n in range(1, 6)}  # r6 is not in Nautobot
    assert unread == [] and errors == []


def test_the_write_back_reads_in_pages_of_at_least_500_and_writes_in_batch_size():
    client = FakeClient({uuid(n): {} for n in range(1, 1202)})
    devices = [device(n) for n in range(1, 1202)]
    result = update_backup_status(client, devices, pushed=True, timestamp=INSTANT, batch_size=50)
    assert [len(ids) for ids in client.reads] == [500, 500, 201]
    assert len(client.patches) == 25 and result.status.updated_count == 1201
    client = FakeClient({uuid(n): {} for n in range(1, 1202)})
    update_backup_status(client, devices, pushed=True, timestamp=INSTANT, batch_size=1000)
    assert [len(ids) for ids in client.reads] == [1000, 201] and len(client.patches) == 2


def test_read_failure_is_recorded_per_batch():
    client = FakeClient({uuid(1): {}}, fail_read=True)
    current, unread, errors = read_current_values(client, [Target(uuid(1), "r1")], 10)
    assert current == {} and [t.name for t in unread] == ["r1"]
    assert errors and "r1" in errors[0] and "HTTP 502" in errors[0] and URL in errors[0]


def test_write_values_bulk_patches_in_batches_and_survives_a_failed_batch():
    client = FakeClient({uuid(n): {} for n in range(1, 6)}, fail_patch={uuid(3)})
    changes = [
        (Target(uuid(n), f"r{n}"), {"last_backup": "2026-11-24", "last_backup_status": "ok"}) for n in range(1, 6)
    ]
    outcome = write_values(client, changes, 2)
    assert outcome.requests == 3
    assert [len(payload) for payload in client.patches] == [2, 2, 1]
    assert client.patches[0][0] == {
        "id": uuid(1),
        "custom_fields": {"last_backup": "2026-11-24", "last_backup_status": "ok"},
    }
    assert outcome.updated == ["r1", "r2", "r5"]
    assert outcome.failed == ["r3", "r4"]
    assert len(outcome.errors) == 1 and "r3, r4" in outcome.errors[0] and "HTTP 500" in outcome.errors[0]


def test_write_values_checks_the_answer():
    client = FakeClient({uuid(1): {}})  # uuid(2) was deleted meanwhile: Nautobot leaves it out of the answer
    changes = [(Target(uuid(1), "r1"), {"last_backup": "2026-11-24"}), (Target(uuid(2), "r2"), {"last_backup": "x"})]
    outcome = write_values(client, changes, 10)
    assert outcome.updated == ["r1"] and outcome.failed == ["r2"]
    assert "did not apply the status of r2" in outcome.errors[0]


class OverlappingClient(FakeClient):
    """A FakeClient whose PATCHes overlap: each waits until `wanted` are in flight (or a second passed).

    A batch answers the later the lower its first device's number, so later batches answer first and a
    result that depended on the order of the answers would differ from the sequential one.
    """

    def __init__(self, *args: Any, wanted: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wanted = wanted
        self.in_flight = 0
        self.peak = 0
        self.answered: List[str] = []
        self._lock = threading.Lock()
        self._full = threading.Event()

    def patch(self, path: str, payload: Any) -> Any:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            if self.in_flight >= self.wanted:
                self._full.set()
        try:
            self._full.wait(1)
            time.sleep(0.01 * (20 - int(payload[0]["id"][-12:])) if payload else 0)
            return super().patch(path, payload)
        finally:
            with self._lock:
                self.in_flight -= 1
                self.answered.append(payload[0]["id"] if payload else "")


def _twelve_devices() -> List[Dict[str, Any]]:
    """Twelve devices: a durable changed one every third, a failed backup every fifth."""
    return [
        device(n, ok=n % 5 != 0, changed=n % 3 == 0, unsaved_changes=n % 2 == 0, error="x" if n % 5 == 0 else None)
        for n in range(1, 13)
    ]


def test_concurrent_writes_give_the_sequential_result():
    results = {}
    stores = {}
    for concurrency in (1, 4):
        client = OverlappingClient({uuid(n): {} for n in range(1, 13)}, fail_patch={uuid(5)}, wanted=concurrency)
        results[concurrency] = update_backup_status(
            client, _twelve_devices(), pushed=True, timestamp=INSTANT, batch_size=2, concurrency=concurrency
        )
        stores[concurrency] = client.values
        assert client.peak == concurrency  # bounded, and really concurrent
    assert results[4].to_dict() == results[1].to_dict()
    assert results[4].summary() == results[1].summary()
    assert stores[4] == stores[1]


def test_a_failed_batch_among_concurrent_ones_is_recorded_and_the_others_are_written():
    client = OverlappingClient({uuid(n): {} for n in range(1, 11)}, fail_patch={uuid(5)}, wanted=4)
    devices = [device(n) for n in range(1, 11)]
    result = update_backup_status(client, devices, pushed=True, timestamp=INSTANT, batch_size=2, concurrency=4)
    assert client.peak == 4 and result.patch_requests == 5 and len(client.patches) == 5
    assert result.updated_devices == ["r1", "r2", "r3", "r4", "r7", "r8", "r9", "r10"]
    assert result.failed_devices == ["r5", "r6"] and result.status.failed_count == 2
    assert (
        len(result.status.errors) == 1 and "r5, r6" in result.status.errors[0] and "HTTP 500" in result.status.errors[0]
    )
    assert all(client.values[uuid(n)].get("last_backup") == "2026-11-24" for n in (1, 2, 3, 4, 7, 8, 9, 10))
    assert client.values[uuid(5)] == {} and client.values[uuid(6)] == {}
    assert result.values_written["last_backup"] == 8 and result.values_written["last_backup_status"] == 8


def test_concurrent_counts_do_not_depend_on_the_order_of_the_answers():
    client = OverlappingClient({uuid(n): {} for n in range(1, 13)}, wanted=3)
    changes = [(Target(uuid(n), f"r{n}"), {"last_backup": "2026-11-24"}) for n in range(1, 13)]
    outcome = write_values(client, changes, 2, concurrency=3)
    assert client.answered != sorted(client.answered)  # the answers came out of order
    assert outcome.requests == 6 and outcome.updated == [f"r{n}" for n in range(1, 13)]
    assert outcome.failed == [] and outcome.errors == []


def test_one_batch_or_one_request_at_a_time_starts_no_thread():
    client = OverlappingClient({uuid(1): {}, uuid(2): {}}, wanted=1)
    changes = [(Target(uuid(n), f"r{n}"), {"last_backup": "2026-11-24"}) for n in (1, 2)]
    before = threading.active_count()
    assert write_values(client, changes, 10, concurrency=8).updated == ["r1", "r2"]
    assert write_values(client, changes, 1, concurrency=1).updated == ["r1", "r2"]
    assert client.peak == 1 and threading.active_count() == before


@pytest.mark.parametrize("concurrency", [0, -1, MAX_CONCURRENCY + 1, True, 2.0])
def test_concurrency_out_of_range_is_an_argument_error(concurrency):
    with pytest.raises(WritebackError, match=f"concurrency must be from 1 to {MAX_CONCURRENCY}"):
        check_concurrency(concurrency)
    client = FakeClient({uuid(1): {}})
    with pytest.raises(WritebackError):
        update_backup_status(client, [device(1)], pushed=True, concurrency=concurrency)
    assert client.reads == [] and client.patches == []


def test_default_concurrency_is_the_modules():
    assert (
        check_concurrency(DEFAULT_CONCURRENCY)
        == DEFAULT_CONCURRENCY
        == module_doc.ARGUMENT_SPEC["concurrency"]["default"]
    )


# --------------------------------------------------------------------------- the whole write-back
def test_update_writes_only_what_differs_and_a_rerun_writes_nothing():
    values = {
        uuid(1): {"last_backup": "2026-11-23"},
        uuid(2): {
            "last_backup": "2026-11-24",
            "last_backup_attempt": "2026-11-24",
            "last_backup_status": "ok",
            "last_backup_error": "",
            "config_unsaved": False,
        },
        uuid(3): {},
        uuid(4): {"last_backup": "2026-11-20"},
    }
    client = FakeClient(values)
    devices = [
        device(1, changed=True, unsaved_changes=False),
        device(2, changed=False, unsaved_changes=False),
        device(3, changed=True, unsaved_changes=True),
        device(4, ok=False, error="SSH timeout", error_class="timeout"),
    ]
    result = update_backup_status(client, devices, pushed=True, timestamp=INSTANT, batch_size=200)
    assert result.status.updated_count == 3 and result.status.failed_count == 0 and result.status.errors == []
    assert result.updated_devices == ["r1", "r3", "r4"] and result.skipped_devices == ["r2"]
    assert result.not_durable_devices == ["r4"] and result.changed and result.value == "2026-11-24"
    assert len(client.patches) == 1
    assert values[uuid(3)] == {
        "last_backup": "2026-11-24",
        "last_backup_attempt": "2026-11-24",
        "last_backup_status": "ok",
        "config_unsaved": True,
        "last_config_change": "2026-11-24",
    }  # no error to clear: null and unset are the same, so nothing is sent for them
    assert values[uuid(4)] == {
        "last_backup": "2026-11-20",  # a failed device keeps its last success
        "last_backup_attempt": "2026-11-24",
        "last_backup_status": "failed",
        "last_backup_error": "timeout: SSH timeout",
    }
    assert result.values_written["last_backup"] == 2 and result.values_written["last_backup_attempt"] == 3
    again = update_backup_status(client, devices, pushed=True, timestamp="2026-11-24T23:59:59Z")
    assert again.status.updated_count == 0 and not again.changed and len(client.patches) == 1
    assert again.skipped_devices == ["r1", "r2", "r3", "r4"]
    assert again.summary() == "wrote the backup status of 0 device(s); 4 already up to date; 0 failed"


def test_update_when_not_pushed_writes_the_failure_but_no_last_backup():
    values = {uuid(1): {"last_backup": "2026-11-20"}}
    client = FakeClient(values)
    result = update_backup_status(
        client,
        [device(1, changed=True)],
        pushed=False,
        timestamp=INSTANT,
        push_error="git push to https://git.example/x.git failed: HTTP 503",
    )
    assert values[uuid(1)]["last_backup"] == "2026-11-20" and "last_config_change" not in values[uuid(1)]
    assert values[uuid(1)]["last_backup_status"] == "failed"
    assert values[uuid(1)]["last_backup_error"] == "push: git push to https://git.example/x.git failed: HTTP 503"
    assert result.not_durable_devices == ["r1"] and result.status.failed_count == 0
    assert len(result.status.errors) == 1 and "pushed is false" in result.status.errors[0]


def test_update_in_check_mode_writes_nothing():
    client = FakeClient({uuid(1): {}, uuid(2): {"last_backup_iso": "2026-11-24T02:00:00+00:00"}})
    result = update_backup_status(
        client,
        [device(1), device(2)],
        pushed=True,
        mapping={"last_backup": "last_backup_iso"},
        timestamp=INSTANT,
        check_mode=True,
    )
    assert client.patches == [] and result.patch_requests == 0
    assert result.updated_devices == ["r1"] and result.skipped_devices == ["r2"] and result.changed
    assert result.summary().startswith("would write the backup status of 1 device(s) (last_backup_iso 1)")


def test_update_with_unknown_field_reports_instead_of_raising():
    client = FakeClient({uuid(1): {}})
    result = update_backup_status(client, [device(1), device(2, ok=False)], True, {"last_backup": "lastbackup"})
    # r2 failed its backup: with last_backup alone it has nothing to write, so it is no write-back failure
    assert client.patches == [] and result.status.failed_count == 1 and result.failed_devices == ["r1"]
    assert "'lastbackup' (last_backup) does not exist" in result.status.errors[0]
    assert "last_backup (date)" in result.status.errors[0]
    assert result.summary().startswith("backup status not written: custom field 'lastbackup' (last_backup) does not")
    assert "(nothing written for 1 device(s))" in result.summary()


def test_update_counts_missing_and_id_less_devices_as_failed():
    client = FakeClient({uuid(1): {}})
    result = update_backup_status(client, [device(1), device(2), device(3, device_id="")], True, timestamp=INSTANT)
    assert result.updated_devices == ["r1"] and sorted(result.failed_devices) == ["r2", "r3"]
    assert result.status.failed_count == 2 and len(result.status.errors) == 2


def test_update_rejects_bad_arguments_before_contacting_nautobot():
    client = FakeClient()
    with pytest.raises(WritebackError):
        update_backup_status(client, [device(1)], pushed=True, timestamp="noon")
    with pytest.raises(WritebackError):
        update_backup_status(client, [device(1)], pushed=True, batch_size=0)
    assert client.reads == [] and client.patches == []


def test_update_without_devices_does_not_contact_nautobot():
    client = FakeClient(fail_fields=True)
    result = update_backup_status(client, [], pushed=True)
    assert result.status.errors == [] and not result.changed


# --------------------------------------------------------------------------- client REST helpers
class FakeResponse:
    """Just enough of requests.Response."""

    def __init__(self, body: Any, status: int = 200) -> None:
        self.body = body
        self.status_code = status
        self.text = str(body)

    def json(self) -> Any:
        return self.body


class FakeSession:
    """Records requests and answers from a list of bodies."""

    def __init__(self, answers: List[Any]) -> None:
        self.answers = list(answers)
        self.calls: List[Dict[str, Any]] = []
        self.headers: Dict[str, str] = {}
        self.verify = True

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.calls.append({"method": method, "url": url, **kwargs})
        return FakeResponse(self.answers.pop(0))

    def close(self) -> None:
        """Nothing to close."""


def test_client_get_all_pages_with_offsets_on_its_own_url():
    pages = [
        {"count": 3, "next": "http://elsewhere/api/extras/custom-fields/?offset=2", "results": [{"n": 1}, {"n": 2}]},
        {"count": 3, "next": None, "results": [{"n": 3}]},
    ]
    session = FakeSession(pages)
    client = NautobotClient(URL + "/", "t" * 40, session=session)
    assert client.get_all("/api/extras/custom-fields/", {"content_types": "dcim.device"}, limit=2) == [
        {"n": 1},
        {"n": 2},
        {"n": 3},
    ]
    assert [call["url"] for call in session.calls] == [f"{URL}/api/extras/custom-fields/"] * 2
    assert [call["params"]["offset"] for call in session.calls] == [0, 2]
    assert session.calls[0]["params"] == {"content_types": "dcim.device", "limit": 2, "offset": 0}


def test_client_get_all_fails_closed_without_results():
    client = NautobotClient(URL, "t" * 40, session=FakeSession([{"detail": "nope"}]))
    with pytest.raises(NautobotAPIError, match="without a results list"):
        client.get_all("extras/custom-fields/")


def test_client_patch_accepts_a_list_but_graphql_does_not():
    session = FakeSession([[{"id": "a"}], []])
    client = NautobotClient(URL, "t" * 40, session=session)
    assert client.patch("/api/dcim/devices/", [{"id": "a"}]) == [{"id": "a"}]
    assert session.calls[0]["method"] == "PATCH" and session.calls[0]["json"] == [{"id": "a"}]
    with pytest.raises(NautobotAPIError, match="unexpected JSON"):
        client.graphql("{ devices { id } }")


def test_client_api_url():
    client = NautobotClient(URL + "/", "t" * 40, session=FakeSession([]))
    assert client.api_url("/api/dcim/devices/") == f"{URL}/api/dcim/devices/"
    assert client.api_url("dcim/devices/") == f"{URL}/api/dcim/devices/"


# --------------------------------------------------------------------------- documentation
def test_module_documentation_matches_the_argument_spec():
    options = dict(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    options.update(yaml.safe_load(module_doc.DOCUMENTATION)["options"])
    spec = {**NAUTOBOT_SPEC, **module_doc.ARGUMENT_SPEC}  # what the action plugin validates
    assert set(options) == set(spec)
    for name, option in options.items():
        assert option["type"] == spec[name]["type"], name
        assert option.get("default") == spec[name].get("default"), name
        assert option.get("required", False) == spec[name].get("required", False), name
        assert option.get("elements") == spec[name].get("elements"), name
    assert spec["token"]["no_log"] is True


# --------------------------------------------------------------------------- last_config_change from Git's history
def test_an_empty_last_config_change_is_filled_from_git_history():
    values = {uuid(1): {}, uuid(2): {"last_config_change": "2026-10-01"}, uuid(3): {}, uuid(4): {}}
    client = FakeClient(values)
    files = {"running_config_file": "backups/r1.running-config", "startup_config_file": "backups/r1.startup-config"}
    devices = [
        device(1, changed=False, **files),
        device(2, changed=False, running_config_file="backups/r2.running-config"),  # already has one: kept
        device(3, changed=True, running_config_file="backups/r3.running-config"),  # changed now: the run's date
        device(4, ok=False, error="x", running_config_file="backups/r4.running-config"),  # failed: no date
    ]
    asked: List[List[str]] = []

    def dates(paths: List[str]) -> Dict[str, str]:
        asked.append(paths)
        return {
            "backups/r1.running-config": "2026-11-02T10:00:00+01:00",
            files["startup_config_file"]: "2026-11-20T23:30:00-02:00",
        }

    update_backup_status(client, devices, True, timestamp=INSTANT, change_dates=dates)
    assert asked == [["backups/r1.running-config", "backups/r1.startup-config"]]
    assert values[uuid(1)]["last_config_change"] == "2026-11-21"  # the newest of its files, in UTC
    assert values[uuid(2)]["last_config_change"] == "2026-10-01"
    assert values[uuid(3)]["last_config_change"] == "2026-11-24"
    assert "last_config_change" not in values[uuid(4)]
    again: List[List[str]] = []
    update_backup_status(client, devices, True, timestamp=INSTANT, change_dates=lambda paths: again.append(paths) or {})
    assert again == [], "filled once: Git's history is not read again"


def test_a_history_that_cannot_be_read_is_reported_and_the_rest_is_written():
    values = {uuid(1): {}}
    client = FakeClient(values)

    def broken(_paths: List[str]) -> Dict[str, str]:
        raise WritebackError("git log failed")

    result = update_backup_status(
        client,
        [device(1, running_config_file="backups/r1.running-config")],
        True,
        timestamp=INSTANT,
        change_dates=broken,
    )
    assert values[uuid(1)]["last_backup"] == "2026-11-24" and "last_config_change" not in values[uuid(1)]
    assert result.status.errors == ["last_config_change of 1 device(s) could not be read from Git: git log failed"]


def test_last_change_dates_walks_the_history_once(tmp_path):
    repo = tmp_path / "repo"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid"}
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")

    def commit(date: str, files: Dict[str, str]) -> None:
        for name, text in files.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text, encoding="utf-8")
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-qm", date], check=True, env={**env, "GIT_AUTHOR_DATE": date}
        )

    assert last_change_dates(tmp_path, ["a"]) == {}  # not a repository: nothing, no error
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    assert last_change_dates(repo, ["backups/a"]) == {}  # no commit yet
    commit("2026-11-01T02:00:00+00:00", {"backups/a": "1", "backups/b": "1", "backups/my file": "1"})
    commit("2026-11-05T02:00:00+00:00", {"backups/a": "2"})
    found = last_change_dates(repo, ["backups/a", "backups/b", "backups/my file", "backups/never", ""])
    assert found == {
        "backups/a": "2026-11-05T02:00:00+00:00",
        "backups/b": "2026-11-01T02:00:00+00:00",
        "backups/my file": "2026-11-01T02:00:00+00:00",
    }
