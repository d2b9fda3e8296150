# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Map a Nautobot platform to a netmiko device type and an Ansible network OS.

Lookups are exact (a substring match would turn "Cisco NX-OS" or "FortiOS" into
``cisco_ios``), in this order:

1. Nautobot's ``platform.network_driver_mappings`` (``netmiko`` / ``ansible`` key);
2. the platform's ``network_driver`` through netutils' library mappers;
3. the platform name through ``PLATFORM_NAME_TABLE`` below, or through netutils'
   NAPALM names (``ios``, ``nxos``, ``eos``, ``junos``, ``iosxr`` ...);
4. the user's ``platform_map`` (platform name or network driver -> netmiko type),
   for platforms none of the above knows.

Anything else raises ``PlatformMappingError``: an unknown platform is a clear
per-device error, never a guess. A platform that is neither a name nor a dict of strings
(a list, a number, a dict whose ``name`` is a list ...) raises ``PlatformValueError``
(class ``other``) for that device. A host that sets ``netmiko_device_type`` itself
bypasses this module entirely.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import PlatformMappingError

if has_library("netutils"):
    from netutils.lib_mapper import (
        ANSIBLE_LIB_MAPPER,
        ANSIBLE_LIB_MAPPER_REVERSE,
        NAPALM_LIB_MAPPER,
        NETMIKO_LIB_MAPPER,
        NETMIKO_LIB_MAPPER_REVERSE,
    )
else:  # pragma: no cover - without netutils only the exact name table is available
    ANSIBLE_LIB_MAPPER = {}
    ANSIBLE_LIB_MAPPER_REVERSE = {}
    NAPALM_LIB_MAPPER = {}
    NETMIKO_LIB_MAPPER = {}
    NETMIKO_LIB_MAPPER_REVERSE = {}

# Human platform names as people type them into Nautobot -> netutils network driver.
# Matched case-insensitively and exactly (after trimming): no substrings, no prefixes.
PLATFORM_NAME_TABLE: Dict[str, str] = {
    "cisco ios": "cisco_ios",
    "ios": "cisco_ios",
    "cisco ios-xe": "cisco_xe",
    "cisco ios xe": "cisco_xe",
    "ios-xe": "cisco_xe",
    "iosxe": "cisco_xe",
    "cisco nx-os": "cisco_nxos",
    "cisco nxos": "cisco_nxos",
    "nx-os": "cisco_nxos",
    "cisco ios-xr": "cisco_xr",
    "cisco ios xr": "cisco_xr",
    "ios-xr": "cisco_xr",
    "cisco asa": "cisco_asa",
    "arista eos": "arista_eos",
    "juniper junos": "juniper_junos",
    "junos": "juniper_junos",
    "fortios": "fortinet",
    "fortinet fortios": "fortinet",
    "paloalto panos": "paloalto_panos",
    "palo alto pan-os": "paloalto_panos",
    "hpe comware": "hp_comware",
    "hp comware": "hp_comware",
    "huawei vrp": "huawei_vrp",
}


class PlatformValueError(PlatformMappingError):
    """A device's platform is not a name or a dict of strings (bad inventory data): class ``other``."""

    failure_class = "other"


def _norm(value: Any) -> str:
    """Normalise a name for exact, case-insensitive lookup."""
    return " ".join(str(value).strip().lower().split()) if value is not None else ""


def _platform_fields(platform: Any, device: Optional[str] = None) -> Tuple[str, str, Mapping[str, Any]]:
    """Return (name, network_driver, network_driver_mappings) from a platform dict or name.

    Raises PlatformValueError for anything else (a list, a number, a dict with a non-string name,
    driver or netmiko mapping): str() of such a value would only make a confusing lookup key.
    """
    if isinstance(platform, Mapping):
        mappings = platform.get("network_driver_mappings") or {}
        mappings = mappings if isinstance(mappings, Mapping) else {}
        fields = {"name": platform.get("name"), "network_driver": platform.get("network_driver"),
                  "network_driver_mappings.netmiko": mappings.get("netmiko")}
        for key, value in fields.items():
            if value is not None and not isinstance(value, str):
                raise PlatformValueError(_odd_message(f"platform {key}", value, device), device=device)
        return (fields["name"] or "", fields["network_driver"] or "", mappings)
    if platform is not None and not isinstance(platform, str):
        raise PlatformValueError(_odd_message("platform", platform, device), device=device)
    return (platform or "", "", {})


def value_type(value: Any) -> str:
    """The plain type name of a variable's value (Ansible hands over tagged subclasses of str, int, list...)."""
    for kind in (bool, int, float, str, bytes, list, tuple, dict, Mapping):
        if isinstance(value, kind):
            return "dict" if kind is Mapping else kind.__name__
    return type(value).__name__


