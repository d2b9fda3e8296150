# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.device_config_backup: back up one device on the controller.

It runs in the controller's worker for the host (no module process, no remote Python):
it reads the host's standard connection variables, resolves the netmiko device type,
and hands everything to module_utils.backup, which does the work in one call.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup import failed_info, guarded_backup
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.modules.device_config_backup import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction, merge_specs
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.argspecs import BACKUP_OPTIONS_SPEC, HOST_KEYS_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.credentials import command_line_credentials
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.device_requests import (
    BACKUP_LIBRARIES,
    host_variable_error,
    request_from_vars,
)
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.host_key_checking import RunHostKeys
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import outcome_result, task_result


class ActionModule(EngineAction):
    """Back up the running (and startup) configuration of the task's host."""

    ARGUMENT_SPEC = merge_specs(BACKUP_OPTIONS_SPEC, HOST_KEYS_SPEC, ARGUMENT_SPEC)
    LIBRARIES = BACKUP_LIBRARIES

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Gather the host's variables, back it up, and report DeviceBackupInfo (a failed device fails its host)."""
        name = self._device_name(args, task_vars)

        def lookup(var: str) -> Any:
            return self._var(task_vars, var)

        cli = command_line_credentials(self._task, self._play_context, task_vars)
        try:
            # Ansible's host_key_checking for this host; pins live in the checkout and are written there.
            host_keys = RunHostKeys(args, args["repo_dir"], write_pins=True).for_host(lookup)
            request = request_from_vars(args, name, lookup, cli, host_keys)
        except NautobotBackupError:
            raise
        except Exception as exc:  # noqa: BLE001 - an odd host variable fails this device with a message, not a traceback
            raise host_variable_error(exc, cli.values()) from exc
        return outcome_result(guarded_backup(request, check_mode=self.check_mode, want_diff=self.diff_mode))

    def failure(self, exc: BaseException, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """The device's result when it failed before its backup started (a missing library, an odd variable)."""
        return task_result(failed_info(self._device_name(args, task_vars), exc).to_dict())
