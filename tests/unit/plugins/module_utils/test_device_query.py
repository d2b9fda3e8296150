"""Tests for plugins/module_utils/device_query.py: query building, paging, host facts."""

from __future__ import annotations

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_query import (
    DeviceQueryError,
    build_query,
    device_facts,
    host_variables,
    iter_device_pages,
    location_chain,
    primary_host,
    query_variables,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import NautobotAPIError


def record(name="r1", platform="cisco_ios", ip="10.0.0.1"):
    return {
        "id": f"id-{name}",
        "name": name,
        "primary_ip4": {"host": ip} if ip else None,
        "primary_ip6": None,
        "platform": {"name": "Cisco IOS", "network_driver": platform, "network_driver_mappings": {}},
        "location": {
            "id": "loc-1",
            "name": "BER1",
            "location_type": {"name": "Building"},
            "parent": {
                "name": "Berlin",
                "location_type": {"name": "City"},
                "parent": {"name": "Europe", "location_type": {"name": "Region"}},
            },
        },
        "tags": [{"name": "backup"}],
        "_custom_field_data": {"net": "berlin"},
    }


class FakeClient:
    """Answers GraphQL pages from a list of devices, recording the variables it was sent."""

    def __init__(self, devices, fail_at=None):
        self.devices = devices
        self.calls = []
        self.fail_at = fail_at

    def graphql(self, query, variables=None):
        variables = dict(variables or {})
        self.calls.append(variables)
        offset = variables.get("offset", 0)
        if self.fail_at is not None and offset >= self.fail_at:
            raise NautobotAPIError("Nautobot at http://x answered HTTP 500", "http://x", 500)
        limit = variables.get("limit", len(self.devices))
        return {"devices": self.devices[offset : offset + limit]}


@pytest.mark.parametrize(
    ("filters", "expected_args", "absent"),
    [
        ({}, ["limit: $limit", "offset: $offset"], ["$id", "$location"]),
        ({"device_ids": ["a"]}, ["id: $id", "$id: [String]"], ["$location"]),
        ({"locations": ["Europe"], "tags": ["backup"]}, ["location: $location", "tags: $tags"], ["$id"]),
        ({"roles": [], "platforms": ["Cisco IOS"]}, ["platform: $platform"], ["$role"]),
    ],
)
def test_build_query_declares_only_set_filters(filters, expected_args, absent):
    query = build_query(filters)
    for text in expected_args:
        assert text in query
    for text in absent:
        assert text not in query


def test_build_query_unpaged_and_extra_fields():
    query = build_query({}, extra_fields=["comments", "interfaces { name }"], paged=False)
    assert "limit" not in query and "devices {" in query
    assert "interfaces { name }" in query


def test_unknown_filter_is_an_error():
    with pytest.raises(DeviceQueryError, match="colour"):
        build_query({"colour": ["blue"]})


def test_query_variables_map_options_to_arguments():
    assert query_variables({"device_ids": ["a", "b"], "tags": [], "statuses": ["Active"]}) == {
        "id": ["a", "b"],
        "status": ["Active"],
    }


@pytest.mark.parametrize(("count", "page_size", "pages"), [(0, 2, 1), (5, 2, 3), (4, 2, 3), (3, 10, 1), (3, 0, 1)])
def test_pages_cover_every_device_once(count, page_size, pages):
    devices = [record(f"r{i}") for i in range(count)]
    client = FakeClient(devices)
    got = list(iter_device_pages(client, {}, page_size=page_size))
    assert len(got) == pages
    assert [d["name"] for page in got for d in page] == [d["name"] for d in devices]


def test_a_failing_page_raises_instead_of_truncating():
    client = FakeClient([record(f"r{i}") for i in range(6)], fail_at=4)
    with pytest.raises(NautobotAPIError):
        list(iter_device_pages(client, {}, page_size=2))


def test_device_facts_shape():
    facts = device_facts(record())
    assert facts["custom_fields"] == {"net": "berlin"}
    assert facts["tags"] == ["backup"]
    assert "_custom_field_data" not in facts
    assert "network_driver_mappings" not in facts["platform"]
    assert facts["location"]["parent"]["parent"]["name"] == "Europe"


def test_location_chain_nearest_first():
    assert [n["name"] for n in location_chain(record())] == ["BER1", "Berlin", "Europe"]
    assert location_chain({"location": None}) == []


@pytest.mark.parametrize(
    ("rec", "expected"),
    [
        ({"primary_ip4": {"host": "10.1.1.1"}}, "10.1.1.1"),
        ({"primary_ip4": None, "primary_ip6": {"host": "2001:db8::1"}}, "2001:db8::1"),
        ({"primary_ip4": None, "primary_ip6": None}, None),
        ({}, None),
    ],
)
def test_primary_host(rec, expected):
    assert primary_host(rec) == expected


def test_host_variables_map_platform():
    variables = host_variables(record(platform="cisco_nxos"))
    assert variables["netmiko_device_type"] == "cisco_nxos"
    assert variables["ansible_network_os"] == "cisco.nxos.nxos"
    assert variables["nautobot_id"] == "id-r1"


def test_host_variables_unknown_platform_leaves_type_unset():
    rec = record()
    rec["platform"] = {"name": "Mystery OS", "network_driver": None}
    variables = host_variables(rec)
    assert "netmiko_device_type" not in variables
    assert host_variables(rec, platform_map={"Mystery OS": "linux"})["netmiko_device_type"] == "linux"
