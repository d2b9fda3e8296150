# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory plugin: devices from Nautobot's GraphQL API, paged and fail-closed."""

from __future__ import annotations

DOCUMENTATION = r"""
name: nautobot
short_description: Nautobot devices as an inventory, through GraphQL, paged and fail-closed
version_added: 0.1.0
description:
  - Reads devices from Nautobot 3.x (and 2.x) through its GraphQL API with limit/offset paging,
    streaming each page into the inventory so memory stays bounded at 10,000 devices.
  - Sets C(ansible_host) (the primary IP without its mask), C(nautobot_id), C(netmiko_device_type),
    C(ansible_network_os) (the Ansible FQCN) and C(nautobot), a dict of device facts for backup path
    templates (name, serial, asset_tag, status, role, platform with its manufacturer, device_type,
    tenant with its group, rack with its group, location with its 3-level parent chain and location
    types, tags and custom_fields).
  - Null and empty values (C(null), C(""), C([]), C({})) are left out of C(nautobot) at every depth, unset
    custom fields included, and equal parts of different hosts' facts (a location chain, a device type) are
    one shared object, to keep C(ansible-inventory --list) lean at 10,000 hosts. A backup path template that
    names a left-out fact fails as it did when the fact was null (for example C(asset_tag is null)); in
    Jinja use C(nautobot.asset_tag | default(...)) or C(nautobot.asset_tag is defined).
  - B(Fails closed.) On HTTP 401/403, 5xx, a timeout, a refused connection, GraphQL C(errors), a body
    that is not JSON, a malformed device record (on any page), an invalid option or any other error,
    the plugin prints an error naming the URL or the device (never the token) and ends the program
    with exit code 1. So C(ansible-inventory), C(ansible-playbook) and an AWX inventory update fail
    without any C(ansible.cfg) setting, and no partial or empty inventory is ever used.
  - The plugin leaves the C(INVENTORY_ANY_UNPARSED_IS_FAILED) setting alone, so other inventory sources
    keep Ansible's usual handling. Ansible only warns when it cannot load the plugin at all (a broken
    installation); set C(any_unparsed_is_failed = true) in the C([inventory]) section of C(ansible.cfg)
    to stop the run in that case too.
  - A filter that matches nothing gives a valid, empty inventory with a warning.
  - Remote values are marked unsafe for templating.
  - "A device whose name holds a Jinja delimiter (C({{), C({%) or C({#)) is skipped with a warning that
    names it: ansible-core before 2.19 templates host names, so such a name could run code on the
    controller. The other devices stay in the inventory."
  - In O(compose), a value that is not a string (a number or a boolean, for example a port of 2222) is set as
    it is; strings are Jinja expressions, as usual.
  - The file name must end in C(nautobot.yml) or C(nautobot.yaml).
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    required: true
    type: str
    choices: [netops.nautobot_backup.nautobot]
  url:
    description: Base URL of Nautobot, for example C(https://nautobot.example.com).
    type: str
    required: true
    env:
      - name: NAUTOBOT_URL
  token:
    description:
      - Nautobot API token. It is sent only in the C(Authorization) header and never shown.
      - A token without view permission on a related object (a tenant, say) gets C(null) for it.
    type: str
    required: true
    env:
      - name: NAUTOBOT_TOKEN
  validate_certs:
    description: Whether to verify Nautobot's TLS certificate.
    type: bool
    default: true
    env:
      - name: NAUTOBOT_VALIDATE_CERTS
  timeout:
    description: Seconds to wait for each GraphQL request.
    type: int
    default: 60
  page_size:
    description:
      - Devices per GraphQL request. Pages are streamed into the inventory, and the next page is
        fetched while the current one is processed.
      - C(0) fetches every device in one request (more memory, and one long request).
      - At 10,000 devices and more, C(2500) was about 10% faster than the default here
        (R(the performance guide,ansible_collections.netops.nautobot_backup.docsite.performance)).
    type: int
    default: 1000
  parallel_requests:
    description:
      - Page requests in flight at once. Nautobot answers each request on one worker, so several
        spread its work over its processes; the pages still enter the inventory in order.
      - Platforms, locations and device tag names are read once per run (and the devices of each
        tag, as IDs, with one request per tag when there are at most 20 device tags) and joined into
        the devices, so each page asks only for IDs of these.
      - C(1) requests one page at a time (the next while the current one is processed).
    type: int
    default: 4
  device_ids:
    description:
      - Only these devices, by Nautobot UUID.
      - The alias C(inventory) keeps the name that existing job definitions give this list.
    type: list
    elements: str
    default: []
    aliases: [inventory]
  device_names:
    description: Only devices with these names.
    type: list
    elements: str
    default: []
  locations:
    description:
      - Only devices at these locations (name or UUID).
      - By default devices at descendant locations match too (see O(location_include_descendants)).
    type: list
    elements: str
    default: []
  location_include_descendants:
    description:
      - With O(locations), also include devices at child locations (a region includes its cities and
        buildings). Set to C(false) to keep only devices placed directly at the listed locations.
    type: bool
    default: true
  roles:
    description: Only devices with these roles (names).
    type: list
    elements: str
    default: []
  platforms:
    description: Only devices with these platforms (names).
    type: list
    elements: str
    default: []
  statuses:
    description: Only devices with these statuses (names), for example C(Active).
    type: list
    elements: str
    default: []
  tenants:
    description: Only devices of these tenants (names).
    type: list
    elements: str
    default: []
  tags:
    description: Only devices with these tags (names).
    type: list
    elements: str
    default: []
  group_by:
    description:
      - Groups to create from device data. Group names are lower case, with other characters than
        letters, digits and C(_) replaced by C(_).
      - C(location) creates C(location_<name>) for the device's location and its ancestors, nested
        like the location tree (C(location_europe) > C(location_berlin) > C(location_ber1)).
      - C(location_type) creates C(<type>_<name>) for the location and each ancestor, for example
        C(region_europe), C(city_berlin), C(building_ber1).
      - The others create C(role_<name>), C(platform_<name>), C(tenant_<name>), C(tag_<name>) and
        C(status_<name>).
    type: list
    elements: str
    choices: [location, location_type, role, platform, tenant, tags, status]
    default: [location, role, platform]
  extra_fields:
    description:
      - Extra GraphQL selections added to each device, for example C(comments) or
        C(interfaces { name }). They appear in the C(nautobot) host variable, unless null or empty.
    type: list
    elements: str
    default: []
  platform_map:
    description:
      - Platform name (or network driver) to netmiko device type, for platforms that neither Nautobot's
        C(network_driver_mappings) nor the collection's table know.
    type: dict
    default: {}
  use_name_when_no_primary_ip:
    description:
      - A device without a primary IP is skipped with a warning. When true, it is kept with its name as
        C(ansible_host) instead (for names that resolve in DNS).
    type: bool
    default: false
"""

