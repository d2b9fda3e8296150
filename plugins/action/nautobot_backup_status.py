# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of netops.nautobot_backup.nautobot_backup_status: write the backup date back to Nautobot.

Runs on the controller (no module process, no connection to the task's host). Thin edge over
module_utils/writeback.py: validate the arguments, open one Nautobot client, call the engine
once, and shape the result. Nautobot failures during the write are reported, not raised
(the backup is already pushed); with validate_only they fail the task.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import TimestampUpdateStatus
from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import NautobotClient
from ansible_collections.netops.nautobot_backup.plugins.module_utils.writeback import (
    WritebackError,
    update_backup_timestamps,
    validate,
)
from ansible_collections.netops.nautobot_backup.plugins.modules.nautobot_backup_status import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction, merge_specs
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.argspecs import NAUTOBOT_SPEC


class ActionModule(EngineAction):
    """Stamp the custom field of the durably backed-up devices, or only check that it can be stamped."""

    ARGUMENT_SPEC = merge_specs(NAUTOBOT_SPEC, ARGUMENT_SPEC)
    LIBRARIES = ("pydantic", "requests")

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Open the client, then validate or write, and report TimestampUpdateStatus."""
        client = NautobotClient(
            url=args["url"],
            token=args["token"],
            validate_certs=args["validate_certs"],
            timeout=args["timeout"],
        )
        result: Dict[str, Any] = {"changed": False}
        try:
            if args["validate_only"]:
                return self._validate(result, client, args["custom_field"])
            return self._write(result, client, args)
        finally:
            client.close()

    def failure(self, exc: BaseException, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """A missing library or an unusable client setting: failed, with the error's message."""
        return {"changed": False, "failed": True, "msg": str(exc)}

    @staticmethod
    def _validate(result: Dict[str, Any], client: NautobotClient, key: str) -> Dict[str, Any]:
        """Pre-flight: fail unless Nautobot answers and the custom field can be written."""
        status = TimestampUpdateStatus(enabled=True, custom_field_name=key)
        try:
            custom_field = validate(client, key)
        except NautobotBackupError as exc:
            status.errors.append(str(exc))
            result.update(failed=True, msg=str(exc), timestamp_update_status=status.to_dict())
            return result
        result.update(
            msg=f"custom field '{key}' ({custom_field.type}) exists on dcim.device in Nautobot at {client.url}",
            custom_field=custom_field.to_dict(),
            timestamp_update_status=status.to_dict(),
        )
        return result

    def _write(self, result: Dict[str, Any], client: NautobotClient, args: Dict[str, Any]) -> Dict[str, Any]:
        """Stamp the durable devices; Nautobot failures become errors and warnings, never a failed task."""
        try:
            outcome = update_backup_timestamps(
                client,
                args["devices"],
                pushed=args["pushed"],
                key=args["custom_field"],
                timestamp=args["timestamp"],
                batch_size=args["batch_size"],
                check_mode=self.check_mode,
            )
        except WritebackError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        result.update(outcome.to_dict())
        result["changed"] = outcome.changed
        result["msg"] = outcome.summary()
        if outcome.status.errors:
            result["warnings"] = list(outcome.status.errors)
        return result
