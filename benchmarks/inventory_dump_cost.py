"""What ansible-inventory's own JSON output costs for a listing, by which host variables it keeps (for #16).

    ansible-inventory -i <nautobot.yml> --list > listing.json
    .venv/bin/python benchmarks/inventory_dump_cost.py listing.json all|no_id|shared_out|facts_out

Loads the listing (``__ansible_unsafe`` markers turned back into plain, untrusted strings, as the
plugin hands them to ansible-core), optionally drops variables, then serialises it exactly as
``ansible-inventory --list`` does on ansible-core 2.19 (``json.dumps`` with the inventory legacy
encoder, ``sort_keys=True, indent=4``) and prints the untrusted strings per host, the CPU and the
peak RSS the dump added. Variants: ``all`` (as listed), ``no_id`` (without ``nautobot_id``, which
repeats ``nautobot.id``), ``shared_out`` (also without the parts shared by many hosts: location
chain, platform, device type, tenant, netmiko_device_type, ansible_network_os), ``facts_out``
(without ``nautobot``). Run each variant in its own process: the peak RSS is the process's.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

from ansible._internal._json._profiles import _inventory_legacy

SHARED = ("location", "platform", "device_type", "tenant")


def unwrap(value: Any) -> Any:
    """Replace {"__ansible_unsafe": value} markers by the plain value."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def strings(value: Any) -> int:
    """The string values (each serialised as an __ansible_unsafe object) in value."""
    if isinstance(value, dict):
        return sum(strings(item) for item in value.values())
    if isinstance(value, list):
        return sum(strings(item) for item in value)
    return int(isinstance(value, str))


def main() -> None:
    """Drop the variant's variables, dump, print the cost."""
    path, variant = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as source:
        data = unwrap(json.load(source))
    hostvars = data["_meta"]["hostvars"]
    for variables in hostvars.values():
        if variant in ("no_id", "shared_out"):
            variables.pop("nautobot_id", None)
        if variant == "shared_out":
            for key in SHARED:
                variables["nautobot"].pop(key, None)
            variables.pop("netmiko_device_type", None)
            variables.pop("ansible_network_os", None)
        if variant == "facts_out":
            variables.pop("nautobot", None)
    per_host = strings(hostvars) / max(1, len(hostvars))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.process_time()
    text = json.dumps(data, cls=_inventory_legacy.Encoder, sort_keys=True, indent=4)
    cpu = time.process_time() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{variant:10s} {per_host:5.1f} strings/host  dump CPU {cpu:5.2f} s  "
        f"peak RSS +{peak - before:4.0f} MiB  output {len(text) / 1e6:5.1f} MB"
    )


if __name__ == "__main__":
    main()
