"""The Nautobot inventory plugin against the real, seeded Nautobot, through ansible-inventory.

Golden files live in tests/integration/golden/. Regenerate them with
``NB_BACKUP_UPDATE_GOLDEN=1 make integration PYTEST_ARGS="-k golden"`` (or ``make golden``)
and review the diff.

Every command runs with Ansible's defaults: an empty ansible.cfg (ANSIBLE_CONFIG), in the test's
own directory, with INVENTORY_ANY_UNPARSED_IS_FAILED and INVENTORY_UNPARSED_IS_FAILED off, so
the plugin has to fail closed by itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import ansible_runner
import pytest
import requests
import yaml

from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import FACT_SHAPE
from testbed.http_faults import FaultServer
from testbed.procs import REPO_ROOT, free_port

pytestmark = [pytest.mark.nautobot]

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("NB_BACKUP_UPDATE_GOLDEN") == "1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BIN = Path(sys.executable).parent
ANSIBLE_INVENTORY = str(BIN / "ansible-inventory")
PLUGIN = "netops.nautobot_backup.nautobot"


def ansible_defaults_env(
    tmp_path: Path, url: str, token: str, extra: Optional[Dict[str, str]] = None
) -> Dict[str, str]:
    """Environment for an ansible command with Ansible's defaults: no ansible.cfg of this repository, no ANSIBLE_*."""
    config = tmp_path / "empty-ansible.cfg"
    config.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(config),
        ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / ".build" / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="false",
        ANSIBLE_INVENTORY_UNPARSED_FAILED="false",
        NAUTOBOT_URL=url,
        NAUTOBOT_TOKEN=token,
        **(extra or {}),
    )
    return env


def run_inventory(
    tmp_path: Path,
    config: Dict[str, Any],
    url: str,
    token: str,
    args: Sequence[str] = ("--list",),
    name: str = "test_nautobot.yml",
    extra_env: Optional[Dict[str, str]] = None,
) -> subprocess.CompletedProcess:
    """Write config as an inventory file and run ansible-inventory on it, with url/token from the env."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"plugin": PLUGIN, **config}), encoding="utf-8")
    env = ansible_defaults_env(tmp_path, url, token, extra_env)
    return subprocess.run(
        [ANSIBLE_INVENTORY, "-i", str(path), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
        cwd=tmp_path,
    )


def inventory(tmp_path: Path, nautobot, config: Dict[str, Any], token: Optional[str] = None) -> Dict[str, Any]:
    """Run ansible-inventory --list and return its JSON, unsafe markers removed; fail on a non-zero exit."""
    result = run_inventory(tmp_path, config, nautobot.url, token or nautobot.admin_token)
    assert result.returncode == 0, result.stderr
    return unwrap(json.loads(result.stdout))


def unwrap(data: Any) -> Any:
    """Replace ansible-inventory's {"__ansible_unsafe": value} markers (untrusted values) by the value."""
    if isinstance(data, dict):
        if set(data) == {"__ansible_unsafe"}:
            return data["__ansible_unsafe"]
        return {key: unwrap(value) for key, value in data.items()}
    if isinstance(data, list):
        return [unwrap(value) for value in data]
    return data


def hosts_of(data: Dict[str, Any]) -> set:
    """All host names of an ansible-inventory --list answer."""
    return set(data.get("_meta", {}).get("hostvars", {}))


def members(data: Dict[str, Any], group: str) -> set:
    """Hosts of a group, including those of its child groups."""
    entry = data.get(group, {})
    found = set(entry.get("hosts", []))
    for child in entry.get("children", []):
        found |= members(data, child)
    return found


def normalise(data: Dict[str, Any]) -> Dict[str, Any]:
    """Replace per-seed UUIDs so golden files compare across fresh databases."""
    return json.loads(UUID.sub("<uuid>", json.dumps(data, sort_keys=True)))


