# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of netops.nautobot_backup.nautobot_custom_fields: create the dcim.device custom fields.

Runs on the controller. Thin edge over module_utils/custom_fields.py: read what Nautobot holds, plan the
missing pieces (a type conflict fails before anything is sent), and send them unless in check mode.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.netops.nautobot_backup.plugins.module_utils import custom_fields
from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import NautobotClient
from ansible_collections.netops.nautobot_backup.plugins.modules.nautobot_custom_fields import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction, merge_specs
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.argspecs import NAUTOBOT_SPEC


class ActionModule(EngineAction):
    """Create missing custom fields on dcim.device; changed=false when all are right."""

    ARGUMENT_SPEC = merge_specs(NAUTOBOT_SPEC, ARGUMENT_SPEC)
    LIBRARIES = ("requests",)

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Plan against Nautobot's fields, then apply (not in check mode)."""
        wanted = custom_fields.parse_fields(args["fields"])
        client = NautobotClient(
            url=args["url"], token=args["token"], validate_certs=args["validate_certs"], timeout=args["timeout"]
        )
        try:
            existing = custom_fields.read_existing(client)
            actions = custom_fields.plan(wanted, existing)
            write_requests = 0
            if actions and not self.check_mode:
                write_requests = custom_fields.apply(client, wanted, actions, existing).write_requests
        finally:
            client.close()
        return {
            "changed": bool(actions),
            "actions": [action.to_dict() for action in actions],
            "write_requests": write_requests,
            "fields": [spec.key for spec in wanted],
            "msg": custom_fields.summary(actions, check_mode=self.check_mode),
        }

    def failure(self, exc: BaseException, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """A conflict, a bad field, or a Nautobot error: failed, with the message (never the token)."""
        return {"changed": False, "failed": True, "msg": str(exc), "actions": [], "write_requests": 0}
