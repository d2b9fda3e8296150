"""Seed a Nautobot instance from the device lab's device list, through the REST API.

A device is a dict with the lab.json fields (see :data:`SEED_FIELDS`): ``name``,
``platform`` (netmiko driver), ``host``, ``role``, ``site``, ``tenant``, ``tags``. The seed
is deterministic: the same list always gives the same names, serials, asset tags and
custom field values (only UUIDs differ). Bulk list POSTs keep it to about 20 requests.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import requests
import yaml

LOG = logging.getLogger(__name__)

#: Device fields the seed uses (and the seed cache key covers).
SEED_FIELDS = ("name", "platform", "host", "role", "site", "tenant", "tags")

#: Site -> (region, city); unknown sites get ("Lab Region", "<site> City").
SITE_CHAINS: Dict[str, Tuple[str, str]] = {
    "BER1": ("Europe", "Berlin"),
    "MUC1": ("Europe", "Munich"),
    "LON1": ("Europe", "London"),
    "PAR1": ("Europe", "Paris"),
}
DEFAULT_SITE = "LAB1"
DEFAULT_TENANT = "Acme Networks"
TENANT_GROUP = "Lab Customers"
BACKUP_TAG = "backup"
RACK_GROUP = "Row A"
RACK = "Rack A1"


#: netmiko driver -> (platform name, manufacturer, device type model, management interface, interface type).
PLATFORMS: Dict[str, Tuple[str, str, str, str, str]] = {
    "cisco_ios": ("Cisco IOS", "Cisco", "IOSv", "Loopback0", "virtual"),
    "cisco_nxos": ("Cisco NX-OS", "Cisco", "Nexus 9000v", "mgmt0", "1000base-t"),
    "arista_eos": ("Arista EOS", "Arista", "vEOS-lab", "Management1", "1000base-t"),
    "juniper_junos": ("Juniper Junos", "Juniper", "vMX", "fxp0", "1000base-t"),
    "cisco_xr": ("Cisco IOS-XR", "Cisco", "IOS XRv 9000", "MgmtEth0/RP0/CPU0/0", "1000base-t"),
}
SWITCH_DRIVERS = {"cisco_nxos", "arista_eos"}


class SeedError(RuntimeError):
    """The Nautobot API refused part of the seed."""


def platform_info(driver: str) -> Tuple[str, str, str, str, str]:
    """Return (platform, manufacturer, model, interface, interface type) for a netmiko driver."""
    return PLATFORMS.get(driver, (driver, "Generic", f"{driver} virtual", "mgmt0", "1000base-t"))


def site_chain(site: str) -> Tuple[str, str]:
    """Return (region, city) of a building site."""
    return SITE_CHAINS.get(site, ("Lab Region", f"{site} City"))


def device_role(device: Dict[str, Any]) -> str:
    """Role of a device; a missing role follows the platform (switch for NX-OS/EOS, else router)."""
    return device.get("role") or ("switch" if device["platform"] in SWITCH_DRIVERS else "router")


def device_serial(name: str) -> str:
    """Deterministic serial number."""
    return "LAB" + hashlib.sha1(name.encode()).hexdigest()[:9].upper()  # noqa: S324 - not security relevant


def device_asset_tag(index: int) -> Optional[str]:
    """Every other device (by list position) has an asset tag; the rest have none on purpose."""
    return f"AT-{index + 1:04d}" if index % 2 == 0 else None


def device_net(device: Dict[str, Any]) -> str:
    """Value of the ``net`` custom field: the site's city and the device role, e.g. ``berlin-router``."""
    _region, city = site_chain(device.get("site") or DEFAULT_SITE)
    return f"{city.lower().replace(' ', '-')}-{device_role(device)}"