GOLDEN_CONFIGS = {
    "default": {},
    "all_groups": {"group_by": ["location", "location_type", "role", "platform", "tenant", "tags", "status"]},
    "filtered_constructed": {
        "locations": ["Munich", "London"],
        "roles": ["router"],
        "group_by": ["location_type", "platform"],
        "extra_fields": ["comments"],
        "compose": {"ansible_port": 2222, "backup_city": "nautobot.location.parent.name"},
        "groups": {"has_asset_tag": "nautobot.asset_tag is not none"},
        "keyed_groups": [{"key": "nautobot.device_type.model", "prefix": "model"}],
    },
    "paged_small": {"page_size": 4, "group_by": ["role"]},
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CONFIGS))
def test_golden_inventory(tmp_path, nautobot, case):
    """The exact --list output, including the {"__ansible_unsafe": ...} markers of remote values."""
    result = run_inventory(tmp_path, GOLDEN_CONFIGS[case], nautobot.url, nautobot.admin_token)
    assert result.returncode == 0, result.stderr
    data = normalise(json.loads(result.stdout))
    golden = GOLDEN_DIR / f"{case}.json"
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"regenerated {golden.name}")
    assert golden.exists(), f"{golden} missing: run with NB_BACKUP_UPDATE_GOLDEN=1 to create it"
    assert data == json.loads(golden.read_text(encoding="utf-8"))


def test_host_variables_match_the_seed(tmp_path, nautobot):
    data = inventory(tmp_path, nautobot, {})
    expected = {device["name"]: device for device in nautobot.expected}
    assert hosts_of(data) == set(expected)
    for name, want in expected.items():
        hostvars = data["_meta"]["hostvars"][name]
        facts = hostvars["nautobot"]
        assert hostvars["ansible_host"] == want["host"]
        assert hostvars["netmiko_device_type"] == want["network_driver"]
        assert hostvars["ansible_network_os"].count(".") == 2
        assert hostvars["nautobot_id"] == facts["id"]
        assert facts["location"]["name"] == want["site"]
        assert facts["location"]["parent"]["name"] == want["city"]
        assert facts["location"]["parent"]["parent"]["name"] == want["region"]
        assert facts["location"]["parent"]["parent"]["location_type"]["name"] == "Region"
        assert facts["platform"]["manufacturer"]["name"] == want["manufacturer"]
        assert facts["tenant"]["name"] == want["tenant"]
        assert facts["serial"] == want["serial"]
        assert facts.get("asset_tag") == (want["asset_tag"] or None)  # null and empty values are left out
        assert facts["custom_fields"].get("net") == want["net"]
        assert sorted(facts["tags"]) == want["tags"]
        assert (facts.get("rack") or {}).get("name") == want["rack"]


def _leaves(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every (dotted path, value) of nested dicts; a list is one leaf."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    else:
        yield ".".join(path), value


def _shape_paths(shape: Any, path: tuple = ()) -> Iterator[str]:
    """The dotted path of every value of paths.FACT_SHAPE (the facts the plugin documents)."""
    for key, below in shape.items():
        if isinstance(below, dict):
            yield from _shape_paths(below, (*path, key))
        else:
            yield ".".join((*path, key))


# Documented facts the seeded test Nautobot gives no device (no IPv6 address is seeded).
NOT_SEEDED = {"primary_ip6.host"}


def test_every_documented_fact_reaches_the_hosts_and_nothing_is_empty(tmp_path, nautobot):
    """Each fact a path template can name (paths.FACT_SHAPE; the plugin's DOCUMENTATION lists them) is set on some
    host, custom fields included; no host variable holds a null or empty value at any depth."""
    hostvars = inventory(tmp_path, nautobot, {})["_meta"]["hostvars"]
    present = set()
    for name, variables in hostvars.items():
        for dotted, value in _leaves(variables):
            assert value is not None and value not in ("", [], {}), f"{name}: {dotted} is {value!r}"
            present.add(dotted)
    wanted = {f"nautobot.{dotted}" for dotted in _shape_paths(FACT_SHAPE)} - {f"nautobot.{p}" for p in NOT_SEEDED}
    wanted = {p for p in wanted if p != "nautobot.custom_fields"} | {"nautobot.custom_fields.net"}
    assert wanted <= present, sorted(wanted - present)
    assert {"ansible_host", "nautobot_id", "netmiko_device_type", "ansible_network_os"} <= present


def _names(nautobot, **where) -> set:
    """Names of seeded devices whose expected fields match all of where (value or set of values)."""
    return {
        d["name"]
        for d in nautobot.expected
        if all(d[key] in (value if isinstance(value, (set, list)) else {value}) for key, value in where.items())
    }


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"device_names": ["ios-r1", "xr-r1"]}, {"name": {"ios-r1", "xr-r1"}}),
        ({"locations": ["Europe"]}, {"region": "Europe"}),
        ({"locations": ["Berlin"]}, {"city": "Berlin"}),
        ({"locations": ["BER1", "LON1"]}, {"site": {"BER1", "LON1"}}),
        ({"locations": ["Berlin"], "location_include_descendants": False}, {"name": set()}),
        ({"locations": ["BER1"], "location_include_descendants": False}, {"site": "BER1"}),
        ({"roles": ["switch"]}, {"role": "switch"}),
        ({"platforms": ["Cisco IOS-XR", "Juniper Junos"]}, {"network_driver": {"cisco_xr", "juniper_junos"}}),
        ({"statuses": ["Active"]}, {}),
        ({"tenants": ["Acme Networks"]}, {"tenant": "Acme Networks"}),
        ({"tags": ["backup"]}, {}),
        ({"roles": ["router"], "locations": ["Munich"]}, {"role": "router", "city": "Munich"}),
    ],
    ids=lambda value: json.dumps(value, sort_keys=True, default=sorted),
)
def test_filters(tmp_path, nautobot, config, where):
    assert hosts_of(inventory(tmp_path, nautobot, config)) == _names(nautobot, **where)


