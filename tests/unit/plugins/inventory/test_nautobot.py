"""Tests for plugins/inventory/nautobot.py through ansible-core's own InventoryManager, with a fake GraphQL client.

Each case runs in a fresh Python process that loads the installed collection the way Ansible
does (its collection loader) and replaces NautobotClient.graphql with canned answers, so the
plugin's record handling and its way of failing are checked without Nautobot (the
integration tests do the same against the real one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Sequence

import pytest

REPO_ROOT = Path(__file__).resolve().parents[4]
COLLECTIONS = REPO_ROOT / ".build" / "collections"

# Runs InventoryManager on argv[1] (sources, JSON list) with the devices of argv[2] (JSON file)
# served as GraphQL pages, and prints one JSON line: the hosts, the flag, and how it ended.
SCRIPT = r"""
import json, sys
from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader

init_plugin_loader()
from ansible_collections.netops.nautobot_backup.plugins.module_utils import nautobot_client

sources = json.loads(sys.argv[1])
devices = json.load(open(sys.argv[2]))

def graphql(self, query, variables=None):
    if isinstance(devices, dict):  # {"error": message}: Nautobot fails
        raise nautobot_client.NautobotAPIError(devices["error"], self.url, 500)
    if "InventoryLookups" in query:
        return {"platforms": [], "locations": [], "tags": []}
    variables = variables or {}
    offset, limit = variables.get("offset", 0), variables.get("limit", len(devices))
    return {"devices": devices[offset:offset + limit]}

nautobot_client.NautobotClient.graphql = graphql
flag_before = C.INVENTORY_ANY_UNPARSED_IS_FAILED
result = {"flag_before": flag_before}
try:
    manager = InventoryManager(loader=DataLoader(), sources=sources)
    result["hosts"] = sorted(host.name for host in manager.get_hosts())
    result["ended"] = None
except SystemExit as exc:
    result["ended"] = {"code": exc.code, "type": type(exc).__name__, "message": str(exc)}
except AnsibleError as exc:
    result["ended"] = {"code": None, "type": type(exc).__name__, "message": str(exc)}
result["flag_after"] = C.INVENTORY_ANY_UNPARSED_IS_FAILED
print("RESULT " + json.dumps(result))
"""


def device(name: Any, index: int = 0, **extra: Any) -> Dict[str, Any]:
    """A device record as the paged query returns it (no platform, location or tags)."""
    record = {
        "id": f"00000000-0000-0000-0000-{index:012d}",
        "name": name,
        "primary_ip4": {"host": f"192.0.2.{index + 1}"},
        "role": {"name": "router"},
        "status": {"name": "Active"},
        "platform": None,
        "location": None,
        "tags": [],
        "_custom_field_data": {},
    }
    record.update(extra)
    return record


def run_manager(tmp_path: Path, devices: Any, config: Dict[str, Any], extra_sources: Sequence[str] = ()) -> Dict:
    """Run the SCRIPT on a nautobot.yml with config; return its result and stderr."""
    source = tmp_path / "unit_nautobot.yml"
    source.write_text(
        json.dumps({"plugin": "netops.nautobot_backup.nautobot", "url": "http://192.0.2.1", **config}), "utf-8"
    )
    data = tmp_path / "devices.json"
    data.write_text(json.dumps(devices), encoding="utf-8")
    config_file = tmp_path / "empty.cfg"
    config_file.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(config_file),
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_NOCOLOR="1",
        NAUTOBOT_TOKEN="unit-test-token-0123456789",
        PYTHONWARNINGS="ignore",
    )
    sources = json.dumps([str(source), *extra_sources])
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, sources, str(data)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, done.stdout + done.stderr
    return {**json.loads(line[len("RESULT ") :]), "stderr": done.stderr}


def test_good_pages_give_every_host(tmp_path):
    result = run_manager(tmp_path, [device(f"r{i}", i) for i in range(5)], {"page_size": 2})
    assert result["ended"] is None
    assert result["hosts"] == [f"r{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"role": "router"}, "AttributeError"),
        ({"_custom_field_data": ["net"]}, "ValueError"),
        ({"name": ["r3"]}, "TypeError: the name is a list"),
    ],
    ids=["role_string", "custom_fields_list", "name_list"],
)
def test_malformed_record_ends_the_program_and_leaves_the_global_alone(tmp_path, bad, reason):
    devices = [device(f"r{i}", i) for i in range(5)]
    devices[3].update(bad)
    result = run_manager(tmp_path, devices, {"page_size": 2})
    assert result["ended"] == {"code": 1, "type": "InventoryFailedClosed", "message": result["ended"]["message"]}
    assert "record 2 of page 2 (offset 2)" in result["ended"]["message"]
    assert reason in result["ended"]["message"]
    assert "[ERROR]" in result["stderr"] and "record 2 of page 2" in result["stderr"]
    assert "unit-test-token" not in result["stderr"] + result["ended"]["message"]
    assert result["flag_before"] is False and result["flag_after"] is False


def test_nautobot_error_ends_the_program_and_leaves_the_global_alone(tmp_path):
    """The plugin used to switch INVENTORY_ANY_UNPARSED_IS_FAILED on for the whole process before failing."""
    result = run_manager(tmp_path, {"error": "Nautobot at http://192.0.2.1 answered HTTP 500"}, {})
    assert result["ended"]["type"] == "InventoryFailedClosed" and result["ended"]["code"] == 1
    assert "answered HTTP 500" in result["ended"]["message"] and "answered HTTP 500" in result["stderr"]
    assert result["flag_before"] is False and result["flag_after"] is False


def test_a_record_that_is_not_an_object_fails_in_the_join(tmp_path):
    devices = [device("r0", 0), "not a device", device("r2", 2)]
    result = run_manager(tmp_path, devices, {"page_size": 0})
    assert result["ended"]["code"] == 1
    assert "a device record, record 2 of the unpaged device list" in result["ended"]["message"]


def test_invalid_option_ends_the_program(tmp_path):
    result = run_manager(tmp_path, [device("r0")], {"page_size": "many"})
    assert result["ended"]["code"] == 1
    assert "page_size" in result["ended"]["message"]


def test_broken_other_source_still_only_warns(tmp_path):
    """Ansible's own handling of other sources stays: a broken static file is a warning, not a failure."""
    broken = tmp_path / "broken.ini"
    broken.write_text("[group\nthis is not ini\n", encoding="utf-8")
    result = run_manager(tmp_path, [device("r0")], {}, extra_sources=[str(broken)])
    assert result["ended"] is None
    assert result["hosts"] == ["r0"]
    assert "broken.ini" in result["stderr"]


@pytest.mark.parametrize("name", ["evil{{ 7 * 6 }}", "x{% raw %}y", "c{# note #}", "a{{b"])
def test_names_with_jinja_delimiters_are_skipped_with_a_warning(tmp_path, name):
    result = run_manager(tmp_path, [device("good", 0), device(name, 1)], {})
    assert result["ended"] is None
    assert result["hosts"] == ["good"]
    assert "skipped 1 device(s) with a Jinja delimiter" in result["stderr"]
    assert name in result["stderr"]


def test_control_characters_in_a_skipped_name_are_escaped(tmp_path):
    name = "bad\x1b[31m{{ x }}"
    result = run_manager(tmp_path, [device(name, 0)], {})
    assert "\x1b[31m" not in result["stderr"]
    assert "bad\\x1b[31m{{ x }}" in result["stderr"]
