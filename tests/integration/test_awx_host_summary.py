"""Every device in AWX's host summary: a batch backup of 60 lab devices run the way AWX runs a job
(ansible-runner), 6 of them refusing the password and 5 with a changed configuration. The
playbook_on_stats event (what AWX builds its host summary from) lists every device with its own status,
and the set_stats artifact backup_run stays small and names the failures with their class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import yaml

from lab.client import LabClient
from lab.lifecycle import start_lab, stop_lab
from testbed.runner import AwxJob, JobResult, awx_variables

pytestmark = [pytest.mark.lab, pytest.mark.nautobot, pytest.mark.git]

DEVICES = 60
FAILING = 6
CHANGED = 5
ARTIFACT_LIMIT = 16 * 1024


@pytest.fixture(scope="module")
def summary_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabClient]:
    """60 generated devices of every platform, on their own free port; stopped by PID at the end."""
    base: Path = tmp_path_factory.mktemp("summary-lab")
    spec = {
        "defaults": {"username": "netops", "password": "Summary-Pass-3e7a90", "secret": "Summary-Enable-c41f2b"},
        "network": "127.8.0.0/16",
        "generate": {"count": DEVICES, "prefix": "sum", "platforms": ["cisco_ios", "cisco_nxos", "arista_eos",
                                                                      "juniper_junos", "cisco_xr"],
                     "sites": ["BER1", "MUC1", "LON1"]},
    }
    spec_path = base / "spec.yml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    try:
        yield start_lab(spec_path, base / "state", port=0, timeout=120)
    finally:
        stop_lab(base / "state")


@pytest.fixture(scope="module")
def summary_nautobot(nautobot, summary_lab):
    """The session Nautobot loaded with the 60 devices instead of its own, which are put back afterwards."""
    original = list(nautobot.devices)
    devices = [dict(device) for device in summary_lab.devices]
    try:
        nautobot.instance.seed(devices)
        nautobot.devices = devices
        yield nautobot
    finally:
        nautobot.instance.seed(original)
        nautobot.devices = original


def backup_job(tmp: Path, ident: str, lab: LabClient, nautobot, remotes, **survey: Any) -> AwxJob:
    """A manual backup job as AWX launches it (batch mode, the default), all devices, one checkout for every job."""
    device = lab.devices[0]
    extravars: Dict[str, Any] = {
        "backup_repo_url": remotes.http_url,
        "backup_repo_branch": "main",
        "backup_write_timestamp": "true",
        "backup_repo_dir": str(tmp / "checkout"),
        "backup_report_path": str(tmp / f"{ident}-report.json"),
        "backup_read_timeout": 20,
        "backup_repo_username": remotes.http_username,
        **survey,
    }
    extravars.update(awx_variables(job_id=int(ident.split("-")[1]), template="Nautobot backup - backup"))
    return AwxJob(
        base=tmp / "jobs",
        ident=ident,
        playbook="playbooks/backup.yml",
        inventory={"plugin": "netops.nautobot_backup.nautobot",
                   "compose": {"ansible_port": lab.port, "ansible_host_key_checking": True}},
        extravars=extravars,
        envvars={
            "NAUTOBOT_URL": nautobot.url,
            "NAUTOBOT_TOKEN": nautobot.admin_token,
            "NB_BACKUP_GIT_TOKEN": remotes.http_password,
            "NB_BACKUP_GIT_USERNAME": remotes.http_username,
        },
        machine={"username": device["username"], "password": device["password"],
                 "become_password": device["secret"]},
        machine_mode="extravars",
    )


def statuses(result: JobResult) -> Dict[str, str]:
    """Each host's status as AWX's host summary shows it: failed, changed or ok."""
    status: Dict[str, str] = {}
    for host, counters in result.recap().items():
        if counters.get("failures") or counters.get("dark"):
            status[host] = "failed"
        elif counters.get("changed"):
            status[host] = "changed"
        else:
            status[host] = "ok"
    return status


def test_every_device_has_its_own_status_in_the_host_summary(tmp_path, summary_lab, summary_nautobot, git_remotes):
    lab, nautobot = summary_lab, summary_nautobot
    names: List[str] = sorted(device["name"] for device in lab.devices)
    assert len(names) == DEVICES
    # Spread out, and the first device of the play (which runs the run-once steps) among the unchanged ones.
    failing = set(names[3::10][:FAILING])
    changed = set(name for name in names[7::11] if name not in failing)
    changed = set(sorted(changed)[:CHANGED])
    assert len(failing) == FAILING and len(changed) == CHANGED and names[0] not in failing | changed
    for name in failing:
        lab.set_faults(name, ["auth_failure"])

    first = backup_job(tmp_path, "job-1401", lab, nautobot, git_remotes).run()
    assert (first.status, first.rc) == ("failed", 2), first.stdout()[-3000:]
    # A first backup: every durable device's file is new.
    assert statuses(first) == {name: "failed" if name in failing else "changed" for name in names}

    for name in changed:
        lab.change_config(name)
    result = backup_job(tmp_path, "job-1402", lab, nautobot, git_remotes).run()
    assert (result.status, result.rc) == ("failed", 2), result.stdout()[-3000:]

    expected = {name: "failed" if name in failing else "changed" if name in changed else "ok" for name in names}
    assert statuses(result) == expected
    # The failed devices fail with their class in the message (the last play of backup.yml).
    failed_events = result.host_events("runner_on_failed")
    assert set(failed_events) == failing
    for name in failing:
        messages = " ".join(str(e["event_data"].get("res", {}).get("msg", "")) for e in failed_events[name])
        assert "auth_failed" in messages, (name, messages)
    assert not result.host_events("runner_on_unreachable")

    report = result.set_stats["backup_run"]
    assert len(json.dumps(report)) <= ARTIFACT_LIMIT, len(json.dumps(report))
    assert report["success"] is False
    assert report["counts"] == {"devices": DEVICES, "ok": DEVICES - FAILING - CHANGED, "changed": CHANGED,
                                "failed": FAILING, "failed_by_class": {"auth_failed": FAILING}}
    assert {item["device"]: item["error_class"] for item in report["failed"]} == dict.fromkeys(failing, "auth_failed")
    assert set(report["changed"]) == changed
    assert report["git"]["commit"] and report["git"]["pushed"] and not report["git"]["error"], report["git"]
    # The changed devices' running files, plus the front page's status records of those whose change is unsaved
    # (running differs from startup; a platform without a startup config has no such flip).
    assert CHANGED <= report["git"]["files_changed"] <= 2 * CHANGED, report["git"]

    # The input turns it off: the recap is back to the first device and the failed ones.
    off = backup_job(tmp_path, "job-1403", lab, nautobot, git_remotes, backup_host_summary=False).run()
    assert (off.status, off.rc) == ("failed", 2), off.stdout()[-3000:]
    assert set(off.recap()) == {names[0]} | failing, sorted(off.recap())