def test_device_ids_filter(tmp_path, nautobot):
    every = inventory(tmp_path, nautobot, {})["_meta"]["hostvars"]
    chosen = {"ios-r2": every["ios-r2"]["nautobot_id"], "eos-s1": every["eos-s1"]["nautobot_id"]}
    data = inventory(tmp_path, nautobot, {"inventory": sorted(chosen.values())})
    assert hosts_of(data) == set(chosen)


def test_filter_matching_nothing_is_an_empty_inventory_with_a_warning(tmp_path, nautobot):
    config = {"roles": ["switch"], "platforms": ["Cisco IOS-XR"]}
    result = run_inventory(tmp_path, config, nautobot.url, nautobot.admin_token)
    assert result.returncode == 0, result.stderr
    assert hosts_of(json.loads(result.stdout)) == set()
    assert "matched the filters" in result.stderr


def test_invalid_filter_value_fails_closed(tmp_path, nautobot):
    result = run_inventory(tmp_path, {"platforms": ["No Such Platform"]}, nautobot.url, nautobot.admin_token)
    assert result.returncode != 0
    assert result.stdout.strip() == ""
    assert "No Such Platform" in result.stderr and nautobot.url in result.stderr


@pytest.mark.parametrize(
    ("group_by", "group", "where"),
    [
        ("location", "location_europe", {"region": "Europe"}),
        ("location", "location_munich", {"city": "Munich"}),
        ("location", "location_lon1", {"site": "LON1"}),
        ("location_type", "region_europe", {"region": "Europe"}),
        ("location_type", "city_berlin", {"city": "Berlin"}),
        ("location_type", "building_muc1", {"site": "MUC1"}),
        ("role", "role_router", {"role": "router"}),
        ("platform", "platform_cisco_nx_os", {"network_driver": "cisco_nxos"}),
        ("tenant", "tenant_acme_networks", {"tenant": "Acme Networks"}),
        ("tags", "tag_backup", {}),
        ("status", "status_active", {}),
    ],
)
def test_group_by(tmp_path, nautobot, group_by, group, where):
    data = inventory(tmp_path, nautobot, {"group_by": [group_by]})
    assert members(data, group) == _names(nautobot, **where)


def test_location_groups_nest_like_the_tree(tmp_path, nautobot):
    data = inventory(tmp_path, nautobot, {"group_by": ["location"]})
    assert "location_berlin" in data["location_europe"]["children"]
    assert "location_ber1" in data["location_berlin"]["children"]


def test_restricted_token_sees_devices_but_not_tenants(tmp_path, nautobot):
    data = inventory(tmp_path, nautobot, {"group_by": ["tenant", "role"]}, token=nautobot.readonly_token)
    assert hosts_of(data) == {d["name"] for d in nautobot.expected}
    hostvars = data["_meta"]["hostvars"]["ios-r1"]
    assert "tenant" not in hostvars["nautobot"]  # no view permission on tenancy: null, so left out
    assert hostvars["nautobot"]["location"]["parent"]["parent"]["name"] == "Europe"
    assert not [g for g in data if g.startswith("tenant_")]
    assert members(data, "role_router")