def expected_devices(devices: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """What the seed stores for each device (for tests): names of related objects and plain fields."""
    racked = rack_site(devices)
    return [_expected(dev, index, racked) for index, dev in enumerate(devices)]


def _expected(device: Dict[str, Any], index: int, racked: str) -> Dict[str, Any]:
    site = device.get("site") or DEFAULT_SITE
    region, city = site_chain(site)
    platform, manufacturer, model, interface, _if_type = platform_info(device["platform"])
    return {
        "name": device["name"],
        "host": device["host"],
        "site": site,
        "city": city,
        "region": region,
        "platform": platform,
        "network_driver": device["platform"],
        "manufacturer": manufacturer,
        "model": model,
        "interface": interface,
        "role": device_role(device),
        "tenant": device.get("tenant") or DEFAULT_TENANT,
        "tags": sorted({BACKUP_TAG, *(device.get("tags") or [])}),
        "serial": device_serial(device["name"]),
        "asset_tag": device_asset_tag(index),
        "net": device_net(device),
        "rack": RACK if site == racked else None,
    }


def rack_site(devices: Sequence[Dict[str, Any]]) -> str:
    """The one site that gets a rack group and rack: the first site in sorted order."""
    return sorted({d.get("site") or DEFAULT_SITE for d in devices})[0]


class _Api:
    """Minimal REST client: bulk POST/PATCH that fail loudly with the server's message."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Token {token}", "Accept": "application/json", "Content-Type": "application/json"}
        )
        self.requests = 0

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        self.requests += 1
        # No body at all without a payload: an unread request body makes uWSGI drop the keep-alive connection.
        body = None if payload is None else json.dumps(payload)
        resp = self.session.request(method, f"{self.url}/api/{path}", data=body, timeout=120)
        if resp.status_code >= 400:
            raise SeedError(f"{method} /api/{path} -> HTTP {resp.status_code}: {resp.text[:2000]}")
        return resp.json() if resp.content else None

    def bulk(self, path: str, items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        if not items:
            return []
        created = self.call("POST", path, items)
        return created if isinstance(created, list) else [created]


def seed_devices(url: str, token: str, devices: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Create the inventory for devices on an instance that holds only the base objects."""
    started = time.monotonic()
    devices = list(devices)
    names = [d["name"] for d in devices]
    if len(set(names)) != len(names):
        raise SeedError("device names must be unique")
    api = _Api(url, token)
    active = {"name": "Active"}
    _ensure_status_types(api)
    _ensure_status_fields(api)

    # Location types and the Region -> City -> Building chain of every site.
    for name, parent, types in (
        ("Region", None, ["dcim.device"]),
        ("City", "Region", ["dcim.device"]),
        ("Building", "City", ["dcim.device", "dcim.rack", "dcim.rackgroup", "ipam.prefix"]),
    ):
        parent_ref = {"name": parent} if parent else None
        api.bulk("dcim/location-types/", [{"name": name, "parent": parent_ref, "content_types": types}])
    sites = sorted({d.get("site") or DEFAULT_SITE for d in devices})
    chains = {site: site_chain(site) for site in sites}
    regions = sorted({region for region, _city in chains.values()})
    cities = sorted(set(chains.values()))
    api.bulk("dcim/locations/", [{"name": r, "location_type": {"name": "Region"}, "status": active} for r in regions])
    api.bulk(
        "dcim/locations/",
        [{"name": c, "location_type": {"name": "City"}, "parent": {"name": r}, "status": active} for r, c in cities],
    )
    buildings = api.bulk(
        "dcim/locations/",
        [
            {"name": s, "location_type": {"name": "Building"}, "parent": {"name": chains[s][1]}, "status": active}
            for s in sites
        ],
    )
    building_id = {b["name"]: b["id"] for b in buildings}

    # Manufacturers, platforms, device types, roles.
    infos = {d["platform"]: platform_info(d["platform"]) for d in devices}
    api.bulk("dcim/manufacturers/", [{"name": m} for m in sorted({i[1] for i in infos.values()})])
    platforms = api.bulk(
        "dcim/platforms/",
        [
            {"name": info[0], "manufacturer": {"name": info[1]}, "network_driver": driver}
            for driver, info in sorted(infos.items())
        ],
    )
    platform_id = {p["name"]: p["id"] for p in platforms}
    types = api.bulk(
        "dcim/device-types/",
        [{"model": mod, "manufacturer": {"name": man}} for man, mod in sorted({(i[1], i[2]) for i in infos.values()})],
    )
    type_id = {t["model"]: t["id"] for t in types}
    role_names = sorted({device_role(d) for d in devices})
    roles = api.bulk("extras/roles/", [{"name": r, "content_types": ["dcim.device"]} for r in role_names])
    role_id = {r["name"]: r["id"] for r in roles}

    # Tenancy, tags, rack.
    api.bulk("tenancy/tenant-groups/", [{"name": TENANT_GROUP}])
    tenant_names = sorted({d.get("tenant") or DEFAULT_TENANT for d in devices})
    tenants = api.bulk("tenancy/tenants/", [{"name": t, "tenant_group": {"name": TENANT_GROUP}} for t in tenant_names])
    tenant_id = {t["name"]: t["id"] for t in tenants}
    tag_names = sorted({BACKUP_TAG, *(t for d in devices for t in (d.get("tags") or []))})
    tags = api.bulk("extras/tags/", [{"name": t, "content_types": ["dcim.device"]} for t in tag_names])
    tag_id = {t["name"]: t["id"] for t in tags}
    racked = rack_site(devices)
    api.bulk("dcim/rack-groups/", [{"name": RACK_GROUP, "location": building_id[racked]}])
    rack = api.bulk(
        "dcim/racks/",
        [{"name": RACK, "location": building_id[racked], "rack_group": {"name": RACK_GROUP}, "status": active}],
    )[0]

    # Devices.
    payload = []
    for want in expected_devices(devices):
        item: Dict[str, Any] = {
            "name": want["name"],
            "device_type": type_id[want["model"]],
            "role": role_id[want["role"]],
            "platform": platform_id[want["platform"]],
            "location": building_id[want["site"]],
            "status": active,
            "tenant": tenant_id[want["tenant"]],
            "tags": [tag_id[t] for t in want["tags"]],
            "serial": want["serial"],
            "custom_fields": {"net": want["net"]},
        }
        if want["asset_tag"]:
            item["asset_tag"] = want["asset_tag"]
        if want["rack"]:
            item["rack"] = rack["id"]
        payload.append(item)
    device_id = {d["name"]: d["id"] for d in api.bulk("dcim/devices/", payload)}

    # Management interface + /32 address + primary_ip4.
    interfaces = api.bulk(
        "dcim/interfaces/",
        [
            {
                "device": device_id[d["name"]],
                "name": platform_info(d["platform"])[3],
                "type": platform_info(d["platform"])[4],
                "status": active,
                "description": "lab management address",
            }
            for d in devices
        ],
    )
    interface_of = {i["device"]["id"]: i["id"] for i in interfaces}
    addressed = [d for d in devices if _ipv4(d.get("host"))]
    for dev in devices:
        if dev not in addressed:
            LOG.warning("device %s: host %r is not an IPv4 address; no primary_ip4", dev["name"], dev.get("host"))
    prefixes = _prefixes([_ipv4(d.get("host")) for d in addressed])
    api.bulk(
        "ipam/prefixes/",
        [{"prefix": str(p), "namespace": {"name": "Global"}, "status": active, "type": "network"} for p in prefixes],
    )
    addresses = api.bulk(
        "ipam/ip-addresses/",
        [
            {"address": f"{d['host']}/32", "namespace": {"name": "Global"}, "status": active, "type": "host"}
            for d in addressed
        ],
    )
    ip_id = {a["host"]: a["id"] for a in addresses}
    api.bulk(
        "ipam/ip-address-to-interface/",
        [{"ip_address": ip_id[d["host"]], "interface": interface_of[device_id[d["name"]]]} for d in addressed],
    )
    if addressed:
        api.call(
            "PATCH", "dcim/devices/", [{"id": device_id[d["name"]], "primary_ip4": ip_id[d["host"]]} for d in addressed]
        )
    summary = {"devices": len(devices), "requests": api.requests, "seconds": round(time.monotonic() - started, 2)}
    LOG.info("seeded %s", summary)
    return summary


def _ensure_status_types(api: _Api) -> None:
    """Make sure the built-in Active status applies to every model the seed gives a status."""
    needed = {"dcim.device", "dcim.location", "dcim.rack", "dcim.interface", "ipam.prefix", "ipam.ipaddress"}
    found = api.call("GET", "extras/statuses/?name=Active")["results"]
    if not found:
        raise SeedError("status Active is missing; was the database migrated?")
    status = found[0]
    have = set(status["content_types"])
    if not needed <= have:
        api.call("PATCH", f"extras/statuses/{status['id']}/", {"content_types": sorted(have | needed)})


STATUS_FIELDS_FILE = Path(__file__).resolve().parents[2] / "playbooks" / "vars" / "status_fields.yml"


def status_fields() -> List[Dict[str, Any]]:
    """The backup status fields of playbooks/vars/status_fields.yml, each with its default key (the status name)."""
    entries = yaml.safe_load(STATUS_FIELDS_FILE.read_text(encoding="utf-8"))["nautobot_backup_status_fields"]
    fields = []
    for entry in entries:
        match = re.search(r"get\('(\w+)'", entry["key"])
        if not match:
            raise SeedError(f"cannot read the default key of {entry['key']!r} in {STATUS_FIELDS_FILE}")
        fields.append({**entry, "key": match.group(1)})
    return fields


def _ensure_status_fields(api: _Api) -> None:
    """Create the backup status custom fields on dcim.device that are missing, as create_status_fields.yml does.

    The test bed is a Nautobot whose administrator ran playbooks/create_status_fields.yml: backup.yml's write-back
    (all six statuses by default) finds its fields.
    """
    have = {record["key"] for record in api.call("GET", "extras/custom-fields/?limit=1000")["results"]}
    for entry in status_fields():
        if entry["key"] in have:
            continue
        created = api.call(
            "POST",
            "extras/custom-fields/",
            {"key": entry["key"], "label": entry["label"], "type": entry["type"], "content_types": ["dcim.device"]},
        )
        for weight, choice in enumerate(entry.get("choices") or (), start=1):
            api.call(
                "POST",
                "extras/custom-field-choices/",
                {"custom_field": created["id"], "value": choice, "weight": weight * 100},
            )


def _ipv4(host: Any) -> Optional[ipaddress.IPv4Address]:
    try:
        addr = ipaddress.ip_address(str(host))
    except ValueError:
        return None
    return addr if isinstance(addr, ipaddress.IPv4Address) else None


def _prefixes(addresses: Sequence[Optional[ipaddress.IPv4Address]]) -> List[ipaddress.IPv4Network]:
    """127.0.0.0/8 plus a /24 for any address outside it."""
    nets = [ipaddress.IPv4Network("127.0.0.0/8")]
    for addr in addresses:
        if addr is not None and not any(addr in net for net in nets):
            nets.append(ipaddress.IPv4Network(f"{addr}/24", strict=False))
    return nets


# -- device lists -------------------------------------------------------------------------------
def load_devices(path: Path) -> List[Dict[str, Any]]:
    """Read a device list from the lab's ``lab.json`` or, before the lab exists, from a lab spec YAML."""
    path = Path(path)
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return list(data["devices"] if isinstance(data, dict) else data)
    return devices_from_spec(path)


def devices_from_spec(path: Path) -> List[Dict[str, Any]]:
    """Build the lab.json device list from a spec (tests/lab/specs/*.yml): hosts .1, .2, ... of ``network``.

    Only a stand-in for the lab's own loader, keyed on the same fields; ports are 22.
    """
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    defaults = spec.get("defaults") or {}
    network = ipaddress.IPv4Network(spec["network"])
    entries: List[Dict[str, Any]] = list(spec.get("devices") or [])
    gen = spec.get("generate")
    if gen:
        platforms, sites = gen["platforms"], gen.get("sites") or [None]
        for i in range(int(gen["count"])):
            driver = platforms[i % len(platforms)]
            entries.append(
                {
                    "name": f"{gen.get('prefix', 'dev')}-{i + 1:02d}",
                    "platform": driver,
                    "role": "switch" if driver in SWITCH_DRIVERS else "router",
                    "site": sites[i % len(sites)],
                }
            )
    devices = []
    hosts = network.hosts()
    for entry in entries:
        devices.append(
            {
                "name": entry["name"],
                "platform": entry["platform"],
                "host": str(next(hosts)),
                "port": entry.get("port", 22),
                "username": entry.get("username", defaults.get("username")),
                "password": entry.get("password", defaults.get("password")),
                "secret": entry.get("secret", defaults.get("secret")),
                "faults": entry.get("faults") or [],
                "role": entry.get("role"),
                "site": entry.get("site"),
                "tenant": entry.get("tenant"),
                "tags": entry.get("tags") or [],
            }
        )
    return devices
