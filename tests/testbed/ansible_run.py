"""Run ansible-playbook against the installed collection, the way a user does, and read results back.

Private to the test suite. ``lab_inventory`` turns the device lab's device list into a
plain static YAML inventory (the product must work with any inventory, not only the
Nautobot plugin); ``run_playbook`` runs a playbook in a subprocess with the collection
from .build/collections and returns the completed process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence

import yaml

from testbed.procs import REPO_ROOT

BIN = Path(sys.executable).parent
COLLECTIONS_PATH = REPO_ROOT / ".build" / "collections"


def lab_inventory(
    devices: Iterable[Mapping[str, Any]],
    path: Path,
    host_vars: Optional[Mapping[str, Mapping[str, Any]]] = None,
    use_network_os: bool = False,
) -> Path:
    """Write a static YAML inventory of lab devices with standard connection variables."""
    network_os = {
        "cisco_ios": "cisco.ios.ios",
        "cisco_nxos": "cisco.nxos.nxos",
        "arista_eos": "arista.eos.eos",
        "juniper_junos": "junipernetworks.junos.junos",
        "cisco_xr": "cisco.iosxr.iosxr",
    }
    hosts: Dict[str, Dict[str, Any]] = {}
    for device in devices:
        entry: Dict[str, Any] = {
            "ansible_host": device["host"],
            "ansible_port": device["port"],
            "ansible_user": device["username"],
            "ansible_password": device["password"],
            "ansible_become_password": device["secret"],
        }
        if use_network_os:
            entry["ansible_network_os"] = network_os[device["platform"]]
        else:
            entry["netmiko_device_type"] = device["platform"]
        entry.update((host_vars or {}).get(device["name"], {}))
        hosts[device["name"]] = entry
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=True), encoding="utf-8")
    return path


def ansible_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Environment for ansible commands: the installed collection, no colour, no retry files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    env.update(extra or {})
    return env


def run_playbook(
    playbook: Path,
    inventory: Path,
    extra_vars: Optional[Mapping[str, Any]] = None,
    args: Sequence[str] = (),
    env: Optional[Mapping[str, str]] = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run ansible-playbook and return the completed process (stdout and stderr as text)."""
    command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)]
    if extra_vars:
        command += ["-e", yaml.safe_dump(dict(extra_vars), default_flow_style=True).strip()]
    command += list(args)
    return subprocess.run(
        command, capture_output=True, text=True, env=ansible_env(env), timeout=timeout, check=False, cwd=REPO_ROOT
    )
