# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.backup_report: the run result, its JSON file and summary."""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import file_modes
from ansible_collections.netops.nautobot_backup.plugins.module_utils.jobs import run_context
from ansible_collections.netops.nautobot_backup.plugins.module_utils.report import (
    build_run_result,
    failed_hosts,
    failure_message,
    run_artifact,
    summary_lines,
    write_report,
)
from ansible_collections.netops.nautobot_backup.plugins.modules.backup_report import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction


class ActionModule(EngineAction):
    """Collect every host's backup result into one BackupRunResult."""

    ARGUMENT_SPEC = ARGUMENT_SPEC
    LIBRARIES = ("pydantic",)

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Build the run result, write the report file, and fail when the run did not succeed."""
        report_mode = file_modes(args["file_mode"])[0]
        hosts = args["hosts"] if args["hosts"] is not None else task_vars.get("ansible_play_hosts_all", [])
        if args["results"] is not None:
            # One dict of every host's result (device_config_backup_batch's "hosts", or backup_results).
            device_results = {host: args["results"].get(host) for host in hosts}
        else:
            hostvars = task_vars.get("hostvars", {})
            device_results = {host: hostvars.get(host, {}).get(args["result_var"]) for host in hosts}
        run = build_run_result(
            device_results,
            git_status=args["git_status"],
            git_commit_status=args["git_commit_status"],
            timestamp_update_status=args["timestamp_update_status"],
            credential_info=args["credential_info"],
            repository=args["repository"],
            commit_date=args["commit_date"],
            run_id=args["run_id"],
            **run_context(task_vars),
        )
        if args["report_path"]:
            write_report(args["report_path"], run, report_mode)
        lines = summary_lines(run, args["report_path"])
        artifact = run_artifact(run, args["report_path"]).to_dict()
        result: Dict[str, Any] = dict(
            changed=False,
            report=run.to_dict(),
            artifact=artifact,
            summary=lines,
            success=run.success,
            failed_hosts=failed_hosts(device_results),
            push_failed=run.git_commit_status.failed,
        )
        if args["stats_key"]:
            # What ansible.builtin.set_stats returns (per_host false, aggregate true): the strategy
            # records it as custom stats for the play recap and ansible-runner's artifacts (AWX).
            # The lean artifact, not the report: its size does not grow with the fleet.
            stats = {args["stats_key"]: artifact}
            result["ansible_stats"] = {"data": stats, "per_host": False, "aggregate": True}
        if args["fail_on_error"] and not run.success:
            result.update(failed=True, msg=failure_message(run, lines))
        else:
            result["msg"] = lines[0]
        return result
