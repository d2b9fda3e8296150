# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of netops.nautobot_backup.nautobot_backup_status: write the backup date back to Nautobot.

Runs on the controller (no module process, no connection to the task's host). Thin edge over
module_utils/writeback.py: validate the arguments, open one Nautobot client, call the engine
once, and shape the result. Nautobot failures during the write are reported, not raised
(the backup is already pushed); with validate_only they fail the task.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.plugins.action import ActionBase

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import MissingLibraryError, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import TimestampUpdateStatus
from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import NautobotClient
from ansible_collections.netops.nautobot_backup.plugins.module_utils.writeback import (
    ARGUMENT_SPEC,
    WritebackError,
    update_backup_timestamps,
    validate,
)


class ActionModule(ActionBase):
    """Stamp the custom field of the durably backed-up devices, or only check that it can be stamped."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Optional[str] = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Validate the arguments, then validate or write, and report TimestampUpdateStatus."""
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result["changed"] = False
        try:
            require("pydantic")
            require("requests")
            client = NautobotClient(
                url=args["url"],
                token=args["token"],
                validate_certs=args["validate_certs"],
                timeout=args["timeout"],
            )
        except (MissingLibraryError, NautobotBackupError) as exc:
            result.update(failed=True, msg=str(exc))
            return result
        try:
            if args["validate_only"]:
                return self._validate(result, client, args["custom_field"])
            return self._write(result, client, args)
        finally:
            client.close()

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
                check_mode=bool(self._task.check_mode),
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
