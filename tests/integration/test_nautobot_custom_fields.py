"""playbooks/create_status_fields.yml (nautobot_custom_fields) against the real Nautobot, through ansible-playbook.

The test bed's baseline has ``last_backup`` (date) on dcim.device; the seed adds the other status fields, which
the ``bed`` fixture removes first, so that they are created here. Each
test starts from the seeded database and resets it afterwards. Fields are read back with the admin token; writes
are counted from the module's ``write_requests`` and from Nautobot's own change log.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Sequence, Set

import pytest

from testbed.ansible_run import run_playbook

pytestmark = [pytest.mark.nautobot]

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "create_status_fields.yml"
# The status fields and their types (playbooks/vars/status_fields.yml).
STATUS_TYPES = {
    "last_backup": "date",
    "last_backup_attempt": "date",
    "last_backup_status": "select",
    "last_backup_error": "text",
    "config_unsaved": "boolean",
    "last_config_change": "date",
}
WRAPPER = """
- name: The playbook under test
  ansible.builtin.import_playbook: {playbook}

- name: Record its result
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Record the result
      ansible.builtin.copy:
        content: "{{{{ nautobot_backup_status_fields_result | to_nice_json }}}}"
        dest: "{{{{ result_file }}}}"
        mode: "0600"
      check_mode: false
