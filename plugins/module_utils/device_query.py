# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetch devices from Nautobot's GraphQL API, page by page, and turn each into host facts.

The query asks for the fields that path templates, groups and the ``nautobot`` host facts
need; pages are fetched with
limit/offset and yielded one at a time, so callers can stream them into an inventory
with bounded memory. The next page is requested while the caller processes the current
one, which overlaps Nautobot's server time with the controller's work.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Deque, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Type

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import (
    NautobotBackupError,
    PlatformMappingError,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.platforms import (
    ansible_network_os,
    netmiko_device_type,
)

# GraphQL selection for one device. Platform and location come as IDs only: asking for
# ``network_driver_mappings`` and the location parent chain per device made Nautobot compute
# them once per device (more than half of its time at 10,000 devices), although there are
# only a handful of platforms and locations. They are read once (LOOKUP_QUERY) and joined
# here, into the same shape as before.
DEVICE_FIELDS = """
id name serial asset_tag
primary_ip4 { host }
primary_ip6 { host }
status { name }
role { name }
platform { id }
device_type { model manufacturer { name } }
tenant { name tenant_group { name } }
rack { name rack_group { name } }
location { id }
tags { name }
_custom_field_data
"""

# Platforms and locations, read once per inventory run and joined into each device.
LOOKUP_QUERY = """query InventoryLookups {
  platforms { id name network_driver network_driver_mappings manufacturer { name } }
  locations { id name location_type { name } parent { id } }
  tags(content_types: ["dcim.device"]) { name }
}"""

# Tags: asked per device (``tags { name }``) they cost Nautobot more than everything else in
# the query together. With at most MAX_TAG_QUERIES device tags, each tag's devices are read
# instead (IDs only, the same filters), one request per tag, and joined by device ID.
TAGS_FIELD = "tags { name }"
MAX_TAG_QUERIES = 20

# Levels of the location chain in the facts: the location, its parent and grandparent.
LOCATION_LEVELS = 3
# Page requests in flight at once: Nautobot answers each request on one worker thread, so
# two to four overlap its work across processes and with the controller's.
PAGE_WORKERS = 4

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


# Jinja's delimiters (Ansible uses the defaults). A device name holding one is refused: ansible-core
# before 2.19 templates host names (inventory_hostname) like any other plain string.
TEMPLATE_DELIMITERS = ("{{", "{%", "{#")

# What handling a record of the wrong shape raises (a string where an object belongs, a missing
# key, a list where a string belongs). Turned into DeviceRecordError with the device and page.
MALFORMED_RECORD_ERRORS: Tuple[Type[Exception], ...] = (TypeError, KeyError, AttributeError, ValueError, IndexError)

# Longest device name or error text quoted in a message.
_LABEL_LENGTH = 80
_REASON_LENGTH = 200


class DeviceQueryError(NautobotBackupError):
    """The device query could not be built from the given options, or Nautobot's answer has the wrong shape."""


class DeviceRecordError(DeviceQueryError):
    """One device record from Nautobot has a shape the inventory cannot handle (a malformed answer)."""


def has_template_delimiters(name: str) -> bool:
    """Whether a device name holds a Jinja delimiter (``{{``, ``{%`` or ``{#``)."""
    return any(delimiter in name for delimiter in TEMPLATE_DELIMITERS)


def safe_label(value: Any) -> str:
    """Return an untrusted name fit for a message: control characters escaped, at most _LABEL_LENGTH characters."""
    text = value if isinstance(value, str) else repr(value)
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= _LABEL_LENGTH else text[:_LABEL_LENGTH] + "..."


def page_label(number: int, page_size: int) -> str:
    """Name page ``number`` (1-based) of a paged device query, for messages."""
    if page_size <= 0:
        return "the unpaged device list"
    return f"page {number} (offset {(number - 1) * page_size})"


def malformed_record_error(record: Any, where: str, exc: BaseException) -> DeviceRecordError:
    """Return the error for a device record whose shape made handling it fail with exc.

    The message names the device (name and ID when the record has them), where it came from
    and the Python error, shortened: it may quote a value of the record, never a token.
    """
    who = "a device record"
    if isinstance(record, Mapping):
        name, device_id = record.get("name"), record.get("id")
        who = f"device {safe_label(name)}" if isinstance(name, str) and name else "a device without a name"
        if isinstance(device_id, str) and device_id:
            who += f" (id {safe_label(device_id)})"
    return DeviceRecordError(f"Nautobot's answer is malformed: {who}, {where}, cannot be read ({error_reason(exc)})")


def error_reason(exc: BaseException) -> str:
    """Return ``<type>: <message>`` of an exception on one line, at most _REASON_LENGTH characters of message."""
    reason = " ".join(str(exc).split())
    if len(reason) > _REASON_LENGTH:
        reason = reason[:_REASON_LENGTH] + "..."
    return f"{type(exc).__name__}: {reason}"


def build_query(
    filters: Mapping[str, Sequence[str]],
    extra_fields: Sequence[str] = (),
    paged: bool = True,
    inline_tags: bool = True,
) -> str:
    """Return the GraphQL devices query for the filters that are set (values go in variables).

    Without inline_tags the device tags are left out of the selection (they are joined from
    the per-tag queries of build_tag_query).
    """
    selection = DEVICE_FIELDS if inline_tags else DEVICE_FIELDS.replace(TAGS_FIELD, "")
    return _devices_query("DeviceInventory", filters, selection + "\n".join(extra_fields), paged)


def build_tag_query(filters: Mapping[str, Sequence[str]]) -> str:
    """Return the query for the IDs of the devices with one tag (``$tag``) under the same filters.

    The inventory's own tags filter is left out here: these answers only add tags to devices
    the device query returned, so a wider set is harmless and its meaning (any or all tags)
    does not matter.
    """
    rest = {option: values for option, values in filters.items() if option != "tags"}
    return _devices_query("DeviceTagIds", rest, "id", paged=False, tag=True)


def _devices_query(
    name: str, filters: Mapping[str, Sequence[str]], selection: str, paged: bool, tag: bool = False
) -> str:
    unknown = sorted(set(filters) - set(FILTER_ARGUMENTS))
    if unknown:
        raise DeviceQueryError(f"unknown device filter(s): {', '.join(unknown)}")
    declared: List[str] = []
    arguments: List[str] = []
    if paged:
        declared += ["$limit: Int", "$offset: Int"]
        arguments += ["limit: $limit", "offset: $offset"]
    if tag:
        declared.append("$tag: [String]")
        arguments.append("tags: $tag")
    for option, values in sorted(filters.items()):
        if values:
            argument, gql_type = FILTER_ARGUMENTS[option]
            declared.append(f"${argument}: {gql_type}")
            arguments.append(f"{argument}: ${argument}")
    header = f"query {name}({', '.join(declared)})" if declared else f"query {name}"
    call = f"devices({', '.join(arguments)})" if arguments else "devices"
    return f"{header} {{\n  {call} {{{selection}}}\n}}"


def query_variables(filters: Mapping[str, Sequence[str]]) -> Dict[str, List[str]]:
    """Return the GraphQL variables for the filters that are set."""
    return {FILTER_ARGUMENTS[option][0]: [str(v) for v in values] for option, values in filters.items() if values}


class DeviceLookups:
    """Platforms and locations read once, joined into device records that carry only their IDs.

    A joined record has the shape the per-device query used to give: ``platform`` with name,
    network driver, mappings and manufacturer; ``location`` with id, name, location type and
    its parent chain (LOCATION_LEVELS levels). Joined dicts are built once per platform or
    location and shared by every device that has it. An ID that is not in the lookup (an
    object created meanwhile) makes it read the lookups again, once; an ID still unknown
    after that is an object the token cannot see, and becomes ``None``, as Nautobot's own
    nested answer would be. The tag names and device tags of the first read stay as they are
    through such a reload: the per-tag queries were built from them and the device query no
    longer asks for tags, so dropping them would strip the tags of every later device.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._refreshed = False
        data = self._load()
        tags = data.get("tags")
        self.tag_names = [str(item["name"]) for item in tags or [] if isinstance(item, Mapping) and item.get("name")]
        self._device_tags: Optional[Dict[str, List[Dict[str, str]]]] = None

    def _load(self) -> Mapping[str, Any]:
        """Read (or read again) the platforms and locations; return the whole answer."""
        data = self._client.graphql(LOOKUP_QUERY)
        platforms, locations = data.get("platforms"), data.get("locations")
        if not isinstance(platforms, list) or not isinstance(locations, list):
            raise DeviceQueryError("Nautobot's GraphQL answer has no platform or location list")
        self._platforms = {
            str(item["id"]): {key: value for key, value in item.items() if key != "id"}
            for item in platforms
            if isinstance(item, Mapping) and item.get("id")
        }
        self._location_rows = {
            str(item["id"]): item for item in locations if isinstance(item, Mapping) and item.get("id")
        }
        self._chains: Dict[str, Dict[str, Any]] = {}
        return data

    def set_device_tags(self, ids_by_tag: Mapping[str, Sequence[str]]) -> None:
        """Remember each device's tags, from the device IDs of each tag (in tag_names order)."""
        device_tags: Dict[str, List[Dict[str, str]]] = {}
        shared: Dict[str, Dict[str, str]] = {}
        for name in self.tag_names:
            for device_id in ids_by_tag.get(name, ()):
                device_tags.setdefault(device_id, []).append(shared.setdefault(name, {"name": name}))
        self._device_tags = device_tags

    def _known(self, table: str, key: str) -> bool:
        """Whether key is in the table, reading the lookups again (once per run) when it is not."""
        if key in getattr(self, table):
            return True
        if not self._refreshed:
            self._refreshed = True
            self._load()
        return key in getattr(self, table)

    def _chain(self, key: str, levels: int = LOCATION_LEVELS) -> Optional[Dict[str, Any]]:
        """Return the location with its parents as nested dicts (the top level with its id)."""
        cache_key = f"{levels}:{key}"
        if cache_key in self._chains:
            return self._chains[cache_key]
        row = self._location_rows.get(key)
        if row is None:
            return None
        node: Dict[str, Any] = {"name": row.get("name"), "location_type": row.get("location_type")}
        if levels == LOCATION_LEVELS:
            node = {"id": row.get("id"), **node}
        if levels > 1:
            parent = row.get("parent")
            parent_id = str(parent.get("id")) if isinstance(parent, Mapping) and parent.get("id") else None
            node["parent"] = self._chain(parent_id, levels - 1) if parent_id else None
        self._chains[cache_key] = node
        return node

    def join(self, record: Dict[str, Any]) -> Dict[str, Any]:
        """Replace the record's platform and location IDs by the full objects (in place); return it."""
        platform = record.get("platform")
        if isinstance(platform, Mapping) and platform.get("id"):
            key = str(platform["id"])
            extra = {k: v for k, v in platform.items() if k != "id"}
            if self._known("_platforms", key):
                shared = self._platforms[key]
                record["platform"] = {**shared, **extra} if extra else shared
            else:
                record["platform"] = None
        location = record.get("location")
        if isinstance(location, Mapping) and location.get("id"):
            key = str(location["id"])
            extra = {k: v for k, v in location.items() if k != "id"}
            chain = self._chain(key) if self._known("_location_rows", key) else None
            record["location"] = {**chain, **extra} if chain is not None and extra else chain
        if self._device_tags is not None:
            record["tags"] = list(self._device_tags.get(str(record.get("id")), ()))
        return record


def iter_device_pages(
    client: Any,
    filters: Mapping[str, Sequence[str]],
    extra_fields: Sequence[str] = (),
    page_size: int = 1000,
    workers: int = PAGE_WORKERS,
) -> Iterator[List[Dict[str, Any]]]:
    """Yield lists of device records, one page at a time, in order; page_size 0 means one unpaged request.

    Platforms, locations and device tags are read first (DeviceLookups) and joined into each
    record; tags come from one ID query per tag (build_tag_query) unless there are more than
    MAX_TAG_QUERIES of them or extra_fields select tags, then from the device query itself.
    Up to ``workers`` requests are in flight at once, ahead of the page the caller handles;
    the first page shorter than page_size ends the list (pages requested beyond it are
    dropped). Any failure of any request up to the end raises (NautobotAPIError from the
    client, DeviceRecordError for a record that cannot be joined): a partial device list is
    never returned as if it were complete.
    """
    variables = query_variables(filters)
    lookups = DeviceLookups(client)
    join_tags = len(lookups.tag_names) <= MAX_TAG_QUERIES and not any(
        field.split("{")[0].split("(")[0].strip() == "tags" for field in extra_fields
    )
    query = build_query(filters, extra_fields, paged=page_size > 0, inline_tags=not join_tags)
    tag_query = build_tag_query(filters)
    tag_variables = query_variables({k: v for k, v in filters.items() if k != "tags"})

    def fetch(offset: int) -> List[Dict[str, Any]]:
        if page_size <= 0:
            return _devices_of(client.graphql(query, variables))
        return _devices_of(client.graphql(query, dict(variables, limit=page_size, offset=offset)))

    def fetch_tag(name: str) -> List[str]:
        devices = _devices_of(client.graphql(tag_query, dict(tag_variables, tag=[name])))
        if not all(isinstance(device, Mapping) and device.get("id") for device in devices):
            raise DeviceQueryError(
                f"Nautobot's answer for the devices tagged {safe_label(name)} has an entry without an id"
            )
        return [str(device["id"]) for device in devices]

    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    pending: Deque[Future] = deque()
    tag_futures: Dict[str, Future] = {}
    try:
        if join_tags:
            tag_futures = {name: pool.submit(fetch_tag, name) for name in lookups.tag_names}
        next_offset = 0
        for _slot in range(max(1, workers) if page_size > 0 else 1):
            pending.append(pool.submit(fetch, next_offset))
            next_offset += page_size
        if join_tags:
            lookups.set_device_tags({name: future.result() for name, future in tag_futures.items()})
        number = 0
        while pending:
            page = pending.popleft().result()
            number += 1
            if page_size <= 0 or len(page) < page_size:
                yield join_page(lookups, page, page_label(number, page_size))
                return
            pending.append(pool.submit(fetch, next_offset))
            next_offset += page_size
            yield join_page(lookups, page, page_label(number, page_size))
    finally:
        for future in list(pending) + list(tag_futures.values()):
            future.cancel()
        pool.shutdown(wait=True)


def join_page(lookups: DeviceLookups, page: List[Any], where: str) -> List[Dict[str, Any]]:
    """Join every record of one page (named by where); a record of the wrong shape raises DeviceRecordError."""
    joined: List[Dict[str, Any]] = []
    try:
        for device in page:
            joined.append(lookups.join(device))
    except MALFORMED_RECORD_ERRORS as exc:
        index = len(joined)
        raise malformed_record_error(page[index], f"record {index + 1} of {where}", exc) from exc
    return joined


def _devices_of(data: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Return the device list of a GraphQL answer; refuse an answer without one."""
    devices = data.get("devices")
    if not isinstance(devices, list):
        raise DeviceQueryError("Nautobot's GraphQL answer has no device list")
    return devices


def device_facts(record: Mapping[str, Any], shared: Optional[Dict[Any, Any]] = None) -> Dict[str, Any]:
    """Return the ``nautobot`` facts of a device: the GraphQL shape, custom fields renamed, nothing empty.

    Path templates address these facts with dotted names such as ``location.parent.name``,
    ``platform.name`` or ``custom_fields.net``. Null and empty values (``null``, ``""``,
    ``[]``, ``{}``) are left out at every depth: at 10,000 hosts each one costs
    ``ansible-inventory --list`` a value to copy and print; paths.py reports a template that
    names a left-out fact as null. With ``shared`` (one dict per inventory run) equal
    sub-objects of different devices (a location chain, a device type) are one object.
    """
    facts = {key: value for key, value in record.items() if key != "_custom_field_data"}
    facts["custom_fields"] = dict(record.get("_custom_field_data") or {})
    facts["tags"] = [tag.get("name") for tag in record.get("tags") or [] if isinstance(tag, Mapping)]
    if isinstance(record.get("platform"), Mapping):
        # The mappings are resolved into netmiko_device_type / ansible_network_os; keeping all
        # fifteen library names per host would only cost memory at 10,000 hosts.
        facts["platform"] = {k: v for k, v in record["platform"].items() if k != "network_driver_mappings"}
    cache: Dict[Any, Any] = {} if shared is None else shared
    lean: Dict[str, Any] = {}
    for key, value in facts.items():
        if key in _JOINED and isinstance(value, Mapping):
            # Joined from the lookups, one object per location or platform: lean each one once.
            source = record.get(key) if key == "platform" else value
            known = cache.get(id(source))
            if known is None or known[0] is not source:
                known = cache[id(source)] = (source, _lean(value, cache))
            value = known[1]
        elif isinstance(value, (dict, list)):
            value = _lean(value, cache)
        if not _is_empty(value):
            lean[key] = value
    return lean


# Facts joined from DeviceLookups: the same object for every device at a location or of a platform.
_JOINED = ("location", "platform")


def _is_empty(value: Any) -> bool:
    """Whether a fact value carries nothing: None, an empty string, list or dict."""
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def _lean(value: Any, shared: Dict[Any, Any]) -> Any:
    """Return value without empty values at any depth; equal dicts and lists come back as one shared object.

    Objects are looked up by their content, children first, so a key holds only scalars (a string as
    itself, others with their type: ``1`` and ``True`` stay apart) and the ids of already shared children.
    """
    if isinstance(value, Mapping):
        items = []
        for name, item in value.items():
            if isinstance(item, (dict, list)):
                item = _lean(item, shared)
            if not _is_empty(item):
                items.append((name, item))
        key: Any = ("dict", tuple((name, _content_key(item)) for name, item in items))
        return shared.setdefault(key, dict(items))
    if isinstance(value, list):
        kept = [item for item in (_lean(item, shared) for item in value) if not _is_empty(item)]
        key = ("list", tuple(_content_key(item) for item in kept))
        return shared.setdefault(key, kept)
    return value


def _content_key(value: Any) -> Any:
    """A hashable stand-in for a leaned value: a string as itself, a shared container by id, a scalar with its type."""
    if type(value) is str:  # pylint: disable=unidiomatic-typecheck  # a str subclass may compare equal yet differ
        return value
    if isinstance(value, (dict, list)):
        return (id(value),)
    return (type(value).__name__, value)


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
    shared: Optional[Dict[Any, Any]] = None,
) -> Dict[str, Any]:
    """Return the host variables of one device (without ansible_host, which the caller decides).

    ``netmiko_device_type`` / ``ansible_network_os`` are left out when the platform is
    unknown: the backup then reports ``unsupported_platform`` for that device alone. ``shared``:
    see device_facts.
    """
    variables: Dict[str, Any] = {"nautobot_id": record.get("id"), "nautobot": device_facts(record, shared)}
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
