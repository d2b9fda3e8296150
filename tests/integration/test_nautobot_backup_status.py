"""nautobot_backup_status against the real, seeded Nautobot, through ansible-playbook on localhost.

Every test that writes starts from the freshly seeded database and resets it afterwards (``bed``). Values are checked by
reading Nautobot back with the admin token; PATCH requests are counted from Nautobot's own
change log (one request id per bulk PATCH). Failures (read-only token, nothing listening,
HTTP 500, a hanging server) must be reported in the result, naming the URL, never the token.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set

import pytest

from testbed.ansible_run import run_playbook
from testbed.http_faults import FaultServer
from testbed.procs import free_port

pytestmark = [pytest.mark.nautobot]

# These tests are about how a value gets written (batches, reruns, failures), shown on last_backup alone; the other
# five statuses are turned off unless a test passes status_fields. tests/integration/test_status_writeback.py
# checks all six through backup.yml.
ONLY_LAST_BACKUP = {
    key: ""
    for key in (
        "last_backup_attempt",
        "last_backup_status",
        "last_backup_error",
        "config_unsaved",
        "last_config_change",
    )
}
TIMESTAMP = "2026-11-24T02:00:00Z"
DATE = "2026-11-24"
ISO = "2026-11-24T02:00:00+00:00"

PLAYBOOK = """
- name: Write the backup date back to Nautobot
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write back
      netops.nautobot_backup.nautobot_backup_status:
        token: "{{ lookup('ansible.builtin.env', 'WB_EXPLICIT_TOKEN') | default(omit, true) }}"
        custom_field: "{{ custom_field | default(omit) }}"
        status_fields: "{{ status_fields | default(omit) }}"
        devices: "{{ devices | default([]) }}"
        pushed: "{{ pushed | default(true) }}"
        timestamp: "{{ timestamp | default(omit) }}"
        batch_size: "{{ batch_size | default(omit) }}"
        concurrency: "{{ concurrency | default(omit) }}"
        validate_only: "{{ validate_only | default(false) }}"
        timeout: "{{ nb_timeout | default(omit) }}"
      register: writeback
      ignore_errors: true

    - name: Record the result
      ansible.builtin.copy:
        content: "{{ writeback | to_nice_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
      check_mode: false
"""

GROUP_PLAYBOOK = """
- name: Connection options from module_defaults
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/netops.nautobot_backup.nautobot:
      url: "{{ lookup('ansible.builtin.env', 'WB_URL') }}"
      token: "{{ lookup('ansible.builtin.env', 'WB_TOKEN') }}"
  tasks:
    - name: Pre-flight
      netops.nautobot_backup.nautobot_backup_status:
        validate_only: true
      register: writeback

    - name: Record the result
      ansible.builtin.copy:
        content: "{{ writeback | to_nice_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


class Runner:
    """Runs the write-back playbook with url/token from the environment and returns the registered result."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.playbook = tmp_path / "writeback.yml"
        self.playbook.write_text(PLAYBOOK, encoding="utf-8")
        self.inventory = tmp_path / "hosts.ini"
        self.inventory.write_text(
            f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n", encoding="utf-8"
        )
        self.output = ""

    def run(
        self,
        url: str,
        token: str,
        args: Sequence[str] = (),
        explicit_token: bool = False,
        playbook: Optional[Path] = None,
        env_extra: Optional[Dict[str, str]] = None,
        **extra: Any,
    ) -> Dict[str, Any]:
        """Run the playbook with NAUTOBOT_URL/NAUTOBOT_TOKEN set; return the task result (also when it failed).

        With explicit_token the token is also passed as the task's ``token`` argument.
        """
        result_file = self.tmp / "result.json"
        result_file.unlink(missing_ok=True)
        extra.setdefault("status_fields", ONLY_LAST_BACKUP)
        env = {"NAUTOBOT_URL": url, "NAUTOBOT_TOKEN": token, **(env_extra or {})}
        if explicit_token:
            env["WB_EXPLICIT_TOKEN"] = token
        done = run_playbook(
            playbook or self.playbook,
            self.inventory,
            extra_vars={"result_file": str(result_file), **extra},
            args=args,
            env=env,
            timeout=300,
        )
        self.output = done.stdout + done.stderr
        assert result_file.exists(), self.output
        return json.loads(result_file.read_text(encoding="utf-8"))


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    """A playbook runner in the test's temporary directory."""
    return Runner(tmp_path)


