# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.check_queues: judge one device's interface queue drops.

Same edge as run_commands (the host's connection variables and ``nautobot`` facts, one
netmiko session); the work is one call into module_utils.queues. A device with an
interface over the drop threshold fails its host with a message naming the interfaces.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.netops.nautobot_backup.plugins.action.run_commands import COMMON_SPEC
from ansible_collections.netops.nautobot_backup.plugins.action.run_commands import ActionModule as RunCommandsAction
from ansible_collections.netops.nautobot_backup.plugins.module_utils.command_jobs import CommandsRequest
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceJobInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.queues import check_device_queues

ARGUMENT_SPEC: Dict[str, Any] = {
    **COMMON_SPEC,
    "drop_threshold": {"type": "int", "default": 0},
}


class ActionModule(RunCommandsAction):
    """Read the interface counters of the task's host and flag queue drops over the threshold."""

    JOB_TYPE = "check_queues"
    SPEC = ARGUMENT_SPEC
    LIBRARIES = ("pydantic", "netmiko", "netutils", "jinja2", "ntc-templates")

    def _execute(self, request: CommandsRequest, args: Dict[str, Any]) -> DeviceJobInfo:
        """Check this device's queue drops."""
        return check_device_queues(request, args["drop_threshold"])

    @staticmethod
    def _finish(result: Dict[str, Any], info: DeviceJobInfo) -> Dict[str, Any]:
        """Merge DeviceJobInfo into the task result; flagged interfaces fail the host."""
        result = RunCommandsAction._finish(result, info)
        if not result.get("failed"):
            result["msg"] = f"{len(info.interfaces or [])} interface(s), none over {info.drop_threshold} drops"
        return result
