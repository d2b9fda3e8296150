"""Table tests for plugins/module_utils/platforms.py: exact mapping, no silent cisco_ios."""

from __future__ import annotations

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import PlatformMappingError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.platforms import (
    ansible_network_os,
    device_type_for_host,
    netmiko_device_type,
    network_driver,
)

NAUTOBOT_IOS = {
    "name": "Cisco IOS",
    "network_driver": "cisco_ios",
    "network_driver_mappings": {"ansible": "cisco.ios.ios", "netmiko": "cisco_ios", "napalm": "ios"},
}


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        # 1. Nautobot's own mapping wins, even over the name.
        (NAUTOBOT_IOS, "cisco_ios"),
        ({"name": "Anything", "network_driver": "x", "network_driver_mappings": {"netmiko": "cisco_xe"}}, "cisco_xe"),
        # 2. network_driver through netutils when Nautobot sent no mappings.
        ({"name": "Edge", "network_driver": "cisco_nxos"}, "cisco_nxos"),
        ({"name": "Edge", "network_driver": "juniper_junos", "network_driver_mappings": None}, "juniper_junos"),
        ({"name": "Edge", "network_driver": "cisco_xr", "network_driver_mappings": {}}, "cisco_xr"),
        # 3. exact names; a substring match would send both of these to cisco_ios.
        ("Cisco NX-OS", "cisco_nxos"),
        ("FortiOS", "fortinet"),
        ({"name": "FortiOS"}, "fortinet"),
        ("cisco nx-os", "cisco_nxos"),
        ("  Cisco   IOS ", "cisco_ios"),
        ("Cisco IOS-XR", "cisco_xr"),
        ("Cisco IOS-XE", "cisco_xe"),
        ("Arista EOS", "arista_eos"),
        ("Juniper Junos", "juniper_junos"),
        ("HPE Comware", "hp_comware"),
        # NAPALM-style slugs through netutils.
        ("nxos", "cisco_nxos"),
        ("eos", "arista_eos"),
        ("iosxr", "cisco_xr"),
        ("junos", "juniper_junos"),
        # A netmiko device type used as the platform name is taken as is.
        ("arista_eos", "arista_eos"),
        ("cisco_asa", "cisco_asa"),
    ],
)
def test_netmiko_device_type_exact(platform, expected):
    assert netmiko_device_type(platform) == expected


@pytest.mark.parametrize(
    "platform",
    [
        "Cisco IOS-XE 17.9",  # a prefix of a known name is not a match
        "NX-OS Switch",
        "Forti OS 7",
        "Cisco",
        "",
        None,
        {"name": "Mystery OS", "network_driver": "", "network_driver_mappings": {"netmiko": None}},
        {"name": "Mystery OS", "network_driver": "mystery_os"},
    ],
)
def test_unknown_platform_is_a_clear_error(platform):
    with pytest.raises(PlatformMappingError) as err:
        netmiko_device_type(platform, device="edge-1")
    message = str(err.value)
    assert "unsupported platform" in message
    assert "edge-1" in message
    assert "platform_map" in message and "netmiko_device_type" in message
    assert err.value.failure_class == "unsupported_platform"


@pytest.mark.parametrize("platform", ["Cisco NX-OS", "FortiOS", "Cisco IOS-XR", "Arista EOS", "Juniper Junos"])
def test_seed_misfires_never_become_cisco_ios(platform):
    assert netmiko_device_type(platform) != "cisco_ios"


def test_user_platform_map_is_the_last_resort():
    platform_map = {"Mystery OS": "linux", "cisco ios": "cisco_xe"}
    assert netmiko_device_type("mystery os", platform_map=platform_map) == "linux"
    assert netmiko_device_type({"name": "x", "network_driver": "mystery"}, platform_map={"mystery": "linux"}) == "linux"
    # Nautobot and the exact table come first: the map only fills gaps.
    assert netmiko_device_type("Cisco IOS", platform_map=platform_map) == "cisco_ios"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (NAUTOBOT_IOS, "cisco.ios.ios"),
        ({"name": "x", "network_driver": "cisco_nxos"}, "cisco.nxos.nxos"),
        ("Juniper Junos", "junipernetworks.junos.junos"),
        ("Cisco IOS-XR", "cisco.iosxr.iosxr"),
        ("FortiOS", "fortinet.fortios.fortios"),
        ("Mystery OS", None),
    ],
)
def test_ansible_network_os(platform, expected):
    assert ansible_network_os(platform) == expected


def test_network_driver_prefers_nautobot_value():
    assert network_driver({"name": "Cisco IOS", "network_driver": "cisco_xe"}) == "cisco_xe"
    assert network_driver("Arista EOS") == "arista_eos"
    assert network_driver("Unknown") is None


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"netmiko_type": "cisco_xe", "platform": "Cisco IOS"}, "cisco_xe"),
        ({"platform": {"name": "x", "network_driver": "arista_eos"}, "network_os": "cisco.ios.ios"}, "arista_eos"),
        ({"network_os": "cisco.nxos.nxos"}, "cisco_nxos"),
        ({"network_os": "junipernetworks.junos.junos"}, "juniper_junos"),
        ({"network_os": "ios"}, "cisco_ios"),
        ({"network_os": "cisco.iosxr.iosxr"}, "cisco_xr"),
    ],
)
def test_device_type_for_host(kwargs, expected):
    assert device_type_for_host(**kwargs) == expected


@pytest.mark.parametrize("kwargs", [{}, {"network_os": "acme.widget.widget"}, {"platform": "FortiOS 9000"}])
def test_device_type_for_host_unknown(kwargs):
    with pytest.raises(PlatformMappingError, match="r9"):
        device_type_for_host(device="r9", **kwargs)


@pytest.mark.parametrize(
    ("platform", "what"),
    [
        (["Cisco IOS"], "platform of device 'r1' must be a string, got a list"),
        (42, "platform of device 'r1' must be a string, got a int"),
        ({"name": ["Cisco IOS"]}, "platform name of device 'r1' must be a string, got a list"),
        ({"name": "x", "network_driver": {"a": 1}}, "platform network_driver of device 'r1' must be a string"),
        ({"network_driver_mappings": {"netmiko": ["cisco_ios"]}}, "platform network_driver_mappings.netmiko"),
    ],
)
def test_odd_platform_values_are_a_clear_device_error_of_class_other(platform, what):
    from ansible_collections.netops.nautobot_backup.plugins.module_utils.platforms import PlatformValueError

    with pytest.raises(PlatformValueError) as caught:
        device_type_for_host(platform=platform, device="r1")
    assert what in str(caught.value) and caught.value.failure_class == "other"
    assert "Cisco IOS" not in str(caught.value)
    # The inventory's helpers treat it as an unknown platform instead of failing the whole inventory.
    assert network_driver(platform) is None and ansible_network_os(platform) is None
    # netmiko_device_type on the host wins, whatever the platform holds.
    assert device_type_for_host(netmiko_type="cisco_ios", platform=platform, device="r1") == "cisco_ios"