def test_device_without_primary_ip(tmp_path, nautobot_clean):
    nautobot = nautobot_clean
    device_id = inventory(tmp_path, nautobot, {})["_meta"]["hostvars"]["junos-r1"]["nautobot_id"]
    response = nautobot.request("PATCH", f"/api/dcim/devices/{device_id}/", json={"primary_ip4": None})
    assert response.status_code == 200, response.text
    skipped = run_inventory(tmp_path, {}, nautobot.url, nautobot.admin_token)
    assert skipped.returncode == 0
    assert "junos-r1" not in hosts_of(json.loads(skipped.stdout))
    assert "without a primary IP: junos-r1" in skipped.stderr
    kept = inventory(tmp_path, nautobot, {"use_name_when_no_primary_ip": True})
    assert kept["_meta"]["hostvars"]["junos-r1"]["ansible_host"] == "junos-r1"


def test_remote_values_are_unsafe(tmp_path, nautobot_clean):
    """A Jinja expression stored in Nautobot is never rendered by Ansible."""
    nautobot = nautobot_clean
    device_id = inventory(tmp_path, nautobot, {})["_meta"]["hostvars"]["ios-r1"]["nautobot_id"]
    payload = {"custom_fields": {"net": "{{ 7 * 6 }}"}}
    assert nautobot.request("PATCH", f"/api/dcim/devices/{device_id}/", json=payload).status_code == 200
    inventory_file = tmp_path / "unsafe_nautobot.yml"
    inventory_file.write_text(yaml.safe_dump({"plugin": PLUGIN, "device_names": ["ios-r1"]}), encoding="utf-8")
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / ".build" / "collections"),
        NAUTOBOT_URL=nautobot.url,
        NAUTOBOT_TOKEN=nautobot.admin_token,
    )
    command = [str(Path(sys.executable).parent / "ansible"), "-i", str(inventory_file), "ios-r1"]
    command += ["-m", "ansible.builtin.debug", "-a", "msg={{ nautobot.custom_fields.net }}"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "{{ 7 * 6 }}" in result.stdout and "42" not in result.stdout


def test_cache_serves_the_inventory_without_nautobot(tmp_path, nautobot):
    config = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache")}
    first = inventory(tmp_path, nautobot, config)
    cached = run_inventory(tmp_path, config, "http://127.0.0.1:9", "0" * 40)
    assert cached.returncode == 0, cached.stderr
    assert unwrap(json.loads(cached.stdout)) == first


# --- fail closed -------------------------------------------------------------------------------


def _assert_failed_closed(result: subprocess.CompletedProcess, url: str, token: str, reason: str) -> None:
    assert result.returncode != 0, "ansible-inventory must exit non-zero on a Nautobot failure"
    assert result.stdout.strip() == "", "no inventory may be printed for an error"
    assert url in result.stderr
    assert reason in result.stderr
    assert token not in result.stdout + result.stderr


def test_wrong_token_fails_closed(tmp_path, nautobot):
    wrong = "f" * 40
    result = run_inventory(tmp_path, {}, nautobot.url, wrong)
    _assert_failed_closed(result, nautobot.url, wrong, "refused the API token (HTTP 403)")


def test_stopped_nautobot_fails_closed(tmp_path, nautobot):
    url = f"http://127.0.0.1:{free_port()}"  # a Nautobot that is not running: nothing listens there
    result = run_inventory(tmp_path, {}, url, nautobot.admin_token)
    _assert_failed_closed(result, url, nautobot.admin_token, "Connection refused")


@pytest.mark.parametrize(
    ("fault_server", "reason", "config"),
    [
        ("http_500", "HTTP 500", {}),
        ("http_502", "HTTP 502", {}),
        ("not_json", "not JSON", {}),
        ("graphql_errors", "returned errors: Cannot query field", {}),
        ("json_list", "unexpected JSON", {}),
        ("hang", "did not answer within 2s", {"timeout": 2}),
    ],
    indirect=["fault_server"],
)
def test_broken_nautobot_fails_closed(tmp_path, nautobot, fault_server: FaultServer, reason, config):
    result = run_inventory(tmp_path, config, fault_server.url, nautobot.admin_token)
    _assert_failed_closed(result, fault_server.url, nautobot.admin_token, reason)
    assert fault_server.requests, "the plugin never contacted the server"


def test_graphql_error_from_real_nautobot_fails_closed(tmp_path, nautobot):
    result = run_inventory(tmp_path, {"extra_fields": ["no_such_field"]}, nautobot.url, nautobot.admin_token)
    _assert_failed_closed(result, nautobot.url, nautobot.admin_token, "no_such_field")


def test_token_never_printed_at_vvvv(tmp_path, nautobot):
    result = run_inventory(tmp_path, {}, nautobot.url, nautobot.admin_token, args=("--list", "-vvvv"))
    assert result.returncode == 0, result.stderr
    listing = result.stdout[result.stdout.index("\n{") + 1 :] if not result.stdout.startswith("{") else result.stdout
    assert hosts_of(json.loads(listing))
    assert nautobot.admin_token not in result.stdout + result.stderr
    failed = run_inventory(tmp_path, {}, nautobot.url, "e" * 40, args=("--list", "-vvvv"))
    assert failed.returncode != 0
    assert "e" * 40 not in failed.stdout + failed.stderr


def test_verify_file_needs_nautobot_suffix(tmp_path, nautobot):
    result = run_inventory(tmp_path, {}, nautobot.url, nautobot.admin_token, name="devices.yml")
    assert result.returncode != 0 or not hosts_of(json.loads(result.stdout or "{}"))


# --- hostile or changing Nautobot data, behind a rewriting proxy ---------------------------------

GraphQLHook = Callable[[Dict[str, Any], Dict[str, Any]], Dict[str, Any]]


class GraphQLProxy:
    """A loopback HTTP proxy in front of the real Nautobot that lets a test see and change GraphQL answers.

    hook(request, answer) gets each decoded GraphQL request and Nautobot's decoded answer and
    returns the answer to send back: a malformed record, or a change made in Nautobot between
    two requests of one inventory run. Everything else passes through unchanged. A hook that
    raises is recorded in ``errors`` (and the request answered with HTTP 502).
    """

    def __init__(self, target: str, hook: GraphQLHook) -> None:
        self.hook = hook
        self.queries: List[str] = []
        self.errors: List[BaseException] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            """Forward to target; hand GraphQL answers to the hook."""

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = requests.request(self.command, target + self.path, data=body, headers=headers, timeout=120)
                payload, status = answer.content, answer.status_code
                if self.path.startswith("/api/graphql/") and status == 200 and body:
                    request = json.loads(body)
                    proxy.queries.append(request["query"])
                    try:
                        payload = json.dumps(proxy.hook(request, answer.json())).encode()
                    except Exception as exc:  # noqa: BLE001 - reported to the test through proxy.errors
                        proxy.errors.append(exc)
                        payload, status = b'{"detail": "test hook failed"}', 502
                self.send_response(status)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _forward  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # pylint: disable=redefined-builtin
                """Keep test output quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="graphql-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        """Base URL of the proxy."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def graphql_proxy(nautobot) -> Iterator[Callable[[GraphQLHook], GraphQLProxy]]:
    """Start GraphQLProxy instances in front of the session Nautobot; stop them after the test."""
    started: List[GraphQLProxy] = []

    def start(hook: GraphQLHook) -> GraphQLProxy:
        started.append(GraphQLProxy(nautobot.url, hook))
        return started[-1]

    yield start
    for proxy in started:
        proxy.stop()


def _is_device_page(request: Dict[str, Any], offset: int) -> bool:
    return "DeviceInventory" in request["query"] and (request.get("variables") or {}).get("offset") == offset


MALFORMED_PAGE_SIZE = 4  # page 2 starts at offset 4


def malformed_page_two(served: List[str]) -> GraphQLHook:
    """Hook: give the first device of page 2 a role that is a string instead of an object."""

    def hook(request: Dict[str, Any], answer: Dict[str, Any]) -> Dict[str, Any]:
        if _is_device_page(request, MALFORMED_PAGE_SIZE) and answer["data"]["devices"]:
            device = answer["data"]["devices"][0]
            device["role"] = "router"
            served.append(device["name"])
        return answer

    return hook


def test_malformed_record_on_page_two_fails_closed(tmp_path, nautobot, graphql_proxy):
    """Issue #12 item 7: role as a string on page 2 stops ansible-inventory, with Ansible's default settings."""
    served: List[str] = []
    proxy = graphql_proxy(malformed_page_two(served))
    result = run_inventory(tmp_path, {"page_size": MALFORMED_PAGE_SIZE}, proxy.url, nautobot.admin_token)
    assert served, "the proxy never served page 2"
    assert result.returncode != 0, "ansible-inventory must exit non-zero on a malformed answer"
    assert result.stdout.strip() == "", "no inventory may be printed for an error"
    assert "Nautobot's answer is malformed" in result.stderr
    assert nautobot.admin_token not in result.stdout + result.stderr
    assert f"device {served[0]}" in result.stderr
    assert f"record 1 of page 2 (offset {MALFORMED_PAGE_SIZE})" in result.stderr
    assert "AttributeError" in result.stderr
    assert "Unable to parse" not in result.stderr  # ended by the plugin, not demoted to a warning by Ansible


def test_malformed_record_fails_ansible_playbook_before_any_task(tmp_path, nautobot, graphql_proxy):
    served: List[str] = []
    proxy = graphql_proxy(malformed_page_two(served))
    source = tmp_path / "proxy_nautobot.yml"
    source.write_text(yaml.safe_dump({"plugin": PLUGIN, "page_size": MALFORMED_PAGE_SIZE}), encoding="utf-8")
    playbook = tmp_path / "play.yml"
    play = {"hosts": "all", "gather_facts": False, "tasks": [{"ansible.builtin.debug": {"msg": "ran"}}]}
    playbook.write_text(yaml.safe_dump([play]), encoding="utf-8")
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(source), str(playbook)],
        capture_output=True,
        text=True,
        env=ansible_defaults_env(tmp_path, proxy.url, nautobot.admin_token),
        timeout=180,
        check=False,
        cwd=tmp_path,
    )
    assert served
    assert result.returncode != 0
    assert "TASK [" not in result.stdout and "ran" not in result.stdout
    assert "Nautobot's answer is malformed" in result.stderr


