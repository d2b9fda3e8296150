"""netops.nautobot_backup.backup_path through ansible-playbook: a static inventory and the real Nautobot.

Each test writes an inventory and a playbook into tmp_path and runs ansible-playbook once.
Cases that are expected to fail run with ``ignore_errors``; a last task dumps every
registered result to a JSON file the test reads. The last test lets a failing ``run_once``
pre-check stop the play and checks nothing was written to the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml

from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import clean_value
from testbed.procs import REPO_ROOT

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
MODULE = "netops.nautobot_backup.backup_path"
TIMESTAMP = "2024-05-02T01:30:00+02:00"  # 20240501_233000 in UTC
DATE = "20240501"
CITY_TEMPLATE = "{location.parent.parent.name}/{location.name | location_type:City}/{device_name}.cfg"
NET_TEMPLATE = "{custom_fields.net}/{date}/{device_name}"


def case(name: str, run_once: bool = False, check_mode: bool = False, **args: Any) -> Dict[str, Any]:
    """A backup_path task whose result is registered as r_<name> and whose failure is ignored."""
    task: Dict[str, Any] = {"name": name, MODULE: args, "register": f"r_{name}", "ignore_errors": True}
    if run_once:
        task["run_once"] = True
    if check_mode:
        task["check_mode"] = True
    return task


def playbook(tasks: List[Dict[str, Any]], results: Optional[Path] = None) -> List[Dict[str, Any]]:
    """One play over all hosts, controller-only; when results is set, dump host -> case -> result there."""
    tasks = list(tasks)
    if results is not None:
        names = [task["name"] for task in tasks if "register" in task]
        collected = "{" + ", ".join(f"'{name}': r_{name}" for name in names) + "}"
        tasks += [
            {"name": "Collect", "ansible.builtin.set_fact": {"bp_results": "{{ " + collected + " }}"}},
            {
                "name": "Dump",
                "run_once": True,
                "ansible.builtin.copy": {
                    "dest": str(results),
                    "mode": "0600",
                    "content": "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all"
                    " | map('extract', hostvars, 'bp_results'))) | to_json }}",
                },
            },
        ]
    return [
        {
            "name": "Backup paths",
            "hosts": "all",
            "gather_facts": False,
            "connection": "local",
            "vars": {"ansible_python_interpreter": sys.executable},
            "tasks": tasks,
        }
    ]


def run_playbook(
    tmp_path: Path, inventory: Path, plays: List[Dict[str, Any]], env: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess:
    """Write the playbook and run ansible-playbook against inventory with the collection from .build."""
    path = tmp_path / "playbook.yml"
    path.write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    environment.update(
        ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / ".build" / "collections"),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        **(env or {}),
    )
    return subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", str(inventory), str(path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def results_of(result: subprocess.CompletedProcess, path: Path) -> Dict[str, Dict[str, Any]]:
    """The dumped host -> case -> registered result; fail with the playbook output when missing."""
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(path.read_text(encoding="utf-8"))


def assert_failed(registered: Dict[str, Any], device: str, placeholder: Optional[str], *fragments: str) -> None:
    """The task failed with a message naming device and placeholder, and errors[] says the same."""
    assert registered.get("failed") is True, registered
    assert f"device {device!r}" in registered["msg"] or repr(device) in registered["msg"], registered["msg"]
    if placeholder:
        assert placeholder in registered["msg"], registered["msg"]
    for fragment in fragments:
        assert fragment in registered["msg"], registered["msg"]
    assert any(
        device in error.get("devices", [error["device"]]) and error["placeholder"] == placeholder
        for error in registered["errors"]
    )


def tree(path: Path) -> List[str]:
    """Every entry under path, relative, sorted (symlinks not followed)."""
    return sorted(str(entry.relative_to(path)) for entry in path.rglob("*"))


# ------------------------------------------------------------------------------- static inventory
STATIC_INVENTORY = {
    "all": {
        "hosts": {
            "lab-r1": {
                "nautobot": {
                    "name": "LAB R1",
                    "serial": "SN 1/2",
                    "asset_tag": None,
                    "tenant": None,
                    "location": {
                        "name": "../../etc",
                        "location_type": {"name": "Building"},
                        "parent": {
                            "name": "Lab City",
                            "location_type": {"name": "City"},
                            "parent": {"name": "Lab Region", "location_type": {"name": "Region"}},
                        },
                    },
                    "custom_fields": {"net": "lab/net"},
                }
            },
            "plain": {},
            "PLAIN": {},
        }
    }
}


def test_static_inventory(tmp_path):
    repo = tmp_path / "repo"
    outside = tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    (repo / "escape").symlink_to(outside)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump(STATIC_INVENTORY), encoding="utf-8")
    results_file = tmp_path / "results.json"
    pair = ["lab-r1", "plain"]
    tasks = [
        case("default"),
        case("checkmode", check_mode=True),
        case(
            "nested",
            running_template=CITY_TEMPLATE,
            startup_template=NET_TEMPLATE,
            timestamp=TIMESTAMP,
            repo_dir=str(repo),
        ),
        case("names", running_template="{name}/{device_name}.cfg"),
        case("unsafe", running_template="{location.name}/{serial}.cfg"),
        case("asset_tag", running_template="backups/{asset_tag}.cfg"),
        case("tenant", running_template="{tenant.name}/{device_name}"),
        case("unknown", running_template="{locaton.name}/{device_name}"),
        case("dotdot", running_template="../{device_name}.cfg"),
        case("facts", running_template="{serial}.cfg", facts={"serial": "X-1"}),
        case("escape", running_template="escape/{device_name}.cfg", repo_dir=str(repo)),
        case(
            "plan",
            run_once=True,
            hosts=pair,
            running_template="{name}.cfg",
            startup_template="{device_name}.startup",
            timestamp=TIMESTAMP,
            repo_dir=str(repo),
        ),
        case("plan_case", run_once=True, hosts="{{ ansible_play_hosts }}"),
        case("plan_unknown_host", run_once=True, hosts=["lab-r1", "nope"]),
        case("plan_asset_tag", run_once=True, hosts=pair, running_template="{asset_tag}.cfg"),
    ]
    data = results_of(run_playbook(tmp_path, inventory, playbook(tasks, results_file)), results_file)
    lab, plain = data["lab-r1"], data["plain"]

    for host in ("lab-r1", "plain"):
        assert data[host]["default"]["running_path"] == f"backups/{host}.running-config"
        assert data[host]["default"]["startup_path"] == f"backups/{host}.startup-config"
        assert data[host]["default"]["changed"] is False
        assert data[host]["checkmode"]["running_path"] == f"backups/{host}.running-config"
    assert data["PLAIN"]["default"]["running_path"] == "backups/PLAIN.running-config"

    nested = lab["nested"]
    assert nested["running_path"] == "Lab_Region/Lab_City/lab-r1.cfg"
    assert nested["startup_path"] == f"lab_net/{DATE}/lab-r1"
    assert nested["running_file"] == str(repo.resolve() / "Lab_Region" / "Lab_City" / "lab-r1.cfg")
    assert (nested["date"], nested["timestamp"]) == (DATE, f"{DATE}_233000")
    assert_failed(plain["nested"], "plain", "{location.parent.parent.name}", "no nautobot facts")

    assert lab["names"]["running_path"] == "LAB_R1/lab-r1.cfg"
    assert plain["names"]["running_path"] == "plain/plain.cfg"
    assert lab["unsafe"]["running_path"] == "etc/SN_1_2.cfg"
    assert_failed(plain["unsafe"], "plain", "{location.name}")
    assert_failed(lab["asset_tag"], "lab-r1", "{asset_tag}", "asset_tag is null")
    assert_failed(lab["tenant"], "lab-r1", "{tenant.name}", "tenant is null")
    for host in ("lab-r1", "plain"):
        assert_failed(data[host]["unknown"], host, "{locaton.name}", "unknown placeholder")
        assert_failed(data[host]["dotdot"], host, None, "'..' segment")
        assert data[host]["facts"]["running_path"] == "X-1.cfg"
        assert_failed(data[host]["escape"], host, None, "outside the repository")

    # run_once: the registered result is the same on every host
    plan = lab["plan"]
    assert plain["plan"] == plan
    assert plan["paths"] == {
        "lab-r1": {
            "running": "LAB_R1.cfg",
            "startup": "lab-r1.startup",
            "running_file": str(repo.resolve() / "LAB_R1.cfg"),
            "startup_file": str(repo.resolve() / "lab-r1.startup"),
        },
        "plain": {
            "running": "plain.cfg",
            "startup": "plain.startup",
            "running_file": str(repo.resolve() / "plain.cfg"),
            "startup_file": str(repo.resolve() / "plain.startup"),
        },
    }
    assert plan["timestamp"] == f"{DATE}_233000"
    # the default templates collide on a case-insensitive checkout for plain / PLAIN
    assert_failed(lab["plan_case"], "plain", None, "'PLAIN'", "differ only in case")
    assert [sorted(error["devices"]) for error in lab["plan_case"]["errors"]] == [["PLAIN", "plain"]] * 2
    assert_failed(lab["plan_unknown_host"], "nope", None, "not in the inventory")
    for host in pair:
        assert_failed(lab["plan_asset_tag"], host, "{asset_tag}")

    # nothing was written: the checkout holds only its symlink, the outside directory is empty
    assert tree(repo) == ["escape"]
    assert tree(outside) == []


# ------------------------------------------------------------------------------- Nautobot inventory
def nautobot_inventory(tmp_path: Path, nautobot) -> tuple:
    """An inventory file of the collection's plugin and the env with Nautobot's URL and the read-only token."""
    path = tmp_path / "test_nautobot.yml"
    path.write_text(yaml.safe_dump({"plugin": "netops.nautobot_backup.nautobot"}), encoding="utf-8")
    return path, {"NAUTOBOT_URL": nautobot.url, "NAUTOBOT_TOKEN": nautobot.readonly_token}


@pytest.mark.nautobot
def test_nautobot_inventory(tmp_path, nautobot):
    inventory, env = nautobot_inventory(tmp_path, nautobot)
    repo = tmp_path / "repo"
    repo.mkdir()
    results_file = tmp_path / "results.json"
    every = "{{ ansible_play_hosts }}"
    tasks = [
        case(
            "plan",
            run_once=True,
            hosts=every,
            running_template=CITY_TEMPLATE,
            startup_template=NET_TEMPLATE,
            timestamp=TIMESTAMP,
            repo_dir=str(repo),
        ),
        # each host on its own, with the plan's stamp: the same paths
        case("host", running_template=CITY_TEMPLATE, startup_template=NET_TEMPLATE, timestamp="{{ r_plan.timestamp }}"),
        # the read-only token may not view tenants: Nautobot answers tenant null
        case("tenant", running_template="{tenant.name}/{device_name}"),
        case(
            "names",
            running_template="{platform.name}/{platform.manufacturer.name}/{role.name}/{name}",
            startup_template="{location.name | location_type:region}/{serial}",
        ),
        case("role", run_once=True, hosts=every, running_template="{role.name}.cfg"),
        case("asset_tag", run_once=True, hosts=every, running_template="backups/{asset_tag}.cfg"),
        case("unknown", run_once=True, hosts=every, running_template="{locaton.name}/{device_name}"),
        case("country", running_template="{location.name | location_type:Country}/{device_name}"),
    ]
    result = run_playbook(tmp_path, inventory, playbook(tasks, results_file), env)
    data = results_of(result, results_file)
    expected = {device["name"]: device for device in nautobot.expected}
    assert set(data) == set(expected)
    first = next(iter(data.values()))

    plan = first["plan"]
    assert plan["timestamp"] == f"{DATE}_233000"
    want_paths = {
        name: {
            "running": f"{device['region']}/{device['city']}/{name}.cfg",
            "startup": f"{device['net']}/{DATE}/{name}",
        }
        for name, device in expected.items()
    }
    assert {name: {k: v for k, v in entry.items() if "_file" not in k} for name, entry in plan["paths"].items()} == (
        want_paths
    )
    assert all(entry["running_file"] == str(repo.resolve() / entry["running"]) for entry in plan["paths"].values())

    for name, device in expected.items():
        host = data[name]
        assert (host["host"]["running_path"], host["host"]["startup_path"]) == (
            want_paths[name]["running"],
            want_paths[name]["startup"],
        )
        names = [clean_value(device[key]) for key in ("platform", "manufacturer", "role")] + [name]
        assert host["names"]["running_path"] == "/".join(names)
        assert_failed(host["tenant"], name, "{tenant.name}", "tenant is null")
        assert host["names"]["startup_path"] == f"{device['region']}/{device['serial']}"
        assert_failed(
            host["country"],
            name,
            "{location.name | location_type:Country}",
            "no location of type 'Country'",
            f"{device['site']} (Building) > {device['city']} (City) > {device['region']} (Region)",
        )

    role = first["role"]
    assert role["failed"] is True and "map to the same backup path 'router.cfg'" in role["msg"]
    by_role: Dict[str, set] = {}
    for name, device in expected.items():
        by_role.setdefault(device["role"], set()).add(name)
    shared = [names for names in by_role.values() if len(names) > 1]
    assert shared and sorted(map(sorted, shared)) == sorted(sorted(error["devices"]) for error in role["errors"])
    for error in role["errors"]:
        assert all(repr(name) in error["msg"] for name in error["devices"])

    without_tag = {name for name, device in expected.items() if not device["asset_tag"]}
    assert without_tag and without_tag != set(expected)
    asset = first["asset_tag"]
    assert {error["device"] for error in asset["errors"]} == without_tag
    for name in without_tag:
        assert_failed(asset, name, "{asset_tag}", "asset_tag is null")

    assert {error["device"] for error in first["unknown"]["errors"]} == set(expected)
    assert all(error["placeholder"] == "{locaton.name}" for error in first["unknown"]["errors"])
    assert tree(repo) == []


@pytest.mark.nautobot
@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{role.name}.cfg", "map to the same backup path 'router.cfg'"),
        ("backups/{asset_tag}.cfg", "placeholder {asset_tag} has no value (asset_tag is null)"),
    ],
    ids=["collision", "missing-asset-tag"],
)
def test_failed_precheck_stops_before_anything_is_written(tmp_path, nautobot, template, fragment):
    inventory, env = nautobot_inventory(tmp_path, nautobot)
    repo = tmp_path / "repo"
    repo.mkdir()
    tasks = [
        {
            "name": "Check the backup paths of every device",
            MODULE: {"hosts": "{{ ansible_play_hosts }}", "running_template": template, "repo_dir": str(repo)},
            "run_once": True,
            "register": "backup_plan",
        },
        {
            "name": "Write (must not run)",
            "ansible.builtin.copy": {
                "content": "config",
                "dest": str(repo) + "/{{ backup_plan.paths[inventory_hostname].running }}",
                "mode": "0600",
            },
        },
    ]
    result = run_playbook(tmp_path, inventory, playbook(tasks), env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert fragment in output
    assert "Write (must not run)" not in output
    assert tree(repo) == []
