# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.device_config_backup: back up one device on the controller.

It runs in the controller's worker for the host (no module process, no remote Python):
it reads the host's standard connection variables, resolves the netmiko device type,
and hands everything to module_utils.backup, which does the work in one call.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.plugins.action import ActionBase

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import MissingLibraryError, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup import (
    failed_info,
    guarded_backup,
    request_from_vars,
    task_result,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import host_variable_error
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.credentials import command_line_credentials
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.host_key_checking import RunHostKeys

LIBRARIES = ("pydantic", "netmiko", "netutils")

ARGUMENT_SPEC: Dict[str, Any] = {
    "repo_dir": {"type": "path", "required": True},
    "running_path_template": {"type": "str"},
    "startup_path_template": {"type": "str"},
    "timestamp": {"type": "raw"},
    "backup_startup": {"type": "bool", "default": True},
    "sanitize": {"type": "bool", "default": False},
    "sanitize_patterns": {"type": "list", "elements": "str", "default": []},
    "show_diff": {"type": "bool", "default": False},
    "file_mode": {"type": "raw", "default": "0600"},
    "commands": {"type": "dict"},
    "platform_map": {"type": "dict", "default": {}},
    "facts": {"type": "dict"},
    "device_name": {"type": "str"},
    "conn_timeout": {"type": "float", "default": 10},
    "auth_timeout": {"type": "float", "default": 20},
    "banner_timeout": {"type": "float", "default": 15},
    "read_timeout": {"type": "float", "default": 120},
    "known_hosts_file": {"type": "path"},
    "allow_telnet": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):
    """Back up the running (and startup) configuration of the task's host."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Optional[str] = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Validate arguments, gather the host's variables, back it up, and report DeviceBackupInfo."""
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        name = args.get("device_name") or task_vars.get("inventory_hostname")

        def lookup(var: str) -> Any:
            return self._var(task_vars, var)

        cli = command_line_credentials(self._task, self._play_context, task_vars)
        try:
            for library in LIBRARIES:
                require(library)
            # Ansible's host_key_checking for this host; pins live in the checkout and are written there.
            host_keys = RunHostKeys(args, args["repo_dir"], write_pins=True).for_host(lookup)
            request = request_from_vars(args, name, lookup, cli, host_keys)
        except (MissingLibraryError, NautobotBackupError) as exc:
            return self._merge(result, task_result(failed_info(name, exc).to_dict()))
        except Exception as exc:  # noqa: BLE001 - an odd host variable fails this device with a message, not a traceback
            return self._merge(result, task_result(failed_info(name, host_variable_error(exc, cli.values())).to_dict()))
        outcome = guarded_backup(request, check_mode=bool(self._task.check_mode), want_diff=bool(self._task.diff))
        return self._merge(result, task_result(outcome.info.to_dict(), outcome.diffs))

    def _var(self, task_vars: Dict[str, Any], name: str) -> Any:
        """Return a host variable, templated (it may refer to other variables or a vault)."""
        value = task_vars.get(name)
        return self._templar.template(value) if value is not None else None

    @staticmethod
    def _merge(result: Dict[str, Any], host_result: Dict[str, Any]) -> Dict[str, Any]:
        """Merge the host's result (DeviceBackupInfo fields, msg; a failed device fails its host)."""
        result.update(host_result)
        return result
