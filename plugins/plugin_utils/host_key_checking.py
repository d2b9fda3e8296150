# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""Ansible's ``host_key_checking`` setting for one host, and the run's host key check built from the task's inputs.

The device actions connect with netmiko, not through an Ansible connection plugin, so they read the
setting the way Ansible's ``ssh`` connection plugin does, from that plugin's own option definition:
the host variables ``ansible_host_key_checking`` / ``ansible_ssh_host_key_checking``, then the
environment (``ANSIBLE_HOST_KEY_CHECKING``, ``ANSIBLE_SSH_HOST_KEY_CHECKING``), then ansible.cfg
(``[defaults]`` or ``[ssh_connection]`` ``host_key_checking``), else true. module_utils gets a plain bool.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

from ansible import constants as C
from ansible.plugins.loader import connection_loader

from ansible_collections.netops.nautobot_backup.plugins.module_utils.host_keys import HostKeyCheck

PLUGIN = "ssh"
OPTION = "host_key_checking"


@lru_cache(maxsize=1)
def _variable_names() -> Tuple[str, ...]:
    """The host variables of the ssh plugin's option, loading the plugin once so its definitions are registered."""
    connection_loader.get(PLUGIN, class_only=True)
    definition = C.config.get_configuration_definitions("connection", PLUGIN).get(OPTION) or {}
    return tuple(entry["name"] for entry in definition.get("vars") or ())


def host_key_checking(lookup: Callable[[str], Any]) -> bool:
    """Whether this host's SSH host keys are checked; ``lookup(var)`` returns one of its variables (templated).

    Raises AnsibleOptionsError for a value that is not a boolean (that host fails, like its connection would).
    """
    variables: Dict[str, Any] = {}
    for name in _variable_names():
        value = lookup(name)
        if value is not None:
            variables[name] = value
    return bool(C.config.get_config_value(OPTION, plugin_type="connection", plugin_name=PLUGIN, variables=variables))


class RunHostKeys:
    """The run's HostKeyCheck, read once and only when a host of the task has checking on."""

    def __init__(self, args: Mapping[str, Any], pin_repo: Union[None, str], write_pins: bool) -> None:
        self._args = args
        self._pin_repo = pin_repo
        self._write_pins = write_pins
        self._check: Optional[HostKeyCheck] = None

    def for_host(self, lookup: Callable[[str], Any]) -> Optional[HostKeyCheck]:
        """The check for a host whose checking is on, else None; KnownHostsError for an unreadable known-hosts file."""
        if not host_key_checking(lookup):
            return None
        if self._check is None:
            self._check = HostKeyCheck.load(self._args.get("known_hosts_file"), self._pin_repo, self._write_pins)
        return self._check
