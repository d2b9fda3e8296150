"""The backup status in Nautobot end to end: playbooks/backup.yml, the lab, a real remote and the real Nautobot.

Every status field of every device after a first run with an auth failure and a timeout; an unchanged rerun on the
same day that writes nothing (PATCH requests counted from Nautobot's change log) and commits nothing; a config change
on one device that moves its last_config_change only; an unsaved change that sets config_unsaved and a save that
clears it; a push failure that writes no last_backup and says why. Runs are given their day with backup_timestamp.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from typing import Any, Dict, Set

import pytest
from test_backup_playbook import Bed
from test_nautobot_backup_status import device_update_requests

pytestmark = [pytest.mark.lab, pytest.mark.nautobot, pytest.mark.git]

GOOD = ("ios-r1", "ios-r2", "eos-s1")
FAILING = {"ios-authfail": "auth_failed", "ios-nobanner": "timeout"}
NAMES = GOOD + tuple(FAILING)
KEYS = (
    "last_backup",
    "last_backup_attempt",
    "last_backup_status",
    "last_backup_error",
    "config_unsaved",
    "last_config_change",
)
DAY1, DAY2, DAY3 = "2026-12-01", "2026-12-02", "2026-12-03"


@pytest.fixture
def bed(tmp_path, lab, nautobot_clean, git_remotes, lab_restore):
    for name in NAMES:
        lab_restore(name)
    yield Bed(tmp_path, lab, nautobot_clean, git_remotes)
    nautobot_clean.reset()  # the status written here must not reach later tests


def statuses(nautobot) -> Dict[str, Dict[str, Any]]:
    """Device name -> its six status fields as Nautobot holds them (an empty text reads as None)."""
    data = nautobot.graphql("{ devices { name _custom_field_data } }")
    found: Dict[str, Dict[str, Any]] = {}
    for record in data["devices"]:
        held = record["_custom_field_data"] or {}
        found[record["name"]] = {
            key: held.get(key) if key == "config_unsaved" else held.get(key) or None for key in KEYS
        }
    return found


def filtered(nautobot, **filters: str) -> Set[str]:
    """Names of the devices a device-list filter finds (the REST API takes the same cf_ filters as the web list)."""
    response = nautobot.request("GET", "/api/dcim/devices/", params={**filters, "limit": 1000})
    assert response.status_code == 200, response.text
    return {record["name"] for record in response.json()["results"]}


def run(bed: Bed, day: str, hour: str = "02") -> Dict[str, Any]:
    """backup.yml on NAMES at that day's time; return the report."""
    bed.run(NAMES, backup_timestamp=f"{day}T{hour}:00:00Z")
    return bed.report()


