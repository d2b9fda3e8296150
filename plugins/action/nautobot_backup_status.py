# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of netops.nautobot_backup.nautobot_backup_status: write the backup status back to Nautobot.

Runs on the controller (no module process, no connection to the task's host). Thin edge over
module_utils/writeback.py: validate the arguments, open one Nautobot client, call the engine
once, and shape the result. Nautobot failures during the write are reported, not raised
(the backup is already pushed); with validate_only they fail the task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_repo import last_change_dates
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import TimestampUpdateStatus
from ansible_collections.netops.nautobot_backup.plugins.module_utils.nautobot_client import NautobotClient
from ansible_collections.netops.nautobot_backup.plugins.module_utils.writeback import (
    WritebackError,
    status_mapping,
    update_backup_status,
    validate,
)
from ansible_collections.netops.nautobot_backup.plugins.modules.nautobot_backup_status import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction, merge_specs
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.argspecs import NAUTOBOT_SPEC


class ActionModule(EngineAction):
    """Write the status fields of the devices a run tried, or only check that they can be written."""

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
            mapping = status_mapping(args["status_fields"], args["custom_field"])
        except WritebackError as exc:
            client.close()
            return {"changed": False, "failed": True, "msg": str(exc)}
        try:
            if args["validate_only"]:
                return self._validate(result, client, mapping)
            return self._write(result, client, args, mapping)
        finally:
            client.close()

    def failure(self, exc: BaseException, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """A missing library or an unusable client setting: failed, with the error's message."""
        return {"changed": False, "failed": True, "msg": str(exc)}

    @staticmethod
    def _validate(result: Dict[str, Any], client: NautobotClient, mapping: Dict[str, str]) -> Dict[str, Any]:
        """Pre-flight: fail unless Nautobot answers and every mapped field can be written."""
        status = TimestampUpdateStatus(enabled=True, custom_field_name=mapping.get("last_backup"))
        result["status_fields"] = dict(mapping)
        try:
            fields = validate(client, mapping)
        except NautobotBackupError as exc:
            status.errors.append(str(exc))
            result.update(failed=True, msg=str(exc), timestamp_update_status=status.to_dict())
            return result
        described = ", ".join(f"{info.key} ({info.type})" for info in fields.values()) or "none (every status is off)"
        result.update(
            msg=f"the status fields exist on dcim.device in Nautobot at {client.url}: {described}",
            timestamp_update_status=status.to_dict(),
        )
        if "last_backup" in fields:
            result["custom_field"] = fields["last_backup"].to_dict()
        return result

    @staticmethod
    def _change_dates(repo_dir: Optional[str]) -> Optional[Callable[[List[str]], Dict[str, str]]]:
        """The last-commit dates of paths in the checkout (None without one)."""
        if not repo_dir:
            return None
        return lambda paths: last_change_dates(Path(repo_dir), paths)

    def _write(
        self, result: Dict[str, Any], client: NautobotClient, args: Dict[str, Any], mapping: Dict[str, str]
    ) -> Dict[str, Any]:
        """Write the status; Nautobot failures become errors and warnings, never a failed task."""
        try:
            outcome = update_backup_status(
                client,
                args["devices"],
                pushed=args["pushed"],
                mapping=mapping,
                timestamp=args["timestamp"],
                batch_size=args["batch_size"],
                concurrency=args["concurrency"],
                check_mode=self.check_mode,
                push_error=args["push_error"],
                change_dates=self._change_dates(args["repo_dir"]),
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
