"""Seed thousands of devices into a Nautobot test-bed instance in seconds, through the Django ORM.

Seeding through the REST API costs about 90 s per 500 devices on the test bed's two
cores, so a 10,000-device inventory would take half an hour. This file seeds inside
Nautobot's own process instead, with ``bulk_create`` in batches, and caches the result
as ``<cache>/nautobot/dumps/nautobot-<v>-bench-<N>.sql.gz`` so that later runs restore
it in seconds. It has two halves:

* **The ORM seeder** runs inside the Nautobot venv, like :mod:`testbed.nautobot_baseline`:
  ``<venv>/bin/python nautobot_bulk_seed.py --orm`` with ``NAUTOBOT_CONFIG`` set and a
  :class:`BenchSpec` as JSON on stdin. It only imports the standard library at module level,
  because the ``testbed`` package is not importable there.
* **The driver** runs in the project venv (``PYTHONPATH=tests``)::

      python -m testbed.nautobot_bulk_seed [--instance bench] [--devices 10000] [--no-cache] [--keep-running]

  It brings the instance up (:meth:`NautobotInstance.up`), restores the seeded DB from the
  template DB or the cached dump, or seeds it and writes the dump (the bed's own
  :meth:`Postgres.dump` / :meth:`Postgres.restore` / :meth:`NautobotInstance.reset`),
  then checks through the REST and GraphQL APIs that what Nautobot serves is what was
  seeded. Without ``--keep-running`` it stops what it started, by PID.

The data (all deterministic, see :func:`device_plan`): a Region > City > Building tree
(5 x 4 x 5 = 100 buildings), five platforms with their network driver, three
manufacturers, five device types, roles ``router``/``switch``, tenants ``tenant-1`` ..
``tenant-4`` in one tenant group (device ``i`` belongs to ``tenant-(i mod 4 + 1)``, so a
tenant filter selects exactly a quarter), tags (``backup`` on every device, every other
device also ``core``/``edge``/``dmz``), serials, an asset tag on every other device, the
``net`` custom field, one management interface per device and one /32 address per device
(from a loopback parent prefix in namespace Global, so no tool that reads this inventory
can reach a real network by mistake) assigned to that interface and set as primary IPv4.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import ipaddress
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple

if TYPE_CHECKING:  # the driver's imports; the ORM half must run without the testbed package
    from testbed.nautobot_bed import NautobotInstance

LOG = logging.getLogger(__name__)

HERE = Path(__file__).resolve()

#: netmiko driver -> (platform, manufacturer, device type model, management interface, interface type, role).
PLATFORMS: Dict[str, Tuple[str, str, str, str, str, str]] = {
    "cisco_ios": ("Cisco IOS", "Cisco", "IOSv", "Loopback0", "virtual", "router"),
    "cisco_nxos": ("Cisco NX-OS", "Cisco", "Nexus 9000v", "mgmt0", "1000base-t", "switch"),
    "arista_eos": ("Arista EOS", "Arista", "vEOS-lab", "Management1", "1000base-t", "switch"),
    "juniper_junos": ("Juniper Junos", "Juniper", "vMX", "fxp0", "1000base-t", "router"),
    "cisco_xr": ("Cisco IOS-XR", "Cisco", "IOS XRv 9000", "MgmtEth0/RP0/CPU0/0", "1000base-t", "router"),
}
TENANT_GROUP = "Bench Customers"
BACKUP_TAG = "backup"
SECOND_TAGS = ("core", "edge", "dmz")
NAME_PREFIX = "bench-"
DUMP_KIND = "bench"


class BulkSeedError(RuntimeError):
    """The bulk seed could not run, or Nautobot does not serve what it seeded."""


@dataclasses.dataclass(frozen=True)
class BenchSpec:
    """Shape of the seeded data; every field goes into the dump's cache key."""

    devices: int = 10_000
    regions: int = 5
    cities_per_region: int = 4
    buildings_per_city: int = 5
    tenants: int = 4
    parent_prefix: str = "127.64.0.0/10"
    batch_size: int = 1000

    def __post_init__(self) -> None:
        network = ipaddress.IPv4Network(self.parent_prefix)
        if self.devices < 1 or min(self.regions, self.cities_per_region, self.buildings_per_city, self.tenants) < 1:
            raise BulkSeedError(f"every count of the spec must be positive: {self}")
        if self.devices > network.num_addresses - 2:
            raise BulkSeedError(f"{self.parent_prefix} has too few addresses for {self.devices} devices")

    @property
    def buildings(self) -> int:
        """Number of buildings (leaf locations) the devices are spread over."""
        return self.regions * self.cities_per_region * self.buildings_per_city


