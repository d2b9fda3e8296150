# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.run_commands: run a rendered command template on one device.

Runs on the controller for the task's host, like device_config_backup: it reads the host's
standard connection variables and ``nautobot`` facts, resolves the netmiko device type, and
makes one call into module_utils.run_commands_job. A failed device fails its host with its
error and error class; the other hosts go on.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_jobs import CommandsRequest
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceJobInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.run_commands_job import run_device_commands
from ansible_collections.netops.nautobot_backup.plugins.modules.run_commands import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import merge_specs
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.argspecs import DEVICE_JOB_SPEC, HOST_KEYS_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.device_job_action import DeviceJobAction


class ActionModule(DeviceJobAction):
    """Render the command template for the task's host, run it, and report DeviceJobInfo."""

    JOB_TYPE = "run_commands"
    ARGUMENT_SPEC = merge_specs(DEVICE_JOB_SPEC, HOST_KEYS_SPEC, ARGUMENT_SPEC)
    LIBRARIES = ("pydantic", "netmiko", "netutils", "jinja2")

    def execute(self, request: CommandsRequest, args: Dict[str, Any]) -> DeviceJobInfo:
        """Run the rendered commands on this device."""
        return run_device_commands(request, check_mode=self.check_mode)
