"""custom_fields: the pure parts (parsing, planning) and apply against a recording client."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils import custom_fields as cf

STATUS = {"key": "last_backup_status", "type": "select", "choices": ["ok", "failed"]}
DATE = {"key": "last_backup", "label": "Last backup", "type": "date"}


def existing(
    key: str, kind: str, content_types=("dcim.device",), choices=(), field_id: str = "id-1"
) -> cf.ExistingField:
    return cf.ExistingField(field_id, key, kind, tuple(content_types), tuple(choices))


class Recorder:
    """A NautobotClient stand-in that records POST/PATCH and returns ids."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, str, Any]] = []

    def post(self, path: str, payload: Any) -> Dict[str, Any]:
        self.calls.append(("POST", path, payload))
        return {"id": f"new-{len(self.calls)}", **payload}

    def patch(self, path: str, payload: Any) -> Dict[str, Any]:
        self.calls.append(("PATCH", path, payload))
        return dict(payload)


def test_parse_defaults_the_label_and_checks_choices():
    specs = cf.parse_fields([DATE, {"key": "config_unsaved", "type": "boolean"}, STATUS])
    assert specs[1] == cf.FieldSpec("config_unsaved", "Config unsaved", "boolean")
    assert specs[2].choices == ("ok", "failed")


@pytest.mark.parametrize(
    "fields, message",
    [
        ([{"key": "", "type": "text"}], "fields[0] has no key"),
        ([{"key": "x", "type": "string"}], "'x' has type 'string'"),
        ([{"key": "x", "type": "select"}], "needs choices"),
        ([{"key": "x", "type": "text", "choices": ["a"]}], "only select fields have choices"),
        ([DATE, dict(DATE)], "listed twice"),
    ],
)
def test_parse_refuses_bad_fields(fields, message):
    with pytest.raises(cf.CustomFieldError, match=re.escape(message)):
        cf.parse_fields(fields)


def test_parse_existing_reads_rest_records_and_choices():
    records = [
        {
            "id": "a",
            "key": "last_backup_status",
            "type": {"value": "select", "label": "Selection"},
            "content_types": ["dcim.device"],
        },
        {"id": "b", "key": "net", "type": "text", "content_types": ["dcim.interface"]},
        {"key": ""},
    ]
    choices = [
        {"custom_field": {"id": "a"}, "value": "failed", "weight": 200},
        {"custom_field": {"id": "a"}, "value": "ok", "weight": 100},
    ]
    found = cf.parse_existing(records, choices)
    assert found["last_backup_status"] == existing(
        "last_backup_status", "select", choices=("ok", "failed"), field_id="a"
    )
    assert found["net"].content_types == ("dcim.interface",) and found["net"].choices == ()
    assert set(found) == {"last_backup_status", "net"}


def test_plan_creates_missing_fields():
    actions = cf.plan(cf.parse_fields([DATE, STATUS]), {})
    assert [a.to_dict() for a in actions] == [
        {"action": "create", "key": "last_backup"},
        {"action": "create", "key": "last_backup_status", "choices": ["ok", "failed"]},
    ]


def test_plan_is_empty_when_everything_is_right():
    have = {
        "last_backup": existing("last_backup", "date", ("dcim.device", "dcim.interface")),
        "last_backup_status": existing("last_backup_status", "select", choices=("failed", "ok", "unknown")),
    }
    assert cf.plan(cf.parse_fields([DATE, STATUS]), have) == []


def test_plan_adds_the_device_content_type_and_missing_choices():
    have = {
        "last_backup": existing("last_backup", "date", ("dcim.interface",), field_id="f1"),
        "last_backup_status": existing("last_backup_status", "select", choices=("ok",), field_id="f2"),
    }
    actions = cf.plan(cf.parse_fields([DATE, STATUS]), have)
    assert [a.to_dict() for a in actions] == [
        {"action": "add_content_type", "key": "last_backup", "content_types": ["dcim.interface", "dcim.device"]},
        {"action": "add_choices", "key": "last_backup_status", "choices": ["failed"]},
    ]


def test_plan_refuses_a_field_of_another_type_before_any_action():
    have = {"last_backup_error": existing("last_backup_error", "integer")}
    wanted = cf.parse_fields([DATE, {"key": "last_backup_error", "type": "text"}])
    with pytest.raises(cf.CustomFieldError, match="'last_backup_error' is integer, wanted text"):
        cf.plan(wanted, have)


def test_apply_sends_one_request_per_piece():
    wanted = cf.parse_fields([DATE, STATUS, {"key": "net", "type": "text"}])
    have = {"net": existing("net", "text", ("dcim.interface",), field_id="n1")}
    actions = cf.plan(wanted, have)
    client = Recorder()
    result = cf.apply(client, wanted, actions, have)
    assert result.write_requests == len(client.calls) == 5
    assert client.calls[0] == (
        "POST",
        cf.CUSTOM_FIELDS_PATH,
        {
            "key": "last_backup",
            "label": "Last backup",
            "type": "date",
            "description": "",
            "content_types": ["dcim.device"],
        },
    )
    assert [call[2]["value"] for call in client.calls[2:4]] == ["ok", "failed"]
    assert all(call[2]["custom_field"] == "new-2" for call in client.calls[2:4])
    assert client.calls[4] == (
        "PATCH",
        f"{cf.CUSTOM_FIELDS_PATH}n1/",
        {"content_types": ["dcim.interface", "dcim.device"]},
    )


def test_summary():
    assert "every custom field exists" in cf.summary([])
    actions = cf.plan(cf.parse_fields([DATE]), {})
    assert cf.summary(actions, check_mode=True) == "would create 'last_backup'"
