# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.backup_report: the run result, its JSON file and summary."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.plugins.action import ActionBase

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import MissingLibraryError, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import FileModeError, file_modes
from ansible_collections.netops.nautobot_backup.plugins.module_utils.jobs import run_context
from ansible_collections.netops.nautobot_backup.plugins.module_utils.report import (
    build_run_result,
    failed_hosts,
    summary_lines,
    write_report,
)

ARGUMENT_SPEC: Dict[str, Any] = {
    "hosts": {"type": "list", "elements": "str"},
    "result_var": {"type": "str", "default": "backup_result"},
    "results": {"type": "dict"},
    "git_status": {"type": "dict"},
    "git_commit_status": {"type": "dict"},
    "timestamp_update_status": {"type": "dict"},
    "credential_info": {"type": "dict"},
    "repository": {"type": "str"},
    "commit_date": {"type": "str"},
    "report_path": {"type": "path"},
    "file_mode": {"type": "raw", "default": "0600"},
    "fail_on_error": {"type": "bool", "default": True},
    "stats_key": {"type": "str"},
}


class ActionModule(ActionBase):
    """Collect every host's backup result into one BackupRunResult."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Optional[str] = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Build the run result, write the report file, and fail when the run did not succeed."""
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            require("pydantic")
            report_mode = file_modes(args["file_mode"])[0]
        except (MissingLibraryError, FileModeError) as exc:
            result.update(failed=True, msg=str(exc))
            return result
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
            **run_context(task_vars),
        )
        if args["report_path"]:
            write_report(args["report_path"], run, report_mode)
        lines = summary_lines(run)
        result.update(
            changed=False,
            report=run.to_dict(),
            summary=lines,
            success=run.success,
            failed_hosts=failed_hosts(device_results),
            push_failed=run.git_commit_status.failed,
        )
        if args["stats_key"]:
            # What ansible.builtin.set_stats returns (per_host false, aggregate true): the strategy
            # records it as custom stats for the play recap and ansible-runner's artifacts (AWX).
            stats = {args["stats_key"]: result["report"]}
            result["ansible_stats"] = {"data": stats, "per_host": False, "aggregate": True}
        if args["fail_on_error"] and not run.success:
            result.update(failed=True, msg=" / ".join(lines[:1] + [line.strip() for line in lines[1:4]]))
        else:
            result["msg"] = lines[0]
        return result
