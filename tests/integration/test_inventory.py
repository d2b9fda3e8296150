"""The Nautobot inventory plugin against the real, seeded Nautobot, through ansible-inventory.

Golden files live in tests/integration/golden/. Regenerate them with
``NB_BACKUP_UPDATE_GOLDEN=1 make integration PYTEST_ARGS="-k golden"`` (or ``make golden``)
and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import pytest
import yaml

from testbed.http_faults import FaultServer
from testbed.procs import REPO_ROOT, free_port

pytestmark = [pytest.mark.nautobot]

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("NB_BACKUP_UPDATE_GOLDEN") == "1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ANSIBLE_INVENTORY = str(Path(sys.executable).parent / "ansible-inventory")
PLUGIN = "netops.nautobot_backup.nautobot"


def run_inventory(
    tmp_path: Path,
    config: Dict[str, Any],
    url: str,
    token: str,
    args: Sequence[str] = ("--list",),
    name: str = "test_nautobot.yml",
    extra_env: Optional[Dict[str, str]] = None,
) -> subprocess.CompletedProcess:
    """Write config as an inventory file and run ansible-inventory on it, with url/token from the env."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"plugin": PLUGIN, **config}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_INVENTORY")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / ".build" / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        NAUTOBOT_URL=url,
        NAUTOBOT_TOKEN=token,
        **(extra_env or {}),
    )
    return subprocess.run(
        [ANSIBLE_INVENTORY, "-i", str(path), *args], capture_output=True, text=True, env=env, timeout=180, check=False
    )


def inventory(tmp_path: Path, nautobot, config: Dict[str, Any], token: Optional[str] = None) -> Dict[str, Any]:
    """Run ansible-inventory --list and return its JSON, unsafe markers removed; fail on a non-zero exit."""
    result = run_inventory(tmp_path, config, nautobot.url, token or nautobot.admin_token)
    assert result.returncode == 0, result.stderr
    return unwrap(json.loads(result.stdout))


def unwrap(data: Any) -> Any:
    """Replace ansible-inventory's {"__ansible_unsafe": value} markers (untrusted values) by the value."""
    if isinstance(data, dict):
        if set(data) == {"__ansible_unsafe"}:
            return data["__ansible_unsafe"]
        return {key: unwrap(value) for key, value in data.items()}
    if isinstance(data, list):
        return [unwrap(value) for value in data]
    return data


def hosts_of(data: Dict[str, Any]) -> set:
    """All host names of an ansible-inventory --list answer."""
    return set(data.get("_meta", {}).get("hostvars", {}))


def members(data: Dict[str, Any], group: str) -> set:
    """Hosts of a group, including those of its child groups."""
    entry = data.get(group, {})
    found = set(entry.get("hosts", []))
    for child in entry.get("children", []):
        found |= members(data, child)
    return found


def normalise(data: Dict[str, Any]) -> Dict[str, Any]:
    """Replace per-seed UUIDs so golden files compare across fresh databases."""
    return json.loads(UUID.sub("<uuid>", json.dumps(data, sort_keys=True)))


GOLDEN_CONFIGS = {
    "default": {},
    "all_groups": {"group_by": ["location", "location_type", "role", "platform", "tenant", "tags", "status"]},
    "filtered_constructed": {
        "locations": ["Munich", "London"],
        "roles": ["router"],
        "group_by": ["location_type", "platform"],
        "extra_fields": ["comments"],
        "compose": {"ansible_port": 2222, "backup_city": "nautobot.location.parent.name"},
        "groups": {"has_asset_tag": "nautobot.asset_tag is not none"},
        "keyed_groups": [{"key": "nautobot.device_type.model", "prefix": "model"}],
    },
    "paged_small": {"page_size": 4, "group_by": ["role"]},
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CONFIGS))
def test_golden_inventory(tmp_path, nautobot, case):
    """The exact --list output, including the {"__ansible_unsafe": ...} markers of remote values."""
    result = run_inventory(tmp_path, GOLDEN_CONFIGS[case], nautobot.url, nautobot.admin_token)
    assert result.returncode == 0, result.stderr
    data = normalise(json.loads(result.stdout))
    golden = GOLDEN_DIR / f"{case}.json"
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"regenerated {golden.name}")
    assert golden.exists(), f"{golden} missing: run with NB_BACKUP_UPDATE_GOLDEN=1 to create it"
    assert data == json.loads(golden.read_text(encoding="utf-8"))


