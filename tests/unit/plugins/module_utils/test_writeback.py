"""Tests for plugins/module_utils/writeback.py: values by type, durability, batching, skip-equal, failures.

The fake client below stands in for single calls (a GraphQL read, a bulk PATCH, a custom-field
list); the real Nautobot is exercised in tests/integration/test_nautobot_backup_status.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional

import pytest
import yaml

from ansible_collections.netops.nautobot_backup.plugins.doc_fragments.nautobot import ModuleDocFragment
from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import (
    NautobotAPIError,
    NautobotClient,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.writeback import (
    CustomFieldInfo,
    Target,
    WritebackError,
    batched,
    check_custom_field,
    durable_devices,
    format_value,
    parse_timestamp,
    plan_updates,
    read_current_values,
    update_backup_timestamps,
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


FIELDS = [
    {"key": "last_backup", "label": "Last backup", "type": {"value": "date"}, "content_types": ["dcim.device"]},
    {"key": "last_backup_iso", "label": "ISO", "type": {"value": "text"}, "content_types": ["dcim.device"]},
    {"key": "notes_md", "label": "Notes", "type": {"value": "markdown"}, "content_types": ["dcim.device"]},
    {"key": "colour", "label": "Colour", "type": {"value": "select"}, "content_types": ["dcim.device"]},
    {"key": "site_only", "label": "Site", "type": {"value": "date"}, "content_types": ["dcim.location"]},
]


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
        assert path == "/api/extras/custom-fields/"
        if self.fail_fields:
            raise NautobotAPIError(f"Nautobot at {URL}{path} refused the API token (HTTP 403)", URL, 403)
        return list(self.fields)

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


# --------------------------------------------------------------------------- durability
def test_only_backed_up_devices_are_durable():
    devices = [
        device(1),
        device(2, ok=False, error="timed out", error_class="timeout"),
        device(3, error="wrote nothing"),
        {"device_id": uuid(4), "device_name": "r4"},  # a skipped host: no running_config_success
        device(5, running_config_success="yes"),  # only a real true counts
    ]
    selection = durable_devices(devices, pushed=True)
    assert [t.name for t in selection.targets] == ["r1"]
    assert selection.not_durable == ["r2", "r3", "r4", "r5"]
    assert selection.without_id == []


def test_nothing_is_durable_when_not_pushed():
    selection = durable_devices([device(1), device(2)], pushed=False)
    assert selection.targets == [] and selection.not_durable == ["r1", "r2"]


def test_devices_without_a_usable_id_are_set_aside():
    devices = [device(1, device_id=None), device(2, device_id="ios-r2"), {"running_config_success": True}, device(3)]
    selection = durable_devices(devices, pushed=True)
    assert [t.name for t in selection.targets] == ["r3"]
    assert selection.without_id == ["r1", "r2", "(unnamed device)"]


def test_duplicate_ids_are_stamped_once():
    selection = durable_devices([device(1), device(1, device_name="again"), device(1, device_id=uuid(1).upper())], True)
    assert [t.name for t in selection.targets] == ["r1"]


# --------------------------------------------------------------------------- batching and planning
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


def test_plan_updates_skips_equal_values_and_spots_missing_devices():
    targets = [Target(uuid(n), f"r{n}") for n in range(1, 5)]
    current = {uuid(1): "2026-11-24", uuid(2): "2026-11-23", uuid(3): None}
    to_write, unchanged, missing = plan_updates(targets, current, "2026-11-24")
    assert [t.name for t in to_write] == ["r2", "r3"]
    assert [t.name for t in unchanged] == ["r1"]
    assert [t.name for t in missing] == ["r4"]


# --------------------------------------------------------------------------- single Nautobot calls
def test_check_custom_field_finds_device_fields_only():
    client = FakeClient()
    assert check_custom_field(client, "last_backup") == CustomFieldInfo(
        "last_backup", "date", "Last backup", ("dcim.device",)
    )
    assert check_custom_field(client, "last_backup_iso").type == "text"
    with pytest.raises(WritebackError) as raised:
        check_custom_field(client, "site_only")
    message = str(raised.value)
    assert "'site_only' does not exist on dcim.device" in message and URL in message
    assert "last_backup (date), last_backup_iso (text)" in message and "site_only (" not in message


def test_check_custom_field_rejects_a_type_it_cannot_write():
    with pytest.raises(WritebackError, match="'colour' has type 'select'"):
        check_custom_field(FakeClient(), "colour")


def test_check_custom_field_with_no_device_fields():
    with pytest.raises(WritebackError, match="device custom fields: none"):
        check_custom_field(FakeClient(fields=[]), "last_backup")


def test_custom_field_read_failure_says_which_permission():
    with pytest.raises(NautobotAPIError, match="view permission on extras.customfield.*HTTP 403") as raised:
        check_custom_field(FakeClient(fail_fields=True), "last_backup")
    assert raised.value.status == 403 and raised.value.url == URL


def test_validate_checks_the_field_and_the_change_permission_without_writing():
    client = FakeClient()
    assert validate(client, "last_backup_iso").type == "text"
    assert client.patches == [[]] and client.reads == []
    client.refuse_changes = True
    with pytest.raises(NautobotAPIError, match="change permission on dcim.device.*HTTP 403"):
        validate(client, "last_backup")
    with pytest.raises(WritebackError, match="'nope' does not exist"):
        validate(client, "nope")


def test_validate_rejects_an_odd_answer_to_the_empty_update():
    client = FakeClient()
    client.patch_answer = {"detail": "huh"}
    with pytest.raises(NautobotAPIError, match="answered an empty bulk update with"):
        validate(client, "last_backup")


def test_read_current_values_in_batches():
    client = FakeClient({uuid(n): {"last_backup": f"2026-11-0{n}"} for n in range(1, 6)})
    targets = [Target(uuid(n), f"r{n}") for n in range(1, 7)]
    current, unread, errors = read_current_values(client, targets, "last_backup", 2)
    assert [len(ids) for ids in client.reads] == [2, 2, 2]
    assert current == {uuid(n): f"2026-11-0{n}" for n in range(1, 6)}  # r6 is not in Nautobot
    assert unread == [] and errors == []


def test_read_failure_is_recorded_per_batch():
    client = FakeClient({uuid(1): {}}, fail_read=True)
    current, unread, errors = read_current_values(client, [Target(uuid(1), "r1")], "last_backup", 10)
    assert current == {} and [t.name for t in unread] == ["r1"]
    assert errors and "r1" in errors[0] and "HTTP 502" in errors[0] and URL in errors[0]


def test_write_values_bulk_patches_in_batches_and_survives_a_failed_batch():
    client = FakeClient({uuid(n): {} for n in range(1, 6)}, fail_patch={uuid(3)})
    targets = [Target(uuid(n), f"r{n}") for n in range(1, 6)]
    outcome = write_values(client, targets, "last_backup", "2026-11-24", 2)
    assert outcome.requests == 3
    assert [len(payload) for payload in client.patches] == [2, 2, 1]
    assert client.patches[0][0] == {"id": uuid(1), "custom_fields": {"last_backup": "2026-11-24"}}
    assert outcome.updated == ["r1", "r2", "r5"]
    assert outcome.failed == ["r3", "r4"]
    assert len(outcome.errors) == 1 and "r3, r4" in outcome.errors[0] and "HTTP 500" in outcome.errors[0]


def test_write_values_checks_the_answer():
    client = FakeClient({uuid(1): {}})  # uuid(2) was deleted meanwhile: Nautobot leaves it out of the answer
    outcome = write_values(client, [Target(uuid(1), "r1"), Target(uuid(2), "r2")], "last_backup", "2026-11-24", 10)
    assert outcome.updated == ["r1"] and outcome.failed == ["r2"]
    assert "did not apply last_backup=2026-11-24 to r2" in outcome.errors[0]


# --------------------------------------------------------------------------- the whole write-back
def test_update_writes_only_durable_changed_devices():
    values = {uuid(1): {"last_backup": "2026-11-23"}, uuid(2): {"last_backup": "2026-11-24"}, uuid(3): {}}
    client = FakeClient(values)
    devices = [device(1), device(2), device(3), device(4, ok=False, error="x")]
    result = update_backup_timestamps(client, devices, pushed=True, timestamp=INSTANT, batch_size=200)
    assert result.status.updated_count == 2 and result.status.failed_count == 0 and result.status.errors == []
    assert result.updated_devices == ["r1", "r3"] and result.skipped_devices == ["r2"]
    assert result.not_durable_devices == ["r4"] and result.changed and result.value == "2026-11-24"
    assert len(client.patches) == 1 and values[uuid(3)] == {"last_backup": "2026-11-24"}
    again = update_backup_timestamps(client, devices, pushed=True, timestamp="2026-11-24T23:59:59Z")
    assert again.status.updated_count == 0 and not again.changed and len(client.patches) == 1
    assert again.skipped_devices == ["r1", "r2", "r3"]
    assert "set last_backup=2026-11-24 on 0 device(s); 3 already up to date; 0 failed" == again.summary()


def test_update_does_nothing_when_not_pushed():
    client = FakeClient({uuid(1): {}})
    result = update_backup_timestamps(client, [device(1)], pushed=False, timestamp=INSTANT)
    assert client.reads == [] and client.patches == []
    assert result.status.enabled and result.status.updated_count == 0 and result.status.failed_count == 0
    assert len(result.status.errors) == 1 and "pushed is false" in result.status.errors[0]
    assert not result.changed


def test_update_in_check_mode_writes_nothing():
    client = FakeClient({uuid(1): {}, uuid(2): {"last_backup_iso": "2026-11-24T02:00:00+00:00"}})
    result = update_backup_timestamps(
        client, [device(1), device(2)], pushed=True, key="last_backup_iso", timestamp=INSTANT, check_mode=True
    )
    assert client.patches == [] and result.patch_requests == 0
    assert result.updated_devices == ["r1"] and result.skipped_devices == ["r2"] and result.changed
    assert result.summary().startswith("would set last_backup_iso=2026-11-24T02:00:00+00:00 on 1 device(s)")


def test_update_with_unknown_field_reports_instead_of_raising():
    client = FakeClient({uuid(1): {}})
    result = update_backup_timestamps(client, [device(1), device(2, ok=False)], pushed=True, key="lastbackup")
    assert client.patches == [] and result.status.failed_count == 1 and result.failed_devices == ["r1"]
    assert "'lastbackup' does not exist" in result.status.errors[0] and "last_backup (date)" in result.status.errors[0]
    assert result.summary().startswith("lastbackup not written: custom field 'lastbackup' does not exist")
    assert "(nothing written for 1 device(s))" in result.summary()


def test_update_counts_missing_and_id_less_devices_as_failed():
    client = FakeClient({uuid(1): {}})
    result = update_backup_timestamps(client, [device(1), device(2), device(3, device_id="")], True, timestamp=INSTANT)
    assert result.updated_devices == ["r1"] and sorted(result.failed_devices) == ["r2", "r3"]
    assert result.status.failed_count == 2 and len(result.status.errors) == 2


def test_update_rejects_bad_arguments_before_contacting_nautobot():
    client = FakeClient()
    with pytest.raises(WritebackError):
        update_backup_timestamps(client, [device(1)], pushed=True, timestamp="noon")
    with pytest.raises(WritebackError):
        update_backup_timestamps(client, [device(1)], pushed=True, batch_size=0)
    assert client.reads == [] and client.patches == []


def test_update_without_devices_does_not_contact_nautobot():
    client = FakeClient(fail_fields=True)
    result = update_backup_timestamps(client, [], pushed=True)
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
