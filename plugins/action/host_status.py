# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of netops.nautobot_backup.host_status: report a host as ok, changed or failed.

The rule is results.host_status_result, which the collection's strategy (plugins/strategy/batch.py)
also applies in the controller process without starting this plugin in a worker.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.netops.nautobot_backup.plugins.modules.host_status import ARGUMENT_SPEC, MUTUALLY_EXCLUSIVE
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import host_status_result


class ActionModule(EngineAction):
    """The host's status, given or looked up by name in a host -> status variable."""

    ARGUMENT_SPEC = ARGUMENT_SPEC
    MUTUALLY_EXCLUSIVE = MUTUALLY_EXCLUSIVE
    # The strategy netops.nautobot_backup.batch answers tasks of action plugins that say so in the controller.
    ANSWERED_IN_CONTROLLER = True

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Look the status up and shape the result; a bad status or variable fails the task."""
        host = str(task_vars.get("inventory_hostname"))
        try:
            return host_status_result(host, args["status"], statuses_of(args, task_vars), args["msg"])
        except ValueError as exc:
            return {"failed": True, "msg": str(exc)}


def statuses_of(args: Dict[str, Any], task_vars: Dict[str, Any]) -> Any:
    """The value of the variable statuses_var names, as it is (None without statuses_var); a missing one is an error."""
    name = args.get("statuses_var")
    if name is None:
        return None
    if name not in task_vars:
        raise ValueError(f"statuses_var: no variable named {name!r}")
    return task_vars[name]