"""


@pytest.fixture
def bed(nautobot_clean) -> Iterator[Any]:
    """The seeded Nautobot without the status fields the seed made (but last_backup), reset again after the test.

    The seeded test bed is a Nautobot whose administrator already created the status fields (backup.yml's
    write-back needs them); these tests start from one where only last_backup exists, as before the upgrade.
    """
    response = nautobot_clean.request("GET", "/api/extras/custom-fields/", params={"limit": 1000})
    assert response.status_code == 200, response.text
    for record in response.json()["results"]:
        if record["key"] in STATUS_TYPES and record["key"] != "last_backup":
            deleted = nautobot_clean.request("DELETE", f"/api/extras/custom-fields/{record['id']}/")
            assert deleted.status_code == 204, deleted.text
    yield nautobot_clean
    nautobot_clean.reset()


class Runner:
    """Runs create_status_fields.yml with NAUTOBOT_URL/NAUTOBOT_TOKEN set and returns the module's result."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.wrapper = tmp_path / "wrapper.yml"
        self.wrapper.write_text(WRAPPER.format(playbook=PLAYBOOK), encoding="utf-8")
        self.inventory = tmp_path / "hosts.ini"
        self.inventory.write_text(
            f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n", encoding="utf-8"
        )
        self.output = ""
        self.rc = 0

    def run(self, nautobot: Any, args: Sequence[str] = (), extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Run the playbook and return the module's result ({} when it failed: the play stops, read self.output)."""
        result_file = self.tmp / "result.json"
        result_file.unlink(missing_ok=True)
        done = run_playbook(
            self.wrapper,
            self.inventory,
            extra_vars={"result_file": str(result_file), **(extra or {})},
            args=args,
            env={"NAUTOBOT_URL": nautobot.url, "NAUTOBOT_TOKEN": nautobot.admin_token},
            timeout=300,
        )
        self.output = done.stdout + done.stderr
        self.rc = done.returncode
        if result_file.exists():
            return json.loads(result_file.read_text(encoding="utf-8"))
        return {}


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


def fields(nautobot) -> Dict[str, Dict[str, Any]]:
    """Every custom field in Nautobot by key (REST, all in one page)."""
    response = nautobot.request("GET", "/api/extras/custom-fields/", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return {record["key"]: record for record in response.json()["results"]}


def choices(nautobot, field_id: str) -> Set[str]:
    response = nautobot.request("GET", "/api/extras/custom-field-choices/", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return {
        record["value"] for record in response.json()["results"] if (record["custom_field"] or {}).get("id") == field_id
    }


def field_changes(nautobot) -> int:
    """Change log entries of custom fields and their choices."""
    total = 0
    for kind in ("extras.customfield", "extras.customfieldchoice"):
        response = nautobot.request(
            "GET", "/api/extras/object-changes/", params={"changed_object_type": kind, "limit": 1000}
        )
        assert response.status_code == 200, response.text
        total += response.json()["count"]
    return total


def type_of(record: Dict[str, Any]) -> str:
    kind = record["type"]
    return kind["value"] if isinstance(kind, dict) else kind


def create(nautobot, key: str, kind: str, content_types: Sequence[str]) -> None:
    """Create a custom field directly (a field an administrator made before)."""
    response = nautobot.request(
        "POST",
        "/api/extras/custom-fields/",
        json={"key": key, "label": key, "type": kind, "content_types": list(content_types)},
    )
    assert response.status_code == 201, response.text


def test_first_run_creates_the_fields_and_the_second_changes_nothing(runner, bed):
    nautobot = bed
    assert "last_backup" in fields(nautobot) and "last_backup_status" not in fields(nautobot)
    first = runner.run(nautobot)
    assert runner.rc == 0, runner.output
    assert first["changed"] is True
    created = sorted(action["key"] for action in first["actions"] if action["action"] == "create")
    assert created == sorted(set(STATUS_TYPES) - {"last_backup"})  # last_backup exists in the baseline
    assert first["write_requests"] == 5 + 2  # five fields and the two choices of last_backup_status
    now = fields(nautobot)
    for key, kind in STATUS_TYPES.items():
        assert type_of(now[key]) == kind, key
        assert "dcim.device" in now[key]["content_types"], key
    assert now["last_backup_status"]["label"] == "Last backup status"
    assert choices(nautobot, now["last_backup_status"]["id"]) == {"ok", "failed"}

    logged = field_changes(nautobot)
    second = runner.run(nautobot)
    assert runner.rc == 0, runner.output
    assert second["changed"] is False and second["actions"] == [] and second["write_requests"] == 0
    assert "every custom field exists" in second["msg"]
    assert field_changes(nautobot) == logged, "a second run must not write"
    assert fields(nautobot).keys() == now.keys()


def test_check_mode_reports_and_creates_nothing(runner, bed):
    nautobot = bed
    logged = field_changes(nautobot)
    result = runner.run(nautobot, args=["--check"])
    assert runner.rc == 0, runner.output
    assert result["changed"] is True and result["write_requests"] == 0
    assert len(result["actions"]) == 5 and "would create 'last_backup_attempt'" in result["msg"]
    assert "last_backup_attempt" not in fields(nautobot)
    assert field_changes(nautobot) == logged


def test_a_field_of_another_type_fails_naming_it_and_nothing_is_created(runner, bed):
    nautobot = bed
    create(nautobot, "last_backup_error", "integer", ["dcim.device"])
    runner.run(nautobot)
    assert runner.rc != 0
    assert "'last_backup_error' is integer, wanted text" in runner.output, runner.output
    assert nautobot.admin_token not in runner.output
    now = fields(nautobot)
    assert type_of(now["last_backup_error"]) == "integer"  # never retyped
    assert "last_backup_attempt" not in now  # the conflict stops the run before any change


def test_an_existing_field_gets_dcim_device_added(runner, bed):
    nautobot = bed
    create(nautobot, "last_config_change", "date", ["dcim.interface"])
    result = runner.run(nautobot)
    assert runner.rc == 0, runner.output
    assert {
        "action": "add_content_type",
        "key": "last_config_change",
        "content_types": ["dcim.interface", "dcim.device"],
    } in result["actions"]
    assert set(fields(nautobot)["last_config_change"]["content_types"]) == {"dcim.interface", "dcim.device"}
    assert runner.run(nautobot)["changed"] is False


def test_keys_can_be_changed_or_left_out(runner, bed):
    nautobot = bed
    result = runner.run(
        nautobot,
        extra={"backup_status_fields": {"last_backup_status": "backup_state", "config_unsaved": ""}},
    )
    assert runner.rc == 0, runner.output
    assert "backup_state" in result["fields"] and "config_unsaved" not in result["fields"]
    now = fields(nautobot)
    assert type_of(now["backup_state"]) == "select" and "last_backup_status" not in now and "config_unsaved" not in now