def test_host_variables_match_the_seed(tmp_path, nautobot):
    data = inventory(tmp_path, nautobot, {})
    expected = {device["name"]: device for device in nautobot.expected}
    assert hosts_of(data) == set(expected)
    for name, want in expected.items():
        hostvars = data["_meta"]["hostvars"][name]
        facts = hostvars["nautobot"]
        assert hostvars["ansible_host"] == want["host"]
        assert hostvars["netmiko_device_type"] == want["network_driver"]
        assert hostvars["ansible_network_os"].count(".") == 2
        assert hostvars["nautobot_id"] == facts["id"]
        assert facts["location"]["name"] == want["site"]
        assert facts["location"]["parent"]["name"] == want["city"]
        assert facts["location"]["parent"]["parent"]["name"] == want["region"]
        assert facts["location"]["parent"]["parent"]["location_type"]["name"] == "Region"
        assert facts["platform"]["manufacturer"]["name"] == want["manufacturer"]
        assert facts["tenant"]["name"] == want["tenant"]
        assert facts["serial"] == want["serial"]
        assert facts["asset_tag"] == want["asset_tag"]
        assert facts["custom_fields"].get("net") == want["net"]
        assert sorted(facts["tags"]) == want["tags"]
        assert (facts["rack"] or {}).get("name") == want["rack"]


def _names(nautobot, **where) -> set:
    """Names of seeded devices whose expected fields match all of where (value or set of values)."""
    return {
        d["name"]
        for d in nautobot.expected
        if all(d[key] in (value if isinstance(value, (set, list)) else {value}) for key, value in where.items())
    }


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"device_names": ["ios-r1", "xr-r1"]}, {"name": {"ios-r1", "xr-r1"}}),
        ({"locations": ["Europe"]}, {"region": "Europe"}),
        ({"locations": ["Berlin"]}, {"city": "Berlin"}),
        ({"locations": ["BER1", "LON1"]}, {"site": {"BER1", "LON1"}}),
        ({"locations": ["Berlin"], "location_include_descendants": False}, {"name": set()}),
        ({"locations": ["BER1"], "location_include_descendants": False}, {"site": "BER1"}),
        ({"roles": ["switch"]}, {"role": "switch"}),
        ({"platforms": ["Cisco IOS-XR", "Juniper Junos"]}, {"network_driver": {"cisco_xr", "juniper_junos"}}),
        ({"statuses": ["Active"]}, {}),
        ({"tenants": ["Acme Networks"]}, {"tenant": "Acme Networks"}),
        ({"tags": ["backup"]}, {}),
        ({"roles": ["router"], "locations": ["Munich"]}, {"role": "router", "city": "Munich"}),
    ],
    ids=lambda value: json.dumps(value, sort_keys=True, default=sorted),
)
def test_filters(tmp_path, nautobot, config, where):
    assert hosts_of(inventory(tmp_path, nautobot, config)) == _names(nautobot, **where)


def test_device_ids_filter(tmp_path, nautobot):
    every = inventory(tmp_path, nautobot, {})["_meta"]["hostvars"]
    chosen = {"ios-r2": every["ios-r2"]["nautobot_id"], "eos-s1": every["eos-s1"]["nautobot_id"]}
    data = inventory(tmp_path, nautobot, {"inventory": sorted(chosen.values())})
    assert hosts_of(data) == set(chosen)


def test_filter_matching_nothing_is_an_empty_inventory_with_a_warning(tmp_path, nautobot):
    config = {"roles": ["switch"], "platforms": ["Cisco IOS-XR"]}
    result = run_inventory(tmp_path, config, nautobot.url, nautobot.admin_token)
    assert result.returncode == 0, result.stderr
    assert hosts_of(json.loads(result.stdout)) == set()
    assert "matched the filters" in result.stderr