EXAMPLES = r"""
# nautobot.yml: every active device, grouped by location, role and platform.
plugin: netops.nautobot_backup.nautobot
url: https://nautobot.example.com
# token: from the NAUTOBOT_TOKEN environment variable
statuses: [Active]
---
# Only the routers of one region and its children, grouped by location type too.
plugin: netops.nautobot_backup.nautobot
url: https://nautobot.example.com
locations: [Europe]
roles: [router]
group_by: [location, location_type, role, platform, tenant]
compose:
  ansible_port: nautobot.custom_fields.ssh_port | default(22)
keyed_groups:
  - key: nautobot.device_type.model
    prefix: model
---
# Exactly these devices, by UUID (device_ids, alias inventory), with a cache.
plugin: netops.nautobot_backup.nautobot
url: https://nautobot.example.com
inventory:
  - 2b3c1f7e-4a2d-4c4e-9a55-0d3b9a6c1f10
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /tmp/nautobot_inventory
"""

import re
import traceback
from typing import Any, Dict, Iterator, List, Mapping, NoReturn

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var

try:  # ansible-core 2.19+: values set by inventory plugins are untrusted (never templated) by default
    from ansible.template import trust_as_template  # noqa: F401  # pylint: disable=unused-import

    HAS_DATA_TAGGING = True
