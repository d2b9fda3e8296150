"""The real Nautobot test bed: seeded inventory, tokens, permissions, custom fields, reset."""

from __future__ import annotations

import json
import secrets
from typing import Any, Dict, List, Set

import pytest

pytestmark = pytest.mark.nautobot

DEVICE_QUERY = """
query ($limit: Int, $offset: Int) {
  devices(limit: $limit, offset: $offset) {
    id name
    primary_ip4 { host address }
    platform { name network_driver network_driver_mappings manufacturer { name } }
    location { name location_type { name }
      parent { name location_type { name } parent { name location_type { name } } } }
    role { name } status { name } tenant { name } tags { name }
    serial asset_tag cf_last_backup _custom_field_data
  }
}
"""

#: Related objects the read-only user may not view, so GraphQL answers them with null.
READONLY_NULL = {"tenant"}


def _devices(nautobot: Any, token: str) -> Dict[str, Dict[str, Any]]:
    data = nautobot.graphql(DEVICE_QUERY, {"limit": 100, "offset": 0}, token=token)
    return {dev["name"]: dev for dev in data["devices"]}


def _null_paths(obj: Any, prefix: str = "") -> Set[str]:
    """Dotted paths of every null value in a GraphQL answer."""
    paths: Set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            path = f"{prefix}{key}"
            if value is None:
                paths.add(path)
            else:
                paths |= _null_paths(value, f"{path}.")
    elif isinstance(obj, list):
        for item in obj:
            paths |= _null_paths(item, prefix)
    return paths


def test_admin_graphql_returns_every_lab_device(nautobot: Any) -> None:
    devices = _devices(nautobot, nautobot.admin_token)
    assert sorted(devices) == sorted(d["name"] for d in nautobot.devices)
    for want in nautobot.expected:
        dev = devices[want["name"]]
        assert dev["primary_ip4"] == {"host": want["host"], "address": f"{want['host']}/32"}
        platform = dev["platform"]
        assert platform["name"] == want["platform"]
        assert platform["network_driver"] == want["network_driver"]
        assert platform["manufacturer"] == {"name": want["manufacturer"]}
        mappings = platform["network_driver_mappings"]
        assert mappings["netmiko"] == want["network_driver"]
        assert mappings["ansible"], mappings
        assert dev["location"] == {
            "name": want["site"],
            "location_type": {"name": "Building"},
            "parent": {
                "name": want["city"],
                "location_type": {"name": "City"},
                "parent": {"name": want["region"], "location_type": {"name": "Region"}},
            },
        }
        assert dev["role"] == {"name": want["role"]}
        assert dev["status"] == {"name": "Active"}
        assert dev["tenant"] == {"name": want["tenant"]}
        assert sorted(t["name"] for t in dev["tags"]) == want["tags"]
        assert "backup" in want["tags"]
        assert dev["serial"] == want["serial"]
        assert dev["asset_tag"] == want["asset_tag"]
        assert dev["cf_last_backup"] is None
        # Only custom fields that were given a value appear in _custom_field_data (no null placeholders).
        assert dev["_custom_field_data"] == {"net": want["net"]}
    with_tag = [w for w in nautobot.expected if w["asset_tag"]]
    assert with_tag and len(with_tag) < len(nautobot.expected), "some devices, not all, have an asset tag"


def test_ansible_driver_mapping_examples(nautobot: Any) -> None:
    devices = _devices(nautobot, nautobot.admin_token)
    by_driver = {d["platform"]["network_driver"]: d["platform"]["network_driver_mappings"] for d in devices.values()}
    assert by_driver["cisco_ios"]["ansible"] == "cisco.ios.ios"
    assert by_driver["juniper_junos"]["ansible"] == "junipernetworks.junos.junos"


def test_readonly_graphql_hides_tenancy(nautobot: Any) -> None:
    """The read-only user sees every device, but related objects it may not view come back as null."""
    admin = _devices(nautobot, nautobot.admin_token)
    readonly = _devices(nautobot, nautobot.readonly_token)
    assert sorted(readonly) == sorted(admin)
    for name, dev in readonly.items():
        extra_nulls = _null_paths(dev) - _null_paths(admin[name])
        assert extra_nulls == READONLY_NULL, name
        assert dev["tenant"] is None
        assert {k: v for k, v in dev.items() if k not in READONLY_NULL} == {
            k: v for k, v in admin[name].items() if k not in READONLY_NULL
        }


def test_readonly_token_cannot_write(nautobot: Any) -> None:
    device = nautobot.request("GET", "/api/dcim/devices/?limit=1", token=nautobot.readonly_token)
    assert device.status_code == 200
    device_id = device.json()["results"][0]["id"]
    resp = nautobot.request(
        "PATCH", f"/api/dcim/devices/{device_id}/", token=nautobot.readonly_token, json={"serial": "HACKED"}
    )
    assert resp.status_code == 403, resp.text
    # Without any view permission on a model, its REST list is refused outright (GraphQL gives null instead).
    assert nautobot.request("GET", "/api/tenancy/tenants/", token=nautobot.readonly_token).status_code == 403
    assert nautobot.request("GET", "/api/dcim/racks/", token=nautobot.readonly_token).status_code == 403


@pytest.mark.parametrize("token", ["", "bad"], ids=["no-token", "bad-token"])
def test_missing_or_bad_token_is_refused(nautobot: Any, token: str) -> None:
    value = secrets.token_hex(20) if token == "bad" else ""
    assert nautobot.request("GET", "/api/dcim/devices/", token=value).status_code == 403
    assert nautobot.graphql_response("{ devices { name } }", token=value).status_code == 403


def test_custom_fields_exist_with_types(nautobot: Any) -> None:
    resp = nautobot.request("GET", "/api/extras/custom-fields/?limit=100")
    assert resp.status_code == 200
    fields = {cf["key"]: cf for cf in resp.json()["results"]}
    assert {k: fields[k]["type"]["value"] for k in ("last_backup", "last_backup_iso", "net")} == {
        "last_backup": "date",
        "last_backup_iso": "text",
        "net": "text",
    }
    for key in ("last_backup", "last_backup_iso", "net"):
        assert fields[key]["content_types"] == ["dcim.device"]


def test_reset_restores_seeded_state(nautobot_clean: Any) -> None:
    bed = nautobot_clean
    name = bed.expected[0]["name"]
    before = _devices(bed, bed.admin_token)[name]
    resp = bed.request(
        "PATCH",
        f"/api/dcim/devices/{before['id']}/",
        json={"serial": "CHANGED", "custom_fields": {"last_backup": "2024-05-01", "last_backup_iso": "x"}},
    )
    assert resp.status_code == 200, resp.text
    created = bed.request("POST", "/api/dcim/manufacturers/", json={"name": "Temporary Vendor"})
    assert created.status_code == 201, created.text
    changed = _devices(bed, bed.admin_token)[name]
    assert changed["serial"] == "CHANGED" and changed["cf_last_backup"] == "2024-05-01"

    seconds = bed.reset()

    assert seconds < 10
    assert _devices(bed, bed.admin_token)[name] == before
    gone = bed.request("GET", "/api/dcim/manufacturers/?name=Temporary%20Vendor").json()
    assert gone["count"] == 0


def test_status_does_not_reveal_tokens(nautobot: Any) -> None:
    status: List[Any] = [nautobot.instance.status()]
    text = json.dumps(status)
    assert nautobot.admin_token not in text and nautobot.readonly_token not in text
    assert status[0]["running"] and status[0]["url"] == nautobot.url