def test_invalid_filter_value_fails_closed(tmp_path, nautobot):
    result = run_inventory(tmp_path, {"platforms": ["No Such Platform"]}, nautobot.url, nautobot.admin_token)
    assert result.returncode != 0
    assert result.stdout.strip() == ""
    assert "No Such Platform" in result.stderr and nautobot.url in result.stderr


@pytest.mark.parametrize(
    ("group_by", "group", "where"),
    [
        ("location", "location_europe", {"region": "Europe"}),
        ("location", "location_munich", {"city": "Munich"}),
        ("location", "location_lon1", {"site": "LON1"}),
        ("location_type", "region_europe", {"region": "Europe"}),
        ("location_type", "city_berlin", {"city": "Berlin"}),
        ("location_type", "building_muc1", {"site": "MUC1"}),
        ("role", "role_router", {"role": "router"}),
        ("platform", "platform_cisco_nx_os", {"network_driver": "cisco_nxos"}),
        ("tenant", "tenant_acme_networks", {"tenant": "Acme Networks"}),
        ("tags", "tag_backup", {}),
        ("status", "status_active", {}),
    ],
)
def test_group_by(tmp_path, nautobot, group_by, group, where):
    data = inventory(tmp_path, nautobot, {"group_by": [group_by]})
    assert members(data, group) == _names(nautobot, **where)


def test_location_groups_nest_like_the_tree(tmp_path, nautobot):
    data = inventory(tmp_path, nautobot, {"group_by": ["location"]})
    assert "location_berlin" in data["location_europe"]["children"]
    assert "location_ber1" in data["location_berlin"]["children"]


def test_restricted_token_sees_devices_but_not_tenants(tmp_path, nautobot):
    data = inventory(tmp_path, nautobot, {"group_by": ["tenant", "role"]}, token=nautobot.readonly_token)
    assert hosts_of(data) == {d["name"] for d in nautobot.expected}
    hostvars = data["_meta"]["hostvars"]["ios-r1"]
    assert hostvars["nautobot"]["tenant"] is None  # no view permission on tenancy
    assert hostvars["nautobot"]["location"]["parent"]["parent"]["name"] == "Europe"
    assert not [g for g in data if g.startswith("tenant_")]
    assert members(data, "role_router")


def test_device_without_primary_ip(tmp_path, nautobot_clean):
    nautobot = nautobot_clean
    device_id = inventory(tmp_path, nautobot, {})["_meta"]["hostvars"]["junos-r1"]["nautobot_id"]
    response = nautobot.request("PATCH", f"/api/dcim/devices/{device_id}/", json={"primary_ip4": None})
    assert response.status_code == 200, response.text
    skipped = run_inventory(tmp_path, {}, nautobot.url, nautobot.admin_token)
    assert skipped.returncode == 0
    assert "junos-r1" not in hosts_of(json.loads(skipped.stdout))
    assert "without a primary IP: junos-r1" in skipped.stderr
    kept = inventory(tmp_path, nautobot, {"use_name_when_no_primary_ip": True})
    assert kept["_meta"]["hostvars"]["junos-r1"]["ansible_host"] == "junos-r1"