def test_malformed_record_fails_the_awx_inventory_update(tmp_path, nautobot, graphql_proxy):
    """The command AWX runs for an inventory update (ansible-inventory --list --export --output), via ansible-runner."""
    served: List[str] = []
    proxy = graphql_proxy(malformed_page_two(served))
    source = tmp_path / "inventory" / "nautobot.yml"
    source.parent.mkdir()
    source.write_text(yaml.safe_dump({"plugin": PLUGIN, "page_size": MALFORMED_PAGE_SIZE}), encoding="utf-8")
    output = tmp_path / "artifacts" / "output.json"
    output.parent.mkdir()
    stdout, stderr, rc = ansible_runner.run_command(
        executable_cmd=ANSIBLE_INVENTORY,
        cmdline_args=["--list", "--export", "-i", str(source), "--output", str(output)],
        envvars=ansible_defaults_env(tmp_path, proxy.url, nautobot.admin_token),
        private_data_dir=str(tmp_path / "runner"),
        host_cwd=str(tmp_path),
        runner_mode="subprocess",
        quiet=True,
        timeout=180,
    )
    assert served
    assert rc != 0, stdout + stderr
    assert not output.exists(), "no inventory may be written for AWX to import"
    assert "Nautobot's answer is malformed" in stdout + stderr
    assert nautobot.admin_token not in stdout + stderr


