# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""The shared edge of the per-device job actions (run_commands, check_queues): one netmiko session per host.

It reads the host's standard connection variables and ``nautobot`` facts, resolves the netmiko
device type, builds the CommandsRequest, and hands it to the plugin's ``execute``. A failed device
fails its host with its error and error class; the other hosts go on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

from ansible_collections.netops.nautobot_backup.plugins.module_utils.clock import as_stamp
from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_jobs import CommandsRequest
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceJobInfo
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.credentials import command_line_credentials
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.device_requests import (
    device_target,
    host_variable_error,
)
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.host_key_checking import RunHostKeys
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import job_result


class DeviceJobAction(EngineAction):
    """Build the task host's CommandsRequest, run the job for that device, and report DeviceJobInfo."""

    JOB_TYPE = ""

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Build the request from the host's variables (an odd one fails this device), then execute it."""
        name = self._device_name(args, task_vars)
        cli = command_line_credentials(self._task, self._play_context, task_vars)
        try:
            request = self._request(args, task_vars, name, cli)
        except NautobotBackupError:
            raise
        except Exception as exc:  # noqa: BLE001 - an odd host variable fails this device with a message, not a traceback
            raise host_variable_error(exc, cli.values()) from exc
        return self.finish(self.execute(request, args))

    def execute(self, request: CommandsRequest, args: Dict[str, Any]) -> DeviceJobInfo:
        """Run this job type for one device."""
        raise NotImplementedError

    def finish(self, info: DeviceJobInfo) -> Dict[str, Any]:
        """The task result of the device's DeviceJobInfo; a failed device fails its host."""
        return job_result(info)

    def failure(self, exc: BaseException, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """A device that failed before its job started (a missing library, an odd host variable)."""
        info = DeviceJobInfo(
            job_type=self.JOB_TYPE,
            device_name=self._device_name(args, task_vars),
            error=str(exc),
            error_class=getattr(exc, "failure_class", "other"),
        )
        return self.finish(info)

    def _request(
        self, args: Dict[str, Any], task_vars: Dict[str, Any], name: str, cli: Dict[str, Any]
    ) -> CommandsRequest:
        """Build the CommandsRequest from the task arguments and the host's variables."""
        def lookup(var: str) -> Any:
            return self._var(task_vars, var)

        repo_dir = args.get("repo_dir")
        # Ansible's host_key_checking for this host; the backup's pins are read (never written) from the checkout.
        host_keys = RunHostKeys(args, args.get("pins_repo_dir") or repo_dir, write_pins=False).for_host(lookup)
        target = device_target(args, name, lookup, cli, host_keys)
        return CommandsRequest(
            device_name=name,
            settings=target.settings,
            template=self._raw_arg(args, task_vars, "template", "run_commands_template") or "",
            facts=target.facts,
            job_parameters=self._job_parameters(args, task_vars),
            device_id=target.device_id,
            platform=target.platform,
            repo_dir=Path(repo_dir) if repo_dir else None,
            output_path_template=args.get("output_path_template"),
            stamp=as_stamp(args.get("timestamp")) if repo_dir else None,
        )

    def _raw_arg(self, args: Dict[str, Any], task_vars: Dict[str, Any], arg: str, variable: str) -> Any:
        """The argument when given, else the variable as given (its Jinja is for this plugin's sandbox)."""
        if args.get(arg) is not None:
            return args[arg]
        return self._raw_var(task_vars, variable)

    def _job_parameters(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """The argument, else the dispatcher's merged parameters, else the job_parameters variable."""
        if args.get("job_parameters") is not None:
            return args["job_parameters"]
        job = self._raw_var(task_vars, "nautobot_backup_job")
        if isinstance(job, dict) and isinstance(job.get("parameters"), dict):
            return job["parameters"]
        value = self._raw_var(task_vars, "job_parameters")
        return value if isinstance(value, dict) else {}