def test_remote_values_are_unsafe(tmp_path, nautobot_clean):
    """A Jinja expression stored in Nautobot is never rendered by Ansible."""
    nautobot = nautobot_clean
    device_id = inventory(tmp_path, nautobot, {})["_meta"]["hostvars"]["ios-r1"]["nautobot_id"]
    payload = {"custom_fields": {"net": "{{ 7 * 6 }}"}}
    assert nautobot.request("PATCH", f"/api/dcim/devices/{device_id}/", json=payload).status_code == 200
    inventory_file = tmp_path / "unsafe_nautobot.yml"
    inventory_file.write_text(yaml.safe_dump({"plugin": PLUGIN, "device_names": ["ios-r1"]}), encoding="utf-8")
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / ".build" / "collections"),
        NAUTOBOT_URL=nautobot.url,
        NAUTOBOT_TOKEN=nautobot.admin_token,
    )
    command = [str(Path(sys.executable).parent / "ansible"), "-i", str(inventory_file), "ios-r1"]
    command += ["-m", "ansible.builtin.debug", "-a", "msg={{ nautobot.custom_fields.net }}"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "{{ 7 * 6 }}" in result.stdout and "42" not in result.stdout


def test_cache_serves_the_inventory_without_nautobot(tmp_path, nautobot):
    config = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache")}
    first = inventory(tmp_path, nautobot, config)
    cached = run_inventory(tmp_path, config, "http://127.0.0.1:9", "0" * 40)
    assert cached.returncode == 0, cached.stderr
    assert unwrap(json.loads(cached.stdout)) == first


# --- fail closed -------------------------------------------------------------------------------


def _assert_failed_closed(result: subprocess.CompletedProcess, url: str, token: str, reason: str) -> None:
    assert result.returncode != 0, "ansible-inventory must exit non-zero on a Nautobot failure"
    assert result.stdout.strip() == "", "no inventory may be printed for an error"
    assert url in result.stderr
    assert reason in result.stderr
    assert token not in result.stdout + result.stderr


def test_wrong_token_fails_closed(tmp_path, nautobot):
    wrong = "f" * 40
    result = run_inventory(tmp_path, {}, nautobot.url, wrong)
    _assert_failed_closed(result, nautobot.url, wrong, "refused the API token (HTTP 403)")


def test_stopped_nautobot_fails_closed(tmp_path, nautobot):
    url = f"http://127.0.0.1:{free_port()}"  # a Nautobot that is not running: nothing listens there
    result = run_inventory(tmp_path, {}, url, nautobot.admin_token)
    _assert_failed_closed(result, url, nautobot.admin_token, "Connection refused")


@pytest.mark.parametrize(
    ("fault_server", "reason", "config"),
    [
        ("http_500", "HTTP 500", {}),
        ("http_502", "HTTP 502", {}),
        ("not_json", "not JSON", {}),
        ("graphql_errors", "returned errors: Cannot query field", {}),
        ("json_list", "unexpected JSON", {}),
        ("hang", "did not answer within 2s", {"timeout": 2}),
    ],
    indirect=["fault_server"],
)
def test_broken_nautobot_fails_closed(tmp_path, nautobot, fault_server: FaultServer, reason, config):
    result = run_inventory(tmp_path, config, fault_server.url, nautobot.admin_token)
    _assert_failed_closed(result, fault_server.url, nautobot.admin_token, reason)
    assert fault_server.requests, "the plugin never contacted the server"


def test_graphql_error_from_real_nautobot_fails_closed(tmp_path, nautobot):
    result = run_inventory(tmp_path, {"extra_fields": ["no_such_field"]}, nautobot.url, nautobot.admin_token)
    _assert_failed_closed(result, nautobot.url, nautobot.admin_token, "no_such_field")


def test_token_never_printed_at_vvvv(tmp_path, nautobot):
    result = run_inventory(tmp_path, {}, nautobot.url, nautobot.admin_token, args=("--list", "-vvvv"))
    assert result.returncode == 0, result.stderr
    listing = result.stdout[result.stdout.index("\n{") + 1 :] if not result.stdout.startswith("{") else result.stdout
    assert hosts_of(json.loads(listing))
    assert nautobot.admin_token not in result.stdout + result.stderr
    failed = run_inventory(tmp_path, {}, nautobot.url, "e" * 40, args=("--list", "-vvvv"))
    assert failed.returncode != 0
    assert "e" * 40 not in failed.stdout + failed.stderr


def test_verify_file_needs_nautobot_suffix(tmp_path, nautobot):
    result = run_inventory(tmp_path, {}, nautobot.url, nautobot.admin_token, name="devices.yml")
    assert result.returncode != 0 or not hosts_of(json.loads(result.stdout or "{}"))
