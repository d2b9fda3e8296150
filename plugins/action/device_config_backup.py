# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.device_config_backup: back up one device on the controller.

It runs in the controller's worker for the host (no module process, no remote Python):
it reads the host's standard connection variables, resolves the netmiko device type,
and hands everything to module_utils.backup, which does the work in one call.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any, Dict, Optional

from ansible.plugins.action import ActionBase

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import MissingLibraryError, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup import BackupRequest, backup_device
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceBackupInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import as_stamp
from ansible_collections.netops.nautobot_backup.plugins.module_utils.platforms import device_type_for_host
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import ConnectionSettings

ARGUMENT_SPEC: Dict[str, Any] = {
    "repo_dir": {"type": "path", "required": True},
    "running_path_template": {"type": "str"},
    "startup_path_template": {"type": "str"},
    "timestamp": {"type": "raw"},
    "backup_startup": {"type": "bool", "default": True},
    "sanitize": {"type": "bool", "default": False},
    "sanitize_patterns": {"type": "list", "elements": "str", "default": []},
    "commands": {"type": "dict"},
    "platform_map": {"type": "dict", "default": {}},
    "facts": {"type": "dict"},
    "device_name": {"type": "str"},
    "conn_timeout": {"type": "float", "default": 10},
    "auth_timeout": {"type": "float", "default": 20},
    "banner_timeout": {"type": "float", "default": 15},
    "read_timeout": {"type": "float", "default": 120},
}

# Standard Ansible connection variables, first match wins.
_VARS = {
    "host": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "username": ("ansible_user", "ansible_ssh_user"),
    "password": ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password"),
    "secret": ("ansible_become_password", "ansible_become_pass", "ansible_enable_pass"),
    "key_file": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
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
        try:
            for library in ("pydantic", "netmiko", "netutils"):
                require(library)
            request = self._request(args, task_vars)
        except (MissingLibraryError, NautobotBackupError) as exc:
            info = DeviceBackupInfo(
                device_name=args.get("device_name") or task_vars.get("inventory_hostname"),
                error=str(exc),
                error_class=getattr(exc, "failure_class", "other"),
            )
            return self._finish(result, info.to_dict(), [])
        outcome = backup_device(request, check_mode=bool(self._task.check_mode), want_diff=bool(self._task.diff))
        return self._finish(result, outcome.info.to_dict(), outcome.diffs)

    def _request(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> BackupRequest:
        """Build the BackupRequest from the task arguments and the host's variables."""
        name = args.get("device_name") or task_vars.get("inventory_hostname")
        facts = args.get("facts")
        if facts is None:
            facts = self._var(task_vars, "nautobot") or {}
        platform = facts.get("platform") if isinstance(facts, dict) else None
        device_type = device_type_for_host(
            netmiko_type=self._var(task_vars, "netmiko_device_type"),
            platform=platform,
            network_os=self._var(task_vars, "ansible_network_os"),
            platform_map=args["platform_map"],
            device=name,
        )
        settings = ConnectionSettings(
            host=str(self._first(task_vars, "host") or name),
            port=int(self._first(task_vars, "port") or 22),
            device_type=device_type,
            username=self._first(task_vars, "username") or getpass.getuser(),
            password=self._first(task_vars, "password"),
            secret=self._first(task_vars, "secret"),
            key_file=self._first(task_vars, "key_file"),
            conn_timeout=args["conn_timeout"],
            auth_timeout=args["auth_timeout"],
            banner_timeout=args["banner_timeout"],
            read_timeout=args["read_timeout"],
        )
        commands = args.get("commands")
        if commands is None:
            commands = self._var(task_vars, "nautobot_backup_commands")
        return BackupRequest(
            device_name=name,
            settings=settings,
            repo_dir=Path(args["repo_dir"]),
            stamp=as_stamp(args.get("timestamp")),
            facts=facts,
            device_id=(facts.get("id") if isinstance(facts, dict) else None) or self._var(task_vars, "nautobot_id"),
            platform=(platform or {}).get("name") if isinstance(platform, dict) else platform,
            running_template=args.get("running_path_template"),
            startup_template=args.get("startup_path_template"),
            backup_startup=args["backup_startup"],
            sanitize=args["sanitize"],
            sanitize_patterns=args["sanitize_patterns"],
            command_overrides=commands,
        )

    def _var(self, task_vars: Dict[str, Any], name: str) -> Any:
        """Return a host variable, templated (it may refer to other variables or a vault)."""
        value = task_vars.get(name)
        return self._templar.template(value) if value is not None else None

    def _first(self, task_vars: Dict[str, Any], key: str) -> Any:
        """Return the first set variable among the aliases of a connection setting."""
        for name in _VARS[key]:
            value = self._var(task_vars, name)
            if value not in (None, ""):
                return value
        return None

    @staticmethod
    def _finish(result: Dict[str, Any], info: Dict[str, Any], diffs: list) -> Dict[str, Any]:
        """Merge DeviceBackupInfo into the task result; a failed device fails its host."""
        result.update(info)
        result["changed"] = bool(info.get("changed"))
        if info.get("error"):
            result["failed"] = True
            result["msg"] = f"{info.get('error_class')}: {info.get('error')}"
        else:
            result["msg"] = "running config {state}{startup}".format(
                state="changed" if info.get("changed") else "unchanged",
                startup="" if info.get("startup_config_success") else f"; startup: {info.get('startup_config_reason')}",
            )
        if diffs:
            result["diff"] = diffs
        return result
