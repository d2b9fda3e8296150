# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.check_queues: judge one device's interface queue drops.

Same edge as run_commands (the host's connection variables and ``nautobot`` facts, one
netmiko session); the work is one call into module_utils.queues. A device with an
interface over the drop threshold fails its host with a message naming the interfaces.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_jobs import CommandsRequest
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceJobInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.queues import check_device_queues
from ansible_collections.netops.nautobot_backup.plugins.modules.check_queues import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import merge_specs
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.argspecs import DEVICE_JOB_SPEC, HOST_KEYS_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.device_job_action import DeviceJobAction
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import job_result


class ActionModule(DeviceJobAction):
    """Read the interface counters of the task's host and flag queue drops over the threshold."""

    JOB_TYPE = "check_queues"
    ARGUMENT_SPEC = merge_specs(DEVICE_JOB_SPEC, HOST_KEYS_SPEC, ARGUMENT_SPEC)
    LIBRARIES = ("pydantic", "netmiko", "netutils", "jinja2", "ntc-templates")

    def execute(self, request: CommandsRequest, args: Dict[str, Any]) -> DeviceJobInfo:
        """Check this device's queue drops."""
        return check_device_queues(request, args["drop_threshold"])

    def finish(self, info: DeviceJobInfo) -> Dict[str, Any]:
        """Merge DeviceJobInfo into the task result; flagged interfaces fail the host."""
        result = job_result(info)
        if not result.get("failed"):
            result["msg"] = f"{len(info.interfaces or [])} interface(s), none over {info.drop_threshold} drops"
        return result