def test_other_broken_sources_still_only_warn(tmp_path, nautobot):
    """The plugin does not switch on INVENTORY_ANY_UNPARSED_IS_FAILED: another broken source keeps Ansible's warning."""
    broken = tmp_path / "broken.yml"
    broken.write_text("all:\n  hosts: [this, is, not, a, mapping]\n", encoding="utf-8")
    source = tmp_path / "test_nautobot.yml"
    source.write_text(yaml.safe_dump({"plugin": PLUGIN}), encoding="utf-8")
    result = subprocess.run(
        [ANSIBLE_INVENTORY, "-i", str(source), "-i", str(broken), "--list"],
        capture_output=True,
        text=True,
        env=ansible_defaults_env(tmp_path, nautobot.url, nautobot.admin_token),
        timeout=180,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "broken.yml" in result.stderr  # Ansible's own "Unable to parse ..." warning
    assert hosts_of(json.loads(result.stdout)) == {d["name"] for d in nautobot.expected}


def test_tags_stay_when_the_lookups_reload(tmp_path, nautobot_clean, graphql_proxy):
    """A platform and a location created after the lookups were read make them reload; no device loses its tags."""
    nautobot = nautobot_clean
    first = nautobot.graphql("{ devices(limit: 1) { id name } }")["devices"][0]
    changed: List[str] = []

    def create_after_the_lookups(request: Dict[str, Any], answer: Dict[str, Any]) -> Dict[str, Any]:
        if "InventoryLookups" in request["query"] and not changed:
            changed.append(first["name"])
            active = {"name": "Active"}
            platform = nautobot.request(
                "POST",
                "/api/dcim/platforms/",
                json={"name": "Reload OS", "network_driver": "cisco_ios"},  # no manufacturer: fits any device
            )
            assert platform.status_code == 201, platform.text
            location = nautobot.request(
                "POST",
                "/api/dcim/locations/",
                json={
                    "name": "BER9",
                    "location_type": {"name": "Building"},
                    "parent": {"name": "Berlin"},
                    "status": active,
                },
            )
            assert location.status_code == 201, location.text
            moved = nautobot.request(
                "PATCH",
                f"/api/dcim/devices/{first['id']}/",
                json={"platform": platform.json()["id"], "location": location.json()["id"], "rack": None},
            )
            assert moved.status_code == 200, moved.text
        return answer  # the lookups as read before the change: the device query then names unknown IDs

    proxy = graphql_proxy(create_after_the_lookups)
    config = {"page_size": 3, "group_by": ["tags", "location"]}
    result = run_inventory(tmp_path, config, proxy.url, nautobot.admin_token)
    assert not proxy.errors, proxy.errors
    assert result.returncode == 0, result.stderr
    assert changed
    assert sum("InventoryLookups" in query for query in proxy.queries) == 2, "the lookups were not read again"
    data = unwrap(json.loads(result.stdout))
    hostvars = data["_meta"]["hostvars"]
    moved = hostvars[first["name"]]["nautobot"]
    assert moved["platform"]["name"] == "Reload OS"
    assert moved["location"]["name"] == "BER9" and moved["location"]["parent"]["name"] == "Berlin"
    expected = {d["name"]: d["tags"] for d in nautobot.expected}
    assert {name: sorted(hostvars[name]["nautobot"]["tags"]) for name in expected} == expected
    assert members(data, "tag_backup") == set(expected)
    assert first["name"] in members(data, "location_ber9")


# --- device names that are Jinja templates -------------------------------------------------------


def test_device_name_with_jinja_is_skipped_and_never_rendered(tmp_path, nautobot_clean):
    """An attacker-chosen device name is refused (with a warning), the other devices stay, nothing runs."""
    nautobot = nautobot_clean
    marker = Path("/tmp") / f"nb-pwned-{uuid.uuid4().hex[:8]}"
    evil = "evil{{ lookup('pipe','touch " + str(marker) + "') }}"
    assert len(evil) <= 64  # Nautobot's limit for a device name
    victim = next(d for d in nautobot.expected if d["name"] == "ios-r2")
    device_id = nautobot.graphql('{ devices(name: "ios-r2") { id } }')["devices"][0]["id"]
    renamed = nautobot.request("PATCH", f"/api/dcim/devices/{device_id}/", json={"name": evil})
    assert renamed.status_code == 200, renamed.text
    try:
        result = run_inventory(tmp_path, {}, nautobot.url, nautobot.admin_token)
        assert result.returncode == 0, result.stderr
        assert hosts_of(json.loads(result.stdout)) == {d["name"] for d in nautobot.expected} - {victim["name"]}
        assert "skipped 1 device(s) with a Jinja delimiter" in result.stderr
        assert evil in result.stderr.replace("\n", "")
        # A playbook that renders every host name, as a backup path template does.
        source = tmp_path / "test_nautobot.yml"
        playbook = tmp_path / "names.yml"
        task = {
            "ansible.builtin.debug": {
                "msg": "{{ inventory_hostname }} {{ hostvars[inventory_hostname].nautobot.name }}"
            }
        }
        playbook.write_text(
            yaml.safe_dump([{"hosts": "all", "gather_facts": False, "tasks": [task]}]), encoding="utf-8"
        )
        played = subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", str(source), str(playbook)],
            capture_output=True,
            text=True,
            env=ansible_defaults_env(tmp_path, nautobot.url, nautobot.admin_token),
            timeout=300,
            check=False,
            cwd=tmp_path,
        )
        assert played.returncode == 0, played.stdout + played.stderr
        assert "ok: [ios-r1]" in played.stdout
        assert "evil" not in played.stdout
        assert not marker.exists(), "a device name was rendered as a template"
    finally:
        marker.unlink(missing_ok=True)