def test_every_status_field_through_failures_reruns_changes_and_saves(bed, lab):
    nautobot = bed.nautobot
    report = run(bed, DAY1)
    assert bed.last.returncode != 0, "two devices failed"
    assert {d["device_name"] for d in report["failed_devices"]} == set(FAILING), report["failed_devices"]
    first = statuses(nautobot)
    for name in GOOD:
        assert first[name] == {
            "last_backup": DAY1,
            "last_backup_attempt": DAY1,
            "last_backup_status": "ok",
            "last_backup_error": None,
            "config_unsaved": False,
            "last_config_change": DAY1,
        }, name
    messages = {d["device_name"]: d["error"] for d in report["failed_devices"]}
    for name, error_class in FAILING.items():
        status = first[name]
        assert status["last_backup"] is None and status["last_config_change"] is None, name
        assert status["last_backup_attempt"] == DAY1 and status["last_backup_status"] == "failed", name
        assert status["last_backup_error"] == f"{error_class}: {messages[name].splitlines()[0]}"[:200], status
        assert status["config_unsaved"] is None, name
    untouched = [name for name in first if name not in NAMES]
    assert untouched and all(not any(first[name].values()) for name in untouched), "devices not in the run"
    text = json.dumps(first)
    for what, secret in bed.secrets.items():
        assert secret not in text, what

    # The filters docs/docsite/rst/writeback.rst gives for the device list.
    assert filtered(nautobot, cf_last_backup_status="failed") == set(FAILING)
    assert filtered(nautobot, cf_last_backup__lt=DAY1) == set()  # a null date is not "before"
    assert filtered(nautobot, cf_last_config_change__gte=DAY1) == set(GOOD)

    # The same day again, nothing changed: no commit, no Nautobot write.
    commits, writes = len(bed.commits()), device_update_requests(nautobot)
    report = run(bed, DAY1, hour="05")
    assert len(bed.commits()) == commits, "no commit when nothing changed"
    assert device_update_requests(nautobot) == writes, "no PATCH request on an unchanged rerun"
    assert report["timestamp_update_status"]["updated_count"] == 0
    assert statuses(nautobot) == first

    # Day 2: ios-r2's running configuration changes and is not saved.
    lab.change_config("ios-r2")
    run(bed, DAY2)
    second = statuses(nautobot)
    assert second["ios-r2"]["last_config_change"] == DAY2 and second["ios-r2"]["config_unsaved"] is True
    assert filtered(nautobot, cf_config_unsaved="True") == {"ios-r2"}
    assert filtered(nautobot, cf_last_backup__lt=DAY2) == set()
    for name in GOOD:
        assert second[name]["last_backup"] == DAY2 and second[name]["last_backup_attempt"] == DAY2, name
        if name != "ios-r2":
            assert second[name]["last_config_change"] == DAY1 and second[name]["config_unsaved"] is False, name
    for name in FAILING:
        assert second[name]["last_backup"] is None and second[name]["last_backup_attempt"] == DAY2, name
        assert second[name]["last_backup_error"] == first[name]["last_backup_error"], name

    # Day 3: ios-r2 is saved (startup = running): unsaved clears; its saved startup is a change in Git.
    snapshot = lab.snapshot("ios-r2")
    lab.restore("ios-r2", {**snapshot, "startup": snapshot["running"]})
    run(bed, DAY3)
    third = statuses(nautobot)
    assert third["ios-r2"]["config_unsaved"] is False and third["ios-r2"]["last_config_change"] == DAY3
    assert third["ios-r1"]["last_config_change"] == DAY1 and third["eos-s1"]["last_config_change"] == DAY1


def test_push_failure_writes_no_last_backup_and_says_why(bed, lab):
    nautobot = bed.nautobot
    names = GOOD[:2]
    bed.run(names, backup_timestamp=f"{DAY1}T02:00:00Z")
    assert bed.last.returncode == 0, bed.output()
    # The remote now refuses pushes (HTTP 403 on receive-pack): day 2's backup of a changed device cannot land.
    subprocess.run(["git", f"--git-dir={bed.remote}", "config", "http.receivepack", "false"], check=True)
    lab.change_config("ios-r2")
    bed.run(names, backup_timestamp=f"{DAY2}T02:00:00Z")
    assert bed.last.returncode != 0
    report = bed.report()
    assert report["git_commit_status"]["pushed"] is False and report["git_commit_status"]["error"]
    now = statuses(nautobot)
    for name in names:
        status = now[name]
        assert status["last_backup"] == DAY1, f"{name}: no last_backup when the push failed"
        assert status["last_config_change"] == DAY1, name
        assert status["last_backup_attempt"] == DAY2 and status["last_backup_status"] == "failed", name
        assert status["last_backup_error"].startswith("push: "), status
        assert bed.git.http_password not in status["last_backup_error"]
    assert now["ios-r2"]["config_unsaved"] is True, "what the device said still counts"
    assert filtered(nautobot, cf_last_backup__lt=DAY2) == set(names), "no backup since day 2: the stale-backup filter"
    assert report["timestamp_update_status"]["updated_count"] == 2


def test_an_empty_last_config_change_is_filled_from_the_checkout_history(bed):
    """The field created after the device's last change: the next run takes the date from Git, not from the run."""
    nautobot = bed.nautobot
    before = datetime.now(UTC).date().isoformat()
    bed.run(GOOD[:1], backup_timestamp=f"{DAY1}T02:00:00Z", backup_status_fields={"last_config_change": ""})
    assert bed.last.returncode == 0, bed.output()
    assert statuses(nautobot)["ios-r1"]["last_config_change"] is None
    bed.run(GOOD[:1], backup_timestamp=f"{DAY2}T02:00:00Z")  # nothing changed on the device
    assert bed.last.returncode == 0, bed.output()
    assert bed.report()["backed_up_devices"][0]["changed"] is False
    # The commit of the first run was made now (its author date), whatever backup_timestamp said.
    assert statuses(nautobot)["ios-r1"]["last_config_change"] in {before, datetime.now(UTC).date().isoformat()}
