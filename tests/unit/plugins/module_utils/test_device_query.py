"""Tests for plugins/module_utils/device_query.py: query building, paging, host facts."""

from __future__ import annotations

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_query import (
    MAX_TAG_QUERIES,
    DeviceLookups,
    DeviceQueryError,
    DeviceRecordError,
    build_query,
    device_facts,
    has_template_delimiters,
    host_variables,
    iter_device_pages,
    location_chain,
    malformed_record_error,
    page_label,
    primary_host,
    query_variables,
    safe_label,
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
        self.platforms = []
        self.locations = []
        self.lookups = 0
        self.tags = []
        self.tag_calls = []

    def graphql(self, query, variables=None):
        if "InventoryLookups" in query:
            self.lookups += 1
            return {"platforms": self.platforms, "locations": self.locations, "tags": self.tags}
        if "DeviceTagIds" in query:
            self.tag_calls.append(dict(variables))
            wanted = set(variables["tag"])
            return {"devices": [{"id": d["id"]} for d in self.devices if wanted & {t["name"] for t in d["tags"]}]}
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


def test_device_facts_leave_out_null_and_empty_values_at_every_depth():
    rec = record()
    rec.update(
        asset_tag=None,
        serial="",
        rack={"name": "A1", "rack_group": None},
        tenant={"name": "", "tenant_group": {"name": None}},
        tags=[],
        _custom_field_data={"net": "berlin", "unset": None, "blank": "", "zero": 0, "off": False, "list": []},
    )
    facts = device_facts(rec)
    for key in ("asset_tag", "serial", "primary_ip6", "tenant", "tags"):
        assert key not in facts, key
    assert facts["rack"] == {"name": "A1"}
    assert facts["custom_fields"] == {"net": "berlin", "zero": 0, "off": False}  # 0 and false are values


def test_device_facts_share_equal_parts_across_devices():
    shared: dict = {}
    first, second = (device_facts(record(name), shared) for name in ("a", "b"))
    assert first["location"] is second["location"] and first["platform"] is second["platform"]
    assert first["tags"] is second["tags"] and first["custom_fields"] is second["custom_fields"]
    assert first["name"] != second["name"]
    other = record("c")
    other["_custom_field_data"] = {"net": 1}
    third = device_facts(other, shared)
    assert third["custom_fields"]["net"] == 1
    flag = device_facts(dict(other, _custom_field_data={"net": True}), shared)
    assert flag["custom_fields"]["net"] is True  # 1 == True in Python, yet they stay apart


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


# -- joining platforms and locations, parallel pages ----------------------------------------------
PLATFORMS = [
    {
        "id": "p-ios",
        "name": "Cisco IOS",
        "network_driver": "cisco_ios",
        "network_driver_mappings": {"netmiko": "cisco_ios", "ansible": "cisco.ios.ios"},
        "manufacturer": {"name": "Cisco"},
    }
]
LOCATIONS = [
    {"id": "l-eu", "name": "Europe", "location_type": {"name": "Region"}, "parent": None},
    {"id": "l-ber", "name": "Berlin", "location_type": {"name": "City"}, "parent": {"id": "l-eu"}},
    {"id": "l-ber1", "name": "BER1", "location_type": {"name": "Building"}, "parent": {"id": "l-ber"}},
    {"id": "l-room", "name": "Room 1", "location_type": {"name": "Room"}, "parent": {"id": "l-ber1"}},
]


def id_record(name="r1", platform="p-ios", location="l-ber1"):
    """A device as the paged query returns it: platform and location as IDs only."""
    rec = record(name)
    rec["platform"] = {"id": platform} if platform else None
    rec["location"] = {"id": location} if location else None
    return rec


def lookup_client(devices, **kwargs):
    client = FakeClient(devices, **kwargs)
    client.platforms, client.locations = PLATFORMS, LOCATIONS
    return client


def test_join_gives_the_nested_shape_of_the_old_query():
    client = lookup_client([id_record()])
    joined = [d for page in iter_device_pages(client, {}, page_size=0) for d in page][0]
    assert joined["location"] == dict(record()["location"], id="l-ber1")
    assert joined["platform"]["network_driver_mappings"]["ansible"] == "cisco.ios.ios"
    assert "id" not in joined["platform"]
    facts = host_variables(joined)
    assert facts["netmiko_device_type"] == "cisco_ios" and facts["ansible_network_os"] == "cisco.ios.ios"
    assert client.lookups == 1


def test_join_keeps_three_levels_and_shares_objects():
    client = lookup_client([id_record("a", location="l-room"), id_record("b", location="l-room")])
    first, second = next(iter_device_pages(client, {}, page_size=0))
    location = first["location"]
    assert [n["name"] for n in location_chain(first)] == ["Room 1", "BER1", "Berlin"]
    assert "parent" not in location["parent"]["parent"]
    assert first["location"] is second["location"]


def test_join_keeps_extra_fields_of_the_related_object():
    rec = id_record()
    rec["location"]["description"] = "basement"
    joined = DeviceLookups(lookup_client([])).join(rec)
    assert joined["location"]["description"] == "basement"
    assert joined["location"]["parent"]["name"] == "Berlin"


def test_unknown_id_reads_the_lookups_again_once_then_is_null():
    client = lookup_client([])
    lookups = DeviceLookups(client)
    client.platforms = PLATFORMS + [dict(PLATFORMS[0], id="p-new", name="New")]
    assert lookups.join(id_record(platform="p-new"))["platform"]["name"] == "New"
    assert lookups.join(id_record(platform="p-hidden"))["platform"] is None
    assert lookups.join(id_record(location="l-hidden"))["location"] is None
    assert client.lookups == 2


def test_lookup_answer_without_lists_fails_closed():
    client = lookup_client([])
    client.platforms = None
    with pytest.raises(DeviceQueryError):
        DeviceLookups(client)


@pytest.mark.parametrize("workers", [1, 2, 4, 7])
@pytest.mark.parametrize(("count", "page_size"), [(0, 2), (5, 2), (8, 2), (3, 10)])
def test_parallel_pages_stay_in_order(workers, count, page_size):
    devices = [id_record(f"r{i}") for i in range(count)]
    got = list(iter_device_pages(lookup_client(devices), {}, page_size=page_size, workers=workers))
    assert [d["name"] for page in got for d in page] == [d["name"] for d in devices]
    assert all(d["location"]["name"] == "BER1" for page in got for d in page)


def test_a_failing_page_raises_with_pages_in_parallel():
    client = lookup_client([id_record(f"r{i}") for i in range(10)], fail_at=4)
    with pytest.raises(NautobotAPIError):
        list(iter_device_pages(client, {}, page_size=2, workers=4))


def test_a_failure_beyond_the_last_page_is_not_an_error():
    # 5 devices in pages of 2: the page at offset 4 is the last (short) one; offset 6 and
    # later were requested ahead and fail, which must not matter.
    client = lookup_client([id_record(f"r{i}") for i in range(5)], fail_at=6)
    got = list(iter_device_pages(client, {}, page_size=2, workers=4))
    assert sum(len(page) for page in got) == 5


def test_tags_come_from_one_id_query_per_tag():
    devices = [id_record(f"r{i}") for i in range(5)]
    devices[1]["tags"] = [{"name": "backup"}, {"name": "core"}]
    devices[2]["tags"] = []
    client = lookup_client(devices)
    client.tags = [{"name": "backup"}, {"name": "core"}, {"name": "unused"}]
    pages = list(iter_device_pages(client, {"tenants": ["t1"], "tags": ["backup"]}, page_size=2, workers=2))
    joined = {d["name"]: [t["name"] for t in d["tags"]] for page in pages for d in page}
    assert joined == {"r0": ["backup"], "r1": ["backup", "core"], "r2": [], "r3": ["backup"], "r4": ["backup"]}
    assert sorted(call["tag"][0] for call in client.tag_calls) == ["backup", "core", "unused"]
    # the tag queries keep the other filters, not the tags filter
    assert all(call.get("tenant") == ["t1"] and "tags" not in call for call in client.tag_calls)
    assert "tags {" not in build_query({}, inline_tags=False)


def test_many_tags_or_tags_in_extra_fields_stay_in_the_device_query():
    devices = [id_record("r0")]
    client = lookup_client(devices)
    client.tags = [{"name": f"t{i}"} for i in range(MAX_TAG_QUERIES + 1)]
    page = next(iter_device_pages(client, {}, page_size=0))
    assert page[0]["tags"] == [{"name": "backup"}] and client.tag_calls == []
    client = lookup_client(devices)
    client.tags = [{"name": "backup"}]
    page = next(iter_device_pages(client, {}, extra_fields=["tags { color }"], page_size=0))
    assert page[0]["tags"] == [{"name": "backup"}] and client.tag_calls == []


def test_a_failing_tag_query_raises():
    client = lookup_client([id_record("r0")])
    client.tags = [{"name": "backup"}]

    def broken(query, variables=None):
        raise NautobotAPIError("Nautobot at http://x answered HTTP 500", "http://x", 500)

    client.graphql, original = broken, client.graphql
    client.graphql = lambda q, v=None: broken(q, v) if "DeviceTagIds" in q else original(q, v)
    with pytest.raises(NautobotAPIError):
        list(iter_device_pages(client, {}, page_size=2))


# -- a lookup reload keeps the tags; malformed records; names ------------------------------------
NEW_PLATFORM = dict(PLATFORMS[0], id="p-new", name="New OS")
NEW_LOCATION = {"id": "l-new", "name": "BER9", "location_type": {"name": "Building"}, "parent": {"id": "l-ber"}}


class ChangingLookupsClient(FakeClient):
    """Answers the lookups with a new platform and location from the second read on (created mid-run).

    Device pages carry tags only when the query selects them, as Nautobot's answers do.
    """

    def graphql(self, query, variables=None):
        answer = super().graphql(query, variables)
        if "InventoryLookups" in query and self.lookups > 1:
            answer = dict(answer, platforms=PLATFORMS + [NEW_PLATFORM], locations=LOCATIONS + [NEW_LOCATION])
        if "DeviceInventory" in query and "tags {" not in query:
            answer = {"devices": [{k: v for k, v in d.items() if k != "tags"} for d in answer["devices"]]}
        return answer


@pytest.mark.parametrize("changed", [0, 2, 5])
def test_tags_survive_a_lookup_reload(changed):
    devices = [id_record(f"r{i}") for i in range(7)]
    devices[changed]["platform"], devices[changed]["location"] = {"id": "p-new"}, {"id": "l-new"}
    devices[6]["tags"] = [{"name": "backup"}, {"name": "core"}]
    client = ChangingLookupsClient(devices)
    client.platforms, client.locations = PLATFORMS, LOCATIONS
    client.tags = [{"name": "backup"}, {"name": "core"}]
    joined = [d for page in iter_device_pages(client, {}, page_size=2, workers=2) for d in page]
    assert client.lookups == 2, "the reload path was not taken"
    assert joined[changed]["platform"]["name"] == "New OS" and joined[changed]["location"]["name"] == "BER9"
    assert [[t["name"] for t in d.get("tags") or []] for d in joined] == [["backup"]] * 6 + [["backup", "core"]]


@pytest.mark.parametrize(
    ("page", "bad", "where", "error"),
    [
        (2, "not a device", "a device record, record 2 of page 2 (offset 2)", "AttributeError"),
        (1, ["r1"], "a device record, record 2 of page 1 (offset 0)", "AttributeError"),
    ],
)
def test_a_malformed_record_names_the_device_and_page(page, bad, where, error):
    devices = [id_record(f"r{i}") for i in range(5)]
    devices[(page - 1) * 2 + 1] = bad
    with pytest.raises(DeviceRecordError) as caught:
        list(iter_device_pages(lookup_client(devices), {}, page_size=2, workers=2))
    assert where in str(caught.value) and error in str(caught.value)
    assert isinstance(caught.value.__cause__, AttributeError)


def test_a_tag_answer_without_ids_fails_closed():
    client = lookup_client([id_record("r0")])
    client.tags = [{"name": "backup"}]
    original = client.graphql
    client.graphql = lambda q, v=None: {"devices": ["x"]} if "DeviceTagIds" in q else original(q, v)
    with pytest.raises(DeviceQueryError, match="tagged backup"):
        list(iter_device_pages(client, {}, page_size=2))


def test_malformed_record_error_shortens_the_reason():
    error = malformed_record_error({"name": "r1"}, "record 1 of page 1 (offset 0)", ValueError("v" * 500))
    assert "device r1, record 1 of page 1 (offset 0)" in str(error)
    assert "ValueError: " + "v" * 200 + "..." in str(error) and "v" * 201 not in str(error)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ios-r1", False),
        ("a{b}c", False),
        ("{ {", False),
        ("evil{{ 7 * 6 }}", True),
        ("x{% if 1 %}", True),
        ("c{# note", True),
        ("{{", True),
    ],
)
def test_has_template_delimiters(name, expected):
    assert has_template_delimiters(name) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ios-r1", "ios-r1"),
        ("bad\x1b[31m", "bad\\x1b[31m"),
        ("line\nbreak", "line\\nbreak"),
        ("x" * 100, "x" * 80 + "..."),
        (None, "None"),
    ],
)
def test_safe_label(value, expected):
    assert safe_label(value) == expected


def test_page_label():
    assert page_label(1, 1000) == "page 1 (offset 0)"
    assert page_label(3, 4) == "page 3 (offset 8)"
    assert page_label(1, 0) == "the unpaged device list"