@pytest.fixture
def bed(nautobot_clean) -> Iterator[Any]:
    """The seeded Nautobot, reset before the test and again after it.

    Later tests that use the session fixture without a reset (test_nautobot_bed.py expects no
    last_backup values) must not see what these tests wrote.
    """
    yield nautobot_clean
    nautobot_clean.reset()


def device_ids(nautobot) -> Dict[str, str]:
    """Device name -> Nautobot id."""
    data = nautobot.graphql("{ devices { id name } }")
    return {record["name"]: record["id"] for record in data["devices"]}


def field_values(nautobot, key: str) -> Dict[str, Any]:
    """Device name -> current value of custom field key (None when unset)."""
    data = nautobot.graphql("{ devices { name _custom_field_data } }")
    return {record["name"]: (record["_custom_field_data"] or {}).get(key) for record in data["devices"]}


def device_results(ids: Dict[str, str], ok: Sequence[str], failed: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """DeviceBackupInfo-like results: ok devices backed up, failed devices with an error."""
    results = [
        {"device_id": ids[name], "device_name": name, "running_config_success": True, "changed": True} for name in ok
    ]
    results += [
        {
            "device_id": ids[name],
            "device_name": name,
            "running_config_success": False,
            "error": "SSH timeout",
            "error_class": "timeout",
        }
        for name in failed
    ]
    return results


def device_update_requests(nautobot) -> Set[str]:
    """Request ids of every device update in Nautobot's change log."""
    response = nautobot.request(
        "GET", "/api/extras/object-changes/", params={"changed_object_type": "dcim.device", "limit": 1000}
    )
    assert response.status_code == 200, response.text
    return {entry["request_id"] for entry in response.json()["results"] if entry["action"]["value"] == "update"}


def split(nautobot, count_ok: int = 5) -> tuple:
    """Device ids, the first count_ok names (backed up) and the rest (failed)."""
    ids = device_ids(nautobot)
    names = sorted(ids)
    return ids, names[:count_ok], names[count_ok:]


def status_of(result: Dict[str, Any]) -> Dict[str, Any]:
    """The TimestampUpdateStatus of a result."""
    return result["timestamp_update_status"]


# ------------------------------------------------------------------------------- writing
def test_writes_the_date_on_exactly_the_durable_devices(runner, bed):
    nautobot = bed
    ids, ok, failed = split(nautobot)
    before = device_update_requests(nautobot)
    result = runner.run(
        nautobot.url, nautobot.admin_token, devices=device_results(ids, ok, failed), timestamp=TIMESTAMP
    )
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert status_of(result) == {
        "enabled": True,
        "custom_field_name": "last_backup",
        "updated_count": len(ok),
        "failed_count": 0,
        "errors": [],
    }
    assert sorted(result["updated_devices"]) == sorted(ok)
    assert sorted(result["not_durable_devices"]) == sorted(failed)
    assert result["value"] == DATE and result["custom_field"]["type"] == "date"
    values = field_values(nautobot, "last_backup")
    assert {name for name, value in values.items() if value == DATE} == set(ok)
    assert all(values[name] is None for name in failed)
    assert field_values(nautobot, "last_backup_iso") == dict.fromkeys(values)  # no other field touched
    assert len(device_update_requests(nautobot) - before) == 1 == result["patch_requests"]  # one bulk PATCH


def test_text_field_gets_iso_8601(runner, bed):
    nautobot = bed
    ids, ok, failed = split(nautobot, 3)
    result = runner.run(
        nautobot.url,
        nautobot.admin_token,
        devices=device_results(ids, ok, failed),
        custom_field="last_backup_iso",
        timestamp="2026-11-24T03:00:00+01:00",
    )
    assert status_of(result)["updated_count"] == 3 and result["value"] == ISO
    values = field_values(nautobot, "last_backup_iso")
    assert {name for name, value in values.items() if value == ISO} == set(ok)
    assert all(value is None for value in field_values(nautobot, "last_backup").values())


def test_rerun_writes_nothing(runner, bed):
    nautobot = bed
    ids, ok, failed = split(nautobot)
    devices = device_results(ids, ok, failed)
    first = runner.run(nautobot.url, nautobot.admin_token, devices=devices, timestamp=TIMESTAMP)
    assert status_of(first)["updated_count"] == len(ok)
    before = device_update_requests(nautobot)
    again = runner.run(nautobot.url, nautobot.admin_token, devices=devices, timestamp=TIMESTAMP)
    later_same_day = runner.run(nautobot.url, nautobot.admin_token, devices=devices, timestamp="2026-11-24T21:15:00Z")
    for result in (again, later_same_day):
        assert result["changed"] is False
        assert status_of(result)["updated_count"] == 0 and status_of(result)["errors"] == []
        assert sorted(result["skipped_devices"]) == sorted(ok) and result["patch_requests"] == 0
    assert device_update_requests(nautobot) == before, "an unchanged rerun must not write"
    next_day = runner.run(nautobot.url, nautobot.admin_token, devices=devices, timestamp="2026-11-25T02:00:00Z")
    assert status_of(next_day)["updated_count"] == len(ok) and next_day["changed"] is True


def test_not_pushed_writes_nothing(runner, bed):
    nautobot = bed
    ids, ok, failed = split(nautobot)
    before = device_update_requests(nautobot)
    result = runner.run(
        nautobot.url, nautobot.admin_token, devices=device_results(ids, ok, failed), pushed=False, timestamp=TIMESTAMP
    )
    assert not result.get("failed") and result["changed"] is False
    status = status_of(result)
    assert status["enabled"] is True and status["updated_count"] == 0 and status["failed_count"] == 0
    assert len(status["errors"]) == 1 and "pushed is false" in status["errors"][0]
    assert all(value is None for value in field_values(nautobot, "last_backup").values())
    assert device_update_requests(nautobot) == before


def test_check_mode_writes_nothing(runner, bed):
    nautobot = bed
    ids, ok, failed = split(nautobot)
    result = runner.run(
        nautobot.url,
        nautobot.admin_token,
        args=("--check",),
        devices=device_results(ids, ok, failed),
        timestamp=TIMESTAMP,
    )
    assert result["changed"] is True and status_of(result)["updated_count"] == len(ok)
    assert sorted(result["updated_devices"]) == sorted(ok) and result["patch_requests"] == 0
    assert all(value is None for value in field_values(nautobot, "last_backup").values())


def test_batch_size_splits_the_patch_requests(runner, bed):
    nautobot = bed
    ids, ok, failed = split(nautobot, 5)
    before = device_update_requests(nautobot)
    result = runner.run(
        nautobot.url, nautobot.admin_token, devices=device_results(ids, ok, failed), timestamp=TIMESTAMP, batch_size=2
    )
    assert status_of(result)["updated_count"] == 5 and result["patch_requests"] == 3
    assert len(device_update_requests(nautobot) - before) == 3, "5 devices by 2 is 3 bulk PATCH requests"
    assert {name for name, value in field_values(nautobot, "last_backup").items() if value == DATE} == set(ok)


def test_concurrent_patch_requests_write_what_one_at_a_time_writes(runner, bed):
    nautobot = bed
    ids, ok, failed = split(nautobot, 5)
    before = device_update_requests(nautobot)
    result = runner.run(
        nautobot.url,
        nautobot.admin_token,
        devices=device_results(ids, ok, failed),
        timestamp=TIMESTAMP,
        batch_size=2,
        concurrency=3,
    )
    assert status_of(result)["updated_count"] == 5 and status_of(result)["failed_count"] == 0
    assert result["patch_requests"] == 3 and len(device_update_requests(nautobot) - before) == 3
    in_order = [name for name in [*ok, *failed] if name in result["updated_devices"]]
    assert result["updated_devices"] == in_order, "in batch order, as one request at a time"
    assert {name for name, value in field_values(nautobot, "last_backup").items() if value == DATE} == set(ok)
    again = runner.run(
        nautobot.url,
        nautobot.admin_token,
        devices=device_results(ids, ok, failed),
        timestamp=TIMESTAMP,
        batch_size=2,
        concurrency=3,
    )
    assert again["changed"] is False and again["patch_requests"] == 0, "(idempotency)"


def test_deleted_device_is_reported_and_others_are_written(runner, bed):
    nautobot = bed
    ids, ok, failed = split(nautobot, 3)
    devices = device_results(ids, ok, failed)
    gone = ok[0]
    assert nautobot.request("DELETE", f"/api/dcim/devices/{ids[gone]}/").status_code == 204
    result = runner.run(nautobot.url, nautobot.admin_token, devices=devices, timestamp=TIMESTAMP)
    assert status_of(result)["updated_count"] == 2 and status_of(result)["failed_count"] == 1
    assert result["failed_devices"] == [gone] and gone in status_of(result)["errors"][0]


def test_module_defaults_group_sets_the_connection(runner, nautobot):
    playbook = runner.tmp / "group.yml"
    playbook.write_text(GROUP_PLAYBOOK, encoding="utf-8")
    real = {"WB_URL": nautobot.url, "WB_TOKEN": nautobot.admin_token}
    result = runner.run("http://127.0.0.1:9", "0" * 40, playbook=playbook, env_extra=real)  # env fallbacks would fail
    assert not result.get("failed"), result
    assert result["custom_field"]["key"] == "last_backup"


# ------------------------------------------------------------------------------- wrong field
def test_unknown_field_is_a_clear_error(runner, bed):
    nautobot = bed
    ids, ok, failed = split(nautobot)
    for validate_only in (True, False):
        result = runner.run(
            nautobot.url,
            nautobot.admin_token,
            devices=device_results(ids, ok, failed),
            custom_field="last_bakup",
            validate_only=validate_only,
        )
        message = result["msg"]
        assert "custom field 'last_bakup' (last_backup) does not exist on dcim.device" in message, result
        assert nautobot.url in message and "last_backup (date), last_backup_attempt (date)" in message
        assert "create_status_fields.yml" in message
        assert bool(result.get("failed")) is validate_only
        assert "last_bakup" in status_of(result)["errors"][0]
    assert status_of(result)["failed_count"] == len(ok) and result["changed"] is False
    assert all(value is None for value in field_values(nautobot, "last_backup").values())


def test_validate_only_passes_for_an_existing_field_and_writes_nothing(runner, bed):
    nautobot = bed
    before = device_update_requests(nautobot)
    result = runner.run(nautobot.url, nautobot.admin_token, validate_only=True, custom_field="last_backup_iso")
    assert not result.get("failed") and result["changed"] is False
    assert result["custom_field"] == {"key": "last_backup_iso", "type": "text", "label": "Last backup (ISO-8601)"}
    assert device_update_requests(nautobot) == before


def test_field_of_another_type_is_rejected(runner, bed):
    nautobot = bed
    payload = {"key": "backup_count", "label": "Backup count", "type": "integer", "content_types": ["dcim.device"]}
    created = nautobot.request("POST", "/api/extras/custom-fields/", json=payload)
    assert created.status_code == 201, created.text
    result = runner.run(nautobot.url, nautobot.admin_token, validate_only=True, custom_field="backup_count")
    assert result.get("failed") and "'backup_count' (last_backup) is of type integer" in result["msg"]


# ------------------------------------------------------------------------------- permissions
def test_readonly_token(runner, bed):
    """Without view on custom fields the check fails; with it, the PATCH gets 403: reported, not a crash."""
    nautobot = bed
    ids, ok, failed = split(nautobot)
    devices = device_results(ids, ok, failed)
    token = nautobot.readonly_token
    pre = runner.run(nautobot.url, token, validate_only=True)
    assert pre.get("failed") and "HTTP 403" in pre["msg"] and "extras.customfield" in pre["msg"]
    check = runner.run(nautobot.url, token, devices=devices, timestamp=TIMESTAMP)
    assert not check.get("failed") and status_of(check)["failed_count"] == len(ok)

    readonly = nautobot.request("GET", "/api/users/users/", params={"username": "readonly"}).json()["results"][0]
    grant = {
        "name": "readonly-customfield-view",
        "object_types": ["extras.customfield", "extras.customfieldchoice"],
        "actions": ["view"],
        "users": [readonly["id"]],
        "enabled": True,
    }
    assert nautobot.request("POST", "/api/users/permissions/", json=grant).status_code == 201
    pre = runner.run(nautobot.url, token, validate_only=True)
    assert pre.get("failed") and "change permission on dcim.device" in pre["msg"] and "HTTP 403" in pre["msg"]
    result = runner.run(nautobot.url, token, devices=devices, timestamp=TIMESTAMP, batch_size=2)
    assert not result.get("failed"), result
    assert result["changed"] is False and status_of(result)["updated_count"] == 0
    assert status_of(result)["failed_count"] == len(ok) and sorted(result["failed_devices"]) == sorted(ok)
    errors = status_of(result)["errors"]
    assert len(errors) == 3 and all("HTTP 403" in error and nautobot.url in error for error in errors)
    assert all(name in " ".join(errors) for name in ok)
    assert token not in runner.output and token not in json.dumps(result)
    assert all(value is None for value in field_values(nautobot, "last_backup").values())


# ------------------------------------------------------------------------------- broken Nautobot
def _assert_reported(result: Dict[str, Any], url: str, token: str, reason: str, output: str, devices: int) -> None:
    assert not result.get("failed"), "a write-back failure must not fail the task"
    status = status_of(result)
    assert status["failed_count"] == devices and status["updated_count"] == 0 and result["changed"] is False
    assert status["errors"] and url in status["errors"][0] and reason in status["errors"][0], status
    assert token not in output and token not in json.dumps(result)


def test_unreachable_nautobot_is_reported(runner, nautobot):
    url = f"http://127.0.0.1:{free_port()}"
    ids, ok, failed = split(nautobot)
    token = nautobot.admin_token
    result = runner.run(url, token, args=("-vvv",), devices=device_results(ids, ok, failed), explicit_token=True)
    _assert_reported(result, url, token, "Connection refused", runner.output, len(ok))
    pre = runner.run(url, token, args=("-vvv",), validate_only=True, explicit_token=True)
    assert pre.get("failed") and url in pre["msg"] and "Connection refused" in pre["msg"]
    assert token not in runner.output


@pytest.mark.parametrize(
    ("fault_server", "reason", "timeout"),
    [("http_500", "HTTP 500", 30), ("not_json", "not JSON", 30), ("hang", "did not answer within 2s", 2)],
    indirect=["fault_server"],
)
def test_broken_nautobot_is_reported(runner, nautobot, fault_server: FaultServer, reason, timeout):
    ids, ok, failed = split(nautobot)
    token = nautobot.admin_token
    result = runner.run(
        fault_server.url,
        token,
        args=("-vvv",),
        devices=device_results(ids, ok, failed),
        nb_timeout=timeout,
        explicit_token=True,
    )
    _assert_reported(result, fault_server.url, token, reason, runner.output, len(ok))
    assert fault_server.requests, "the module never contacted the server"
    pre = runner.run(fault_server.url, token, args=("-vvv",), validate_only=True, nb_timeout=timeout)
    assert pre.get("failed") and fault_server.url in pre["msg"] and reason in pre["msg"]
    assert token not in runner.output