def _odd_message(what: str, value: Any, device: Optional[str]) -> str:
    """Explain a platform value of the wrong type (named by type, not shown: it may be anything)."""
    who = f" of device '{device}'" if device else ""
    return (
        f"the {what}{who} must be a string, got a {value_type(value)}: fix the device's platform in Nautobot "
        "or the host's nautobot.platform variable, or set netmiko_device_type for the host"
    )


def network_driver(platform: Any, platform_map: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Return the netutils network driver for platform, or None when no exact rule knows it (or it is no name)."""
    try:
        name, driver, _mappings = _platform_fields(platform)
    except PlatformValueError:
        return None
    if driver:
        return driver
    key = _norm(name)
    if key in PLATFORM_NAME_TABLE:
        return PLATFORM_NAME_TABLE[key]
    if key in NAPALM_LIB_MAPPER:
        return NAPALM_LIB_MAPPER[key]
    if key in NETMIKO_LIB_MAPPER:
        return NETMIKO_LIB_MAPPER[key]
    user = {_norm(k): v for k, v in (platform_map or {}).items()}
    if key in user and user[key] in NETMIKO_LIB_MAPPER:
        return NETMIKO_LIB_MAPPER[user[key]]
    return None


def netmiko_device_type(
    platform: Any,
    platform_map: Optional[Mapping[str, str]] = None,
    device: Optional[str] = None,
) -> str:
    """Return the netmiko device type for a Nautobot platform (dict) or platform name.

    Raises PlatformMappingError when no exact rule matches, PlatformValueError for a value of the wrong type.
    """
    name, driver, mappings = _platform_fields(platform, device)
    from_nautobot = mappings.get("netmiko")
    if from_nautobot:
        return str(from_nautobot)
    if driver and driver in NETMIKO_LIB_MAPPER_REVERSE:
        return NETMIKO_LIB_MAPPER_REVERSE[driver]
    key = _norm(name)
    for table in (PLATFORM_NAME_TABLE, NAPALM_LIB_MAPPER):
        if key in table and table[key] in NETMIKO_LIB_MAPPER_REVERSE:
            return NETMIKO_LIB_MAPPER_REVERSE[table[key]]
    if key in NETMIKO_LIB_MAPPER:
        return key
    user = {_norm(k): v for k, v in (platform_map or {}).items()}
    for candidate in (key, _norm(driver)):
        if candidate and candidate in user:
            return str(user[candidate])
    raise PlatformMappingError(_unknown_message(name, driver, device), platform=name or driver or None, device=device)


def device_type_for_host(
    netmiko_type: Optional[str] = None,
    platform: Any = None,
    network_os: Optional[str] = None,
    platform_map: Optional[Mapping[str, str]] = None,
    device: Optional[str] = None,
) -> str:
    """Return the netmiko device type of a host from any inventory.

    An explicit ``netmiko_device_type`` wins; then the Nautobot platform (dict or name);
    then ``ansible_network_os`` (an FQCN such as ``cisco.ios.ios``, or a short name such
    as ``ios``), so hosts of a plain static inventory work too.
    """
    if netmiko_type:
        return str(netmiko_type)
    if platform:
        return netmiko_device_type(platform, platform_map=platform_map, device=device)
    if network_os:
        driver = ANSIBLE_LIB_MAPPER.get(str(network_os))
        if driver and driver in NETMIKO_LIB_MAPPER_REVERSE:
            return NETMIKO_LIB_MAPPER_REVERSE[driver]
        return netmiko_device_type(str(network_os).rsplit(".", 1)[-1], platform_map=platform_map, device=device)
    who = f" for device '{device}'" if device else ""
    raise PlatformMappingError(
        f"no platform known{who}: set netmiko_device_type or ansible_network_os for the host, "
        "or give the device a platform in Nautobot",
        device=device,
    )


def ansible_network_os(platform: Any, platform_map: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Return the Ansible network OS FQCN (e.g. ``cisco.ios.ios``) for platform, or None if unknown."""
    try:
        _name, _driver, mappings = _platform_fields(platform)
    except PlatformValueError:
        return None
    if mappings.get("ansible"):
        return str(mappings["ansible"])
    driver = network_driver(platform, platform_map)
    return ANSIBLE_LIB_MAPPER_REVERSE.get(driver) if driver else None


def _unknown_message(name: str, driver: str, device: Optional[str]) -> str:
    """Explain an unknown platform and the three ways to fix it."""
    who = f" of device '{device}'" if device else ""
    shown = f"'{name}'" if name else "(none)"
    return (
        f"unsupported platform {shown}{who} (network_driver: {driver or 'not set'}): no netmiko device type in "
        "Nautobot's network_driver_mappings, the collection's platform table or platform_map. "
        "Set the platform's network_driver in Nautobot, add the platform to platform_map, "
        "or set netmiko_device_type for the host."
    )
