# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetch devices from Nautobot's GraphQL API, page by page, and turn each into host facts.

Replaces the GraphQL half of the seed's ``DeviceConfigService``. The query asks for the
fields path templates and groups need (MISSION section 3); pages are fetched with
limit/offset and yielded one at a time, so callers can stream them into an inventory
with bounded memory. The next page is requested while the caller processes the current
one, which overlaps Nautobot's server time with the controller's work.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import (
    NautobotBackupError,
    PlatformMappingError,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.platforms import (
    ansible_network_os,
    netmiko_device_type,
)

# GraphQL selection for one device. Location carries its 3-level parent chain.
_LOCATION = "name location_type { name }"
DEVICE_FIELDS = f"""
id name serial asset_tag
primary_ip4 {{ host }}
primary_ip6 {{ host }}
status {{ name }}
role {{ name }}
platform {{ name network_driver network_driver_mappings manufacturer {{ name }} }}
device_type {{ model manufacturer {{ name }} }}
tenant {{ name tenant_group {{ name }} }}
rack {{ name rack_group {{ name }} }}
location {{ id {_LOCATION} parent {{ {_LOCATION} parent {{ {_LOCATION} }} }} }}
tags {{ name }}
_custom_field_data
"""

# Inventory filter option -> (GraphQL argument of Query.devices, GraphQL type).
FILTER_ARGUMENTS = {
    "device_ids": ("id", "[String]"),
    "device_names": ("name", "[String]"),
    "locations": ("location", "[String]"),
    "roles": ("role", "[String]"),
    "platforms": ("platform", "[String]"),
    "statuses": ("status", "[String]"),
    "tenants": ("tenant", "[String]"),
    "tags": ("tags", "[String]"),
}


class DeviceQueryError(NautobotBackupError):
    """The device query could not be built from the given options."""


def build_query(filters: Mapping[str, Sequence[str]], extra_fields: Sequence[str] = (), paged: bool = True) -> str:
    """Return the GraphQL devices query for the filters that are set (values go in variables)."""
    unknown = sorted(set(filters) - set(FILTER_ARGUMENTS))
    if unknown:
        raise DeviceQueryError(f"unknown device filter(s): {', '.join(unknown)}")
    declared: List[str] = []
    arguments: List[str] = []
    if paged:
        declared += ["$limit: Int", "$offset: Int"]
        arguments += ["limit: $limit", "offset: $offset"]
    for option, values in sorted(filters.items()):
        if values:
            argument, gql_type = FILTER_ARGUMENTS[option]
            declared.append(f"${argument}: {gql_type}")
            arguments.append(f"{argument}: ${argument}")
    header = f"query DeviceInventory({', '.join(declared)})" if declared else "query DeviceInventory"
    selection = DEVICE_FIELDS + "\n".join(extra_fields)
    call = f"devices({', '.join(arguments)})" if arguments else "devices"
    return f"{header} {{\n  {call} {{{selection}}}\n}}"


def query_variables(filters: Mapping[str, Sequence[str]]) -> Dict[str, List[str]]:
    """Return the GraphQL variables for the filters that are set."""
    return {FILTER_ARGUMENTS[option][0]: [str(v) for v in values] for option, values in filters.items() if values}


def iter_device_pages(
    client: Any,
    filters: Mapping[str, Sequence[str]],
    extra_fields: Sequence[str] = (),
    page_size: int = 500,
) -> Iterator[List[Dict[str, Any]]]:
    """Yield lists of device records, one page at a time; page_size 0 means one unpaged request.

    While the caller handles one page, the next is already being fetched. Any failure of
    any page raises (NautobotAPIError from the client): a partial device list is never
    returned as if it were complete.
    """
    variables = query_variables(filters)
    if page_size <= 0:
        data = client.graphql(build_query(filters, extra_fields, paged=False), variables)
        yield _devices_of(data)
        return
    query = build_query(filters, extra_fields, paged=True)

    def fetch(offset: int) -> List[Dict[str, Any]]:
        return _devices_of(client.graphql(query, dict(variables, limit=page_size, offset=offset)))

    with ThreadPoolExecutor(max_workers=1) as pool:
        offset = 0
        pending = pool.submit(fetch, offset)
        while True:
            page = pending.result()
            offset += page_size
            more = len(page) >= page_size
            if more:
                pending = pool.submit(fetch, offset)
            yield page
            if not more:
                return


def _devices_of(data: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Return the device list of a GraphQL answer; refuse an answer without one."""
    devices = data.get("devices")
    if not isinstance(devices, list):
        raise DeviceQueryError("Nautobot's GraphQL answer has no device list")
    return devices


def device_facts(record: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the ``nautobot`` facts of a device: the GraphQL shape, custom fields renamed.

    Path templates address these facts with dotted names such as ``location.parent.name``,
    ``platform.name`` or ``custom_fields.net``.
    """
    facts = {key: value for key, value in record.items() if key != "_custom_field_data"}
    facts["custom_fields"] = dict(record.get("_custom_field_data") or {})
    facts["tags"] = [tag.get("name") for tag in record.get("tags") or [] if isinstance(tag, Mapping)]
    if isinstance(record.get("platform"), Mapping):
        # The mappings are resolved into netmiko_device_type / ansible_network_os; keeping all
        # fifteen library names per host would only cost memory at 10,000 hosts.
        facts["platform"] = {k: v for k, v in record["platform"].items() if k != "network_driver_mappings"}
    return facts


def primary_host(record: Mapping[str, Any]) -> Optional[str]:
    """Return the device's primary IPv4 (else IPv6) address without its mask, or None."""
    for key in ("primary_ip4", "primary_ip6"):
        address = record.get(key)
        if isinstance(address, Mapping) and address.get("host"):
            return str(address["host"])
    return None


def host_variables(
    record: Mapping[str, Any],
    platform_map: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    """Return the host variables of one device (without ansible_host, which the caller decides).

    ``netmiko_device_type`` / ``ansible_network_os`` are left out when the platform is
    unknown: the backup then reports ``unsupported_platform`` for that device alone.
    """
    variables: Dict[str, Any] = {"nautobot_id": record.get("id"), "nautobot": device_facts(record)}
    platform = record.get("platform")
    if platform:
        try:
            variables["netmiko_device_type"] = netmiko_device_type(
                platform, platform_map=platform_map, device=record.get("name")
            )
        except PlatformMappingError:
            pass
        network_os = ansible_network_os(platform, platform_map)
        if network_os:
            variables["ansible_network_os"] = network_os
    return variables


def location_chain(record: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    """Return the device's location followed by its ancestors, nearest first."""
    chain: List[Mapping[str, Any]] = []
    node = record.get("location")
    while isinstance(node, Mapping) and node.get("name"):
        chain.append(node)
        node = node.get("parent")
    return chain