except ImportError:  # older cores need the values wrapped to be marked unsafe
    HAS_DATA_TAGGING = False

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import MissingLibraryError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_query import (
    FILTER_ARGUMENTS,
    MALFORMED_RECORD_ERRORS,
    error_reason,
    has_template_delimiters,
    host_variables,
    iter_device_pages,
    location_chain,
    malformed_record_error,
    page_label,
    primary_host,
    safe_label,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import NautobotClient

display = Display()

_INVALID_GROUP_CHARS = re.compile(r"[^a-z0-9_]")
_WARN_NAMES = 10
# Exit status of a failed inventory (ansible-core's own for an AnsibleError).
_EXIT_FAILED = 1


class InventoryFailedClosed(SystemExit):
    """Ends the program after the inventory failed: no partial or empty inventory may be used.

    InventoryManager.parse_source catches every Exception a plugin raises, AnsibleError included,
    and only warns unless INVENTORY_ANY_UNPARSED_IS_FAILED is set (a global setting for every
    source, off by default); the hosts a failing plugin already added stay in the inventory.
    Only BaseException subclasses pass through parse_source and the CLI's error handling, and
    SystemExit is the one meant to end a program: ansible-core raises it itself for fatal
    start-up errors (ansible/cli/__init__.py), and Python exits with its code and no traceback.
    The message is printed with Display.error before; str() gives it to a caller that catches this.
    """

    def __init__(self, message: str) -> None:
        super().__init__(_EXIT_FAILED)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Build the inventory from Nautobot devices."""

    NAME = "netops.nautobot_backup.nautobot"

    def verify_file(self, path: str) -> bool:
        """Accept only files named *nautobot.yml or *nautobot.yaml."""
        return super().verify_file(path) and path.endswith(("nautobot.yml", "nautobot.yaml"))

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        """Read the devices (from the cache or Nautobot) and add them to the inventory; end the program on any error."""
        try:
            super().parse(inventory, loader, path, cache)
            self._parse(path, cache)
        except (NautobotBackupError, MissingLibraryError) as exc:
            self._fail_closed(path, str(exc), exc)
        except AnsibleError as exc:  # an invalid option, a strict compose/keyed_groups expression
            self._fail_closed(path, str(exc), exc)
        except Exception as exc:  # noqa: BLE001  # pylint: disable=broad-exception-caught
            # Anything else would only be a warning in parse_source, with the hosts added so far
            # left in the inventory; it fails the run too, its type and message in the error.
            self._fail_closed(path, f"unexpected {error_reason(exc)}", exc)

    def _parse(self, path: str, cache: bool) -> None:
        """Read the configuration, then the devices from the cache or Nautobot, and warn about skipped ones."""
        self._read_config_data(path)
        self._platform_map = self.get_option("platform_map")
        self._exact = self._exact_locations()
        self._target = self._variable_target()
        self._skipped: Dict[str, List[str]] = {}
        self._seen: set = set()
        self._linked: set = set()
        self._group_names: Dict[tuple, str] = {}
        self._added = 0
        self._shared: Dict[Any, Any] = {}  # equal fact sub-objects of different hosts, one object each
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        refresh_cache = self.get_option("cache") and not cache
        cached = None
        if use_cache:
            try:
                cached = self._cache[cache_key]
            except KeyError:
                refresh_cache = True
        if cached is not None:
            self._add_devices(cached, "the inventory cache")
        else:
            collected = self._fetch(keep=refresh_cache)
            if refresh_cache:
                self._cache[cache_key] = collected
        self._report()

    def _fetch(self, keep: bool) -> List[Dict[str, Any]]:
        """Stream devices from Nautobot into the inventory; return them too when keep is true."""
        client = NautobotClient(
            url=self.get_option("url"),
            token=self.get_option("token"),
            validate_certs=self.get_option("validate_certs"),
            timeout=self.get_option("timeout"),
        )
        kept: List[Dict[str, Any]] = []
        filters = {option: self.get_option(option) for option in FILTER_ARGUMENTS}
        page_size = self.get_option("page_size")
        pages: Iterator[List[Dict[str, Any]]] = iter_device_pages(
            client,
            filters,
            self.get_option("extra_fields"),
            page_size,
            workers=self.get_option("parallel_requests"),
        )
        try:
            for number, page in enumerate(pages, 1):
                self._add_devices(page, page_label(number, page_size))
                if keep:
                    kept.extend(page)
        finally:
            pages.close()  # cancels the requests still queued, waits for those in flight
            client.close()
        return kept

    def _add_devices(self, records: List[Mapping[str, Any]], where: str) -> None:
        """Add the device records of one page (named by where) as hosts; a malformed one raises DeviceRecordError."""
        added = 0
        try:
            for record in records:
                self._add_device(record)
                added += 1
        except MALFORMED_RECORD_ERRORS as exc:
            raise malformed_record_error(records[added], f"record {added + 1} of {where}", exc) from exc

    def _add_device(self, record: Mapping[str, Any]) -> None:
        """Add one device record as a host, with its variables and groups, or remember why it is skipped."""
        name = record.get("name")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"the name is a {type(name).__name__}, not a string")
        if not name:
            self._skip("without a name", safe_label(record.get("id")))
            return
        if has_template_delimiters(name):
            # Refused rather than templated: ansible-core before 2.19 renders host names as templates.
            self._skip("with a Jinja delimiter ({{, {% or {#) in the name", safe_label(name))
            return
        if self._exact and not self._exact & {str((record.get("location") or {}).get(key)) for key in ("name", "id")}:
            return
        address = primary_host(record)
        if address is None:
            if not self.get_option("use_name_when_no_primary_ip"):
                self._skip("without a primary IP", safe_label(name))
                return
            address = name
        if name in self._seen:
            self._skip("with a duplicate name (only the first is kept)", safe_label(name))
            return
        self._seen.add(name)
        host = self.inventory.add_host(name)
        variables = host_variables(record, self._platform_map, self._shared)
        variables["ansible_host"] = address
        for key, value in variables.items():
            self._target.set_variable(host, key, value if HAS_DATA_TAGGING else wrap_var(value))
        self._add_groups(host, record)
        self._construct(host, variables)
        self._added += 1

    def _variable_target(self) -> Any:
        """Return the inventory object whose set_variable stores the device variables.

        ansible-core 2.19 hands plugins a proxy whose set_variable walks every value to tag
        its origin (and trust, which this plugin never grants): about 0.8 ms per device here,
        the largest share of the parse at 10,000 devices. The values set here are plain JSON
        from Nautobot, untagged strings are untrusted (never templated) already, so they go
        to the inventory behind the proxy. Older cores have no proxy; values are wrapped as
        unsafe instead.
        """
        return getattr(self.inventory, "__wrapped__", self.inventory) if HAS_DATA_TAGGING else self.inventory

    def _exact_locations(self) -> set:
        """Return the location filter when descendants are excluded, else an empty set."""
        if self.get_option("location_include_descendants"):
            return set()
        return {str(location) for location in self.get_option("locations")}

    def _add_groups(self, host: str, record: Mapping[str, Any]) -> None:
        """Put host into the group_by groups."""
        group_by = self.get_option("group_by")
        chain = location_chain(record)
        if "location" in group_by and chain:
            names = [self._group("location", node["name"]) for node in chain]
            self.inventory.add_child(names[0], host)
            for child, parent in zip(names, names[1:], strict=False):
                if (child, parent) not in self._linked:  # once per pair, not once per host
                    self._linked.add((child, parent))
                    self.inventory.add_child(parent, child)
        if "location_type" in group_by:
            for node in chain:
                kind = (node.get("location_type") or {}).get("name")
                if kind:
                    self.inventory.add_child(self._group(kind, node["name"]), host)
        singles = {"role": "role", "platform": "platform", "tenant": "tenant", "status": "status"}
        for option, field in singles.items():
            value = (record.get(field) or {}).get("name") if option in group_by else None
            if value:
                self.inventory.add_child(self._group(option, value), host)
        if "tags" in group_by:
            for tag in record.get("tags") or []:
                if tag.get("name"):
                    self.inventory.add_child(self._group("tag", tag["name"]), host)

    def _group(self, prefix: str, value: str) -> str:
        """Create (if needed) and return the group named <prefix>_<value>, made a valid name."""
        key = (prefix, value)
        if key not in self._group_names:
            name = _INVALID_GROUP_CHARS.sub("_", f"{prefix}_{value}".lower())
            self._group_names[key] = self.inventory.add_group(name)
        return self._group_names[key]

    def _construct(self, host: str, variables: Dict[str, Any]) -> None:
        """Apply compose, groups and keyed_groups."""
        strict = self.get_option("strict")
        compose = self.get_option("compose") or {}
        # ansible-core silently skips compose values that are not strings (expressions); a
        # number or boolean such as "ansible_port: 2222" means that value, so set it as is.
        for key, value in compose.items():
            if not isinstance(value, str):
                self.inventory.set_variable(host, key, value)
        expressions = {key: value for key, value in compose.items() if isinstance(value, str)}
        hostvars = self.inventory.get_host(host).get_vars()
        self._set_composite_vars(expressions, hostvars, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), hostvars, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, host, strict=strict)

    def _skip(self, reason: str, name: str) -> None:
        """Remember a skipped device for one summary warning per reason."""
        self._skipped.setdefault(reason, []).append(name)

    def _report(self) -> None:
        """Warn once per skip reason, and when the query matched nothing."""
        for reason, names in self._skipped.items():
            more = len(names) - _WARN_NAMES
            shown = ", ".join(names[:_WARN_NAMES]) + (f" and {more} more" if more > 0 else "")
            display.warning(f"Nautobot inventory: skipped {len(names)} device(s) {reason}: {shown}")
        if self._added == 0 and not self._skipped:
            display.warning(f"Nautobot inventory: no device at {self.get_option('url')} matched the filters")

    def _fail_closed(self, path: str, message: str, cause: BaseException) -> NoReturn:
        """Print the error and end the program (InventoryFailedClosed): a failed inventory is never used."""
        text = f"{self.NAME}: inventory source {path} failed, no inventory is produced: {message}"
        display.error(text)
        display.vvv("".join(traceback.format_exception(type(cause), cause, cause.__traceback__)))
        raise InventoryFailedClosed(text) from cause