# -- the data plan (pure, shared by both halves) ------------------------------------------------
def location_names(spec: BenchSpec) -> Tuple[List[str], List[Tuple[str, str]], List[Tuple[str, str]]]:
    """Return regions, (region, city) and (city, building) pairs; names are globally unique."""
    regions, cities, buildings = [], [], []
    for r in range(1, spec.regions + 1):
        region = f"region-{r}"
        regions.append(region)
        for c in range(1, spec.cities_per_region + 1):
            city = f"city-{r}-{c}"
            cities.append((region, city))
            for b in range(1, spec.buildings_per_city + 1):
                buildings.append((city, f"bldg-{r}-{c}-{b}"))
    return regions, cities, buildings


def tenant_name(index: int) -> str:
    """Name of the index-th tenant (1-based in the name)."""
    return f"tenant-{index + 1}"


def device_plan(spec: BenchSpec) -> Iterator[Dict[str, Any]]:
    """Yield the devices to seed, in order; each dict names its related objects.

    Devices fill the buildings in contiguous blocks (the first N/100 in the first building),
    while tenants and platforms rotate, so that a region filter and a tenant filter both
    select an even share.
    """
    _regions, _cities, buildings = location_names(spec)
    drivers = list(PLATFORMS)
    first_host = ipaddress.IPv4Network(spec.parent_prefix).network_address + 1
    for i in range(spec.devices):
        driver = drivers[i % len(drivers)]
        platform, _maker, model, interface, if_type, role = PLATFORMS[driver]
        city, building = buildings[i * len(buildings) // spec.devices]
        name = f"{NAME_PREFIX}{i + 1:05d}"
        tags = [BACKUP_TAG] + ([SECOND_TAGS[(i // 2) % len(SECOND_TAGS)]] if i % 2 else [])
        yield {
            "name": name,
            "driver": driver,
            "platform": platform,
            "model": model,
            "role": role,
            "building": building,
            "tenant": tenant_name(i % spec.tenants),
            "tags": tags,
            "serial": "BN" + hashlib.sha1(name.encode()).hexdigest()[:10].upper(),  # noqa: S324 - not security relevant
            "asset_tag": f"BA-{i + 1:05d}" if i % 2 == 0 else None,
            "net": f"{city}-{role}",
            "interface": interface,
            "interface_type": if_type,
            "host": str(first_host + i),
        }


# -- the ORM half (inside Nautobot's venv) ------------------------------------------------------
def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def orm_seed(spec: BenchSpec) -> Dict[str, Any]:
    """Create the bench data in the configured Nautobot DB (one transaction); return counts and phase times.

    Small, shared objects (locations, platforms, ...) go through ``validated_save()`` so that
    Nautobot's own validation runs on them; the per-device rows (devices, interfaces, IP
    addresses, their assignments and tags) go through ``bulk_create``, which skips
    ``clean()``/``save()`` and signals (hence no change log), so they are built exactly as
    those methods would leave them: the IP's parent prefix, mask length and version, the
    device's primary IPv4 on its own interface, custom fields in ``_custom_field_data``.
    """
    import nautobot  # pylint: disable=import-outside-toplevel

    nautobot.setup()
    # Imports need a configured Django, so they follow setup().
    from django.contrib.contenttypes.models import ContentType  # pylint: disable=import-outside-toplevel
    from django.db import transaction  # pylint: disable=import-outside-toplevel
    from nautobot.dcim.models import (  # pylint: disable=import-outside-toplevel
        Device,
        DeviceType,
        Interface,
        Location,
        LocationType,
        Manufacturer,
        Platform,
    )
    from nautobot.extras.models import Role, Status, Tag, TaggedItem  # pylint: disable=import-outside-toplevel
    from nautobot.ipam.models import (  # pylint: disable=import-outside-toplevel
        IPAddress,
        IPAddressToInterface,
        Namespace,
        Prefix,
    )
    from nautobot.tenancy.models import Tenant, TenantGroup  # pylint: disable=import-outside-toplevel

    timings: Dict[str, float] = {}
    mark = time.monotonic()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        timings[name] = round(now - mark, 2)
        mark = now
        LOG.info("%s done in %.1fs", name, timings[name])

    if Device.objects.exists():
        raise BulkSeedError("the database already holds devices; the bulk seed needs the bare base DB")
    plan = list(device_plan(spec))
    ct = ContentType.objects.get_for_model
    device_ct = ct(Device)

    with transaction.atomic():
        active = Status.objects.get(name="Active")
        active.content_types.add(*(ct(m) for m in (Device, Location, Interface, Prefix, IPAddress)))

        # Location types and the Region > City > Building tree.
        types: Dict[str, Any] = {}
        parent_type = None
        for type_name in ("Region", "City", "Building"):
            loc_type = LocationType(name=type_name, parent=parent_type)
            loc_type.validated_save()
            loc_type.content_types.set([device_ct] if type_name != "Building" else [device_ct, ct(Prefix)])
            types[type_name] = parent_type = loc_type
        regions, cities, buildings = location_names(spec)
        loc: Dict[str, Any] = {}
        for type_name, pairs in (("Region", [(None, r) for r in regions]), ("City", cities), ("Building", buildings)):
            for parent, name in pairs:
                node = Location(
                    name=name, location_type=types[type_name], parent=loc.get(parent) if parent else None, status=active
                )
                node.validated_save()
                loc[name] = node
        phase("locations")

        # Manufacturers, platforms, device types, roles, tenancy, tags, the parent prefix.
        makers = {}
        for maker in sorted({info[1] for info in PLATFORMS.values()}):
            makers[maker] = Manufacturer(name=maker)
            makers[maker].validated_save()
        platforms, models = {}, {}
        for driver, (platform, maker, model, _if, _if_type, _role) in PLATFORMS.items():
            platforms[platform] = Platform(name=platform, manufacturer=makers[maker], network_driver=driver)
            platforms[platform].validated_save()
            models[model] = DeviceType(model=model, manufacturer=makers[maker])
            models[model].validated_save()
        roles = {}
        for role_name in sorted({info[5] for info in PLATFORMS.values()}):
            roles[role_name] = Role(name=role_name)
            roles[role_name].validated_save()
            roles[role_name].content_types.set([device_ct])
        group = TenantGroup(name=TENANT_GROUP)
        group.validated_save()
        tenants = {}
        for index in range(spec.tenants):
            tenants[tenant_name(index)] = Tenant(name=tenant_name(index), tenant_group=group)
            tenants[tenant_name(index)].validated_save()
        tags = {}
        for tag_name in (BACKUP_TAG, *SECOND_TAGS):
            tags[tag_name] = Tag(name=tag_name)
            tags[tag_name].validated_save()
            tags[tag_name].content_types.set([device_ct])
        network = ipaddress.IPv4Network(spec.parent_prefix)
        prefix = Prefix(
            prefix=str(network), namespace=Namespace.objects.get(name="Global"), status=active, type="network"
        )
        prefix.validated_save()
        phase("shared objects")

        # Per-device rows, in dependency order: addresses, devices (pointing at them), interfaces,
        # address-to-interface assignments, tags.
        addresses = [
            IPAddress(
                host=dev["host"],
                mask_length=32,
                ip_version=4,
                type="host",
                status=active,
                parent=prefix,
                description="bench management address",
            )
            for dev in plan
        ]
        for batch in _batches(addresses, spec.batch_size):
            IPAddress.objects.bulk_create(batch)
        phase("ip addresses")

        devices = [
            Device(
                name=dev["name"],
                device_type=models[dev["model"]],
                role=roles[dev["role"]],
                platform=platforms[dev["platform"]],
                location=loc[dev["building"]],
                status=active,
                tenant=tenants[dev["tenant"]],
                serial=dev["serial"],
                asset_tag=dev["asset_tag"],
                primary_ip4=address,
                _custom_field_data={"net": dev["net"]},
            )
            for dev, address in zip(plan, addresses, strict=True)
        ]
        for batch in _batches(devices, spec.batch_size):
            Device.objects.bulk_create(batch)
        phase("devices")

        interfaces = [
            Interface(
                device=device,
                name=dev["interface"],
                type=dev["interface_type"],
                status=active,
                mgmt_only=True,
                description="bench management interface",
            )
            for dev, device in zip(plan, devices, strict=True)
        ]
        for batch in _batches(interfaces, spec.batch_size):
            Interface.objects.bulk_create(batch)
        assignments = [
            IPAddressToInterface(ip_address=address, interface=interface)
            for address, interface in zip(addresses, interfaces, strict=True)
        ]
        for batch in _batches(assignments, spec.batch_size):
            IPAddressToInterface.objects.bulk_create(batch)
        phase("interfaces")

        tagged = [
            TaggedItem(content_type=device_ct, object_id=device.pk, tag=tags[tag_name])
            for dev, device in zip(plan, devices, strict=True)
            for tag_name in dev["tags"]
        ]
        for batch in _batches(tagged, spec.batch_size):
            TaggedItem.objects.bulk_create(batch)
        phase("tags")

    return {
        "devices": Device.objects.count(),
        "interfaces": Interface.objects.filter(device__name__startswith=NAME_PREFIX).count(),
        "ip_addresses": IPAddress.objects.filter(parent=prefix).count(),
        "tagged_items": TaggedItem.objects.filter(content_type=device_ct).count(),
        "locations": Location.objects.count(),
        "seconds": timings,
    }


# -- the driver (project venv) ------------------------------------------------------------------
def dump_path(version: str, devices: int) -> Path:
    """Cached dump of a seeded bench DB: ``dumps/nautobot-<v>-bench-<N>.sql.gz``."""
    from testbed import nautobot_install as inst  # pylint: disable=import-outside-toplevel

    return inst.dumps_dir() / f"nautobot-{version}-{DUMP_KIND}-{devices}.sql.gz"


def seed_key(instance: NautobotInstance, spec: BenchSpec) -> str:
    """Cache key of a seeded bench DB: base dump, installed requirements, this file and the spec."""
    from testbed import nautobot_install as inst  # pylint: disable=import-outside-toplevel

    parts = {
        "base_id": instance.credentials()["base_id"],
        "requirements": inst.file_digest(inst.REQUIREMENTS),
        "seed_code": inst.file_digest(HERE),
        "spec": dataclasses.asdict(spec),
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return f"{DUMP_KIND}-{spec.devices}-{digest}"


def _run_orm_seed(instance: NautobotInstance, spec: BenchSpec) -> Dict[str, Any]:
    """Run the ORM half in Nautobot's venv against the instance's DB; return its summary."""
    from testbed import nautobot_install as inst  # pylint: disable=import-outside-toplevel

    log = instance.dir / "bulk-seed.log"
    with open(log, "ab") as handle:
        result = subprocess.run(
            [str(inst.venv_dir() / "bin" / "python"), str(HERE), "--orm"],
            input=json.dumps(dataclasses.asdict(spec)).encode(),
            stdout=subprocess.PIPE,
            stderr=handle,
            env=instance.env(),
            check=False,
        )
    if result.returncode != 0:
        raise BulkSeedError(f"the ORM seed failed (rc {result.returncode}); see {log}")
    try:
        summary: Dict[str, Any] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    except (IndexError, ValueError) as exc:
        raise BulkSeedError(f"the ORM seed printed no summary; see {log}") from exc
    return summary


def seed_bench(instance: NautobotInstance, spec: BenchSpec, use_cache: bool = True) -> Dict[str, Any]:
    """Give a running instance the bench data, the cheapest way that is still valid; return what was done.

    1. ``template``: the instance's seeded template DB already holds this spec (same key in
       state.json): copy it (``reset``).
    2. ``dump``: the cached ``bench-<N>`` dump exists with the same key in its sidecar
       ``.json``: restore it into the template DB, then copy.
    3. ``orm``: restore the base dump, run the ORM seeder, snapshot the DB as the template and
       write the dump and its sidecar.
    """
    from testbed.nautobot_services import read_json, write_json  # pylint: disable=import-outside-toplevel

    started = time.monotonic()
    key = seed_key(instance, spec)
    dump = dump_path(instance.version, spec.devices)
    sidecar = dump.with_suffix("").with_suffix(".json")
    summary: Dict[str, Any] = {"devices": spec.devices, "key": key}
    if use_cache and instance.state().get("seed_key") == key and instance.pg.database_exists(instance.seeded_db):
        summary["source"] = "template"
    elif use_cache and dump.exists() and read_json(sidecar).get("key") == key:
        instance.pg.restore(dump, instance.seeded_db)
        summary["source"] = "dump"
    else:
        from testbed import nautobot_install as inst  # pylint: disable=import-outside-toplevel

        instance.pg.restore(inst.base_dump(instance.version), instance.db)
        for redis_db in (instance.redis_db, instance.redis_db + 1):  # cache and Celery, as the bed's seed()
            instance.redis.flushdb(redis_db)
        summary["orm"] = _run_orm_seed(instance, spec)
        instance.pg.drop_database(instance.seeded_db)
        instance.pg.create_database(instance.seeded_db, template=instance.db)
        dump_started = time.monotonic()
        instance.pg.dump(instance.seeded_db, dump)
        write_json(sidecar, {"key": key, "spec": dataclasses.asdict(spec), "orm": summary["orm"]})
        summary["dump_seconds"] = round(time.monotonic() - dump_started, 1)
        summary["source"] = "orm"
    summary["reset_seconds"] = round(instance.reset(), 2)
    # Another key, so that the bed's own seed() never mistakes this DB for one of its REST seeds.
    instance._update_state(seed_key=key, seeded_devices=spec.devices)  # pylint: disable=protected-access
    summary["seconds"] = round(time.monotonic() - started, 1)
    LOG.info("instance %s has the bench data: %s", instance.name, summary)
    return summary


def verify(url: str, token: str, spec: BenchSpec) -> Dict[str, Any]:
    """Check through the REST and GraphQL APIs that Nautobot serves the seeded data; return the counts.

    Raises BulkSeedError on any difference: device count, devices with a primary IPv4, the
    devices of one tenant and one region, and a sample read back through GraphQL
    (``_custom_field_data``, primary IP, tags, location chain) compared with the plan.
    """
    import requests  # pylint: disable=import-outside-toplevel

    session = requests.Session()
    session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})

    def count(query: str) -> int:
        resp = session.get(f"{url}/api/dcim/devices/?limit=1&{query}", timeout=120)
        if resp.status_code != 200:
            raise BulkSeedError(f"GET devices?{query} -> HTTP {resp.status_code}: {resp.text[:500]}")
        return int(resp.json()["count"])

    plan = list(device_plan(spec))
    region = "region-1"
    counts = {
        "devices": count(""),
        "with_primary_ip": count("has_primary_ip=true"),
        "tenant-1": count("tenant=tenant-1"),
        region: count(f"location={region}"),
    }
    expected = {
        "devices": spec.devices,
        "with_primary_ip": spec.devices,
        "tenant-1": sum(1 for dev in plan if dev["tenant"] == "tenant-1"),
        region: sum(1 for dev in plan if dev["building"].startswith("bldg-1-")),
    }
    if counts != expected:
        raise BulkSeedError(f"Nautobot serves {counts}, the seed planned {expected}")

    sample = [plan[0], plan[len(plan) // 2], plan[-1]]
    query = (
        "query ($name: [String]) { devices(name: $name) { name serial asset_tag _custom_field_data"
        " primary_ip4 { host } tenant { name } platform { network_driver } tags { name }"
        " location { name parent { name parent { name } } } } }"
    )
    resp = session.post(
        f"{url}/api/graphql/",
        json={"query": query, "variables": {"name": [dev["name"] for dev in sample]}},
        timeout=120,
    )
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if resp.status_code != 200 or body.get("errors") or not isinstance(body.get("data"), dict):
        raise BulkSeedError(f"GraphQL sample -> HTTP {resp.status_code}: {resp.text[:1000]}")
    got = {dev["name"]: dev for dev in body["data"]["devices"]}
    for want in sample:
        dev = got.get(want["name"])
        seen = None
        if dev is not None:
            seen = {
                "serial": dev["serial"],
                "asset_tag": dev["asset_tag"],
                "net": (dev["_custom_field_data"] or {}).get("net"),
                "host": (dev["primary_ip4"] or {}).get("host"),
                "tenant": (dev["tenant"] or {}).get("name"),
                "driver": (dev["platform"] or {}).get("network_driver"),
                "tags": sorted(tag["name"] for tag in dev["tags"]),
                "building": dev["location"]["name"],
                "region": dev["location"]["parent"]["parent"]["name"],
            }
        wanted = {
            "serial": want["serial"],
            "asset_tag": want["asset_tag"],
            "net": want["net"],
            "host": want["host"],
            "tenant": want["tenant"],
            "driver": want["driver"],
            "tags": sorted(want["tags"]),
            "building": want["building"],
            "region": "region-" + want["building"].split("-")[1],
        }
        if seen != wanted:
            raise BulkSeedError(f"GraphQL serves {want['name']} as {seen}, the seed planned {wanted}")
    counts["graphql_sample"] = len(sample)
    return counts


def _stop_on_signal(signum: int, _frame: Any) -> None:
    """Turn SIGTERM into SystemExit so that finally blocks run."""
    raise SystemExit(128 + signum)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of both halves: ``--orm`` inside Nautobot's venv, the driver otherwise."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", maxsplit=1)[0])
    parser.add_argument("--orm", action="store_true", help="internal: run the ORM seeder (spec JSON on stdin)")
    parser.add_argument("--instance", default="bench", help="test-bed instance name (default: bench)")
    parser.add_argument("--devices", type=int, default=BenchSpec.devices, help="devices to seed (default: 10000)")
    parser.add_argument("--no-cache", action="store_true", help="seed through the ORM even if a dump is cached")
    parser.add_argument("--keep-running", action="store_true", help="leave the instance up (stop it with `down`)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr
    )
    if args.orm:
        summary = orm_seed(BenchSpec(**json.load(sys.stdin)))
        print(json.dumps(summary))
        return 0

    from testbed.nautobot_bed import NautobotInstance, Started  # pylint: disable=import-outside-toplevel

    # SIGTERM (and SIGINT, ignored in background jobs) must reach the finally below, which stops the server.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    instance = NautobotInstance(args.instance)
    spec = BenchSpec(devices=args.devices)
    started = Started()
    try:
        up_started = time.monotonic()
        instance.up(started=started)
        LOG.info("instance %s up in %.1fs", instance.name, time.monotonic() - up_started)
        summary = seed_bench(instance, spec, use_cache=not args.no_cache)
        summary["verified"] = verify(instance.url, instance.credentials()["admin"]["token"], spec)
        print(json.dumps(summary, indent=2))
    finally:
        if not args.keep_running:
            instance.down(started=started)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
