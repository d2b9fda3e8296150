# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.run_commands: run a rendered command template on one device.

Runs on the controller for the task's host, like device_config_backup: it reads the host's
standard connection variables and ``nautobot`` facts, resolves the netmiko device type, and
makes one call into module_utils.command_jobs. A failed device fails its host with its
error and error class; the other hosts go on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

from ansible.plugins.action import ActionBase

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import MissingLibraryError, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.command_jobs import (
    CommandsRequest,
    run_device_commands,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceJobInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import as_stamp
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import (
    device_target,
    host_variable_error,
)
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.credentials import command_line_credentials
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.host_key_checking import RunHostKeys

COMMON_SPEC: Dict[str, Any] = {
    "facts": {"type": "dict"},
    "device_name": {"type": "str"},
    "job_parameters": {"type": "dict"},
    "platform_map": {"type": "dict", "default": {}},
    "conn_timeout": {"type": "float", "default": 10},
    "auth_timeout": {"type": "float", "default": 20},
    "banner_timeout": {"type": "float", "default": 15},
    "read_timeout": {"type": "float", "default": 60},
    "known_hosts_file": {"type": "path"},
    "pins_repo_dir": {"type": "path"},
    "allow_telnet": {"type": "bool", "default": False},
}

ARGUMENT_SPEC: Dict[str, Any] = {
    **COMMON_SPEC,
    "template": {"type": "str"},
    "repo_dir": {"type": "path"},
    "output_path_template": {"type": "str"},
    "timestamp": {"type": "raw"},
}


def raw_variable(task: Any, task_vars: Dict[str, Any], name: str) -> Any:
    """Return a variable as given, without rendering the Jinja inside it.

    A run_commands template is Jinja meant for each device, rendered later in a sandbox,
    so it must not be rendered by Ansible on the way in (ansible-core 2.19 renders trusted
    strings, such as extra vars, whenever they are read from task_vars). Extra vars (and AWX
    survey answers, which are extra vars) are read from the variable manager as loaded;
    other variables come from task_vars.
    """
    manager = task.get_variable_manager() if hasattr(task, "get_variable_manager") else None
    extra = getattr(manager, "extra_vars", None) or {}
    value = extra[name] if name in extra else task_vars.get(name)
    # Plain builtins: a trust mark carried over from the extra vars would let Ansible render the value later.
    return json.loads(json.dumps(value)) if value is not None else None


class ActionModule(ActionBase):
    """Render the command template for the task's host, run it, and report DeviceJobInfo."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    JOB_TYPE = "run_commands"
    SPEC = ARGUMENT_SPEC

    def run(self, tmp: Optional[str] = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Validate arguments, build the request from the host's variables, and run the job for this device."""
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=self.SPEC)
        name = args.get("device_name") or task_vars.get("inventory_hostname")
        cli = command_line_credentials(self._task, self._play_context, task_vars)
        try:
            for library in self.LIBRARIES:
                require(library)
            request = self._request(args, task_vars, name, cli)
        except Exception as exc:  # noqa: BLE001 - an odd host variable fails this device with a message, not a traceback
            error = exc if isinstance(exc, MissingLibraryError) else host_variable_error(exc, cli.values())
            info = DeviceJobInfo(
                job_type=self.JOB_TYPE,
                device_name=name,
                error=str(error),
                error_class=getattr(error, "failure_class", "other"),
            )
            return self._finish(result, info)
        return self._finish(result, self._execute(request, args))

    LIBRARIES = ("pydantic", "netmiko", "netutils", "jinja2")

    def _execute(self, request: CommandsRequest, args: Dict[str, Any]) -> DeviceJobInfo:
        """Run this job type for one device."""
        return run_device_commands(request, check_mode=bool(self._task.check_mode))

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
        return raw_variable(self._task, task_vars, variable)

    def _job_parameters(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """The argument, else the dispatcher's merged parameters, else the job_parameters variable."""
        if args.get("job_parameters") is not None:
            return args["job_parameters"]
        job = raw_variable(self._task, task_vars, "nautobot_backup_job")
        if isinstance(job, dict) and isinstance(job.get("parameters"), dict):
            return job["parameters"]
        value = raw_variable(self._task, task_vars, "job_parameters")
        return value if isinstance(value, dict) else {}

    def _var(self, task_vars: Dict[str, Any], name: str) -> Any:
        """Return a host variable, templated (it may refer to other variables or a vault)."""
        value = task_vars.get(name)
        return self._templar.template(value) if value is not None else None

    @staticmethod
    def _finish(result: Dict[str, Any], info: DeviceJobInfo) -> Dict[str, Any]:
        """Merge DeviceJobInfo into the task result; a failed device fails its host."""
        data = info.to_dict()
        result.update(data)
        result["changed"] = bool(data.get("changed"))
        if data.get("error"):
            result["failed"] = True
            result["msg"] = f"{data.get('error_class')}: {data.get('error')}"
        else:
            result["msg"] = f"{len(data.get('outputs') or [])} command(s) run"
        return result
