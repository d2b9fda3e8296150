# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.device_config_backup_batch: back up the whole play batch at once.

``BYPASS_HOST_LOOP``: the strategy runs this task once (one worker process) instead of once
per host. The worker reads every host of ``ansible_play_batch`` from ``hostvars`` (templated
in that host's context), builds each device's request with the same code as the per-host
``device_config_backup``, and runs ``module_utils.backup.backup_batch()``: the unchanged
per-device backup in a thread pool. Per-host results come back as data (``hosts``).
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Union

from ansible.errors import AnsibleActionFail
from ansible.utils.display import Display

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup import (
    BackupOutcome,
    BackupRequest,
    backup_batch,
    failed_info,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.clock import as_stamp
from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import file_modes
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceBackupInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.process_pool import auto_processes
from ansible_collections.netops.nautobot_backup.plugins.modules.device_config_backup_batch import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction, merge_specs
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.argspecs import BACKUP_OPTIONS_SPEC, HOST_KEYS_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.credentials import command_line_credentials
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.device_requests import (
    BACKUP_LIBRARIES,
    host_variable_error,
    hostvars_lookup,
    request_from_vars,
)
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.host_key_checking import RunHostKeys
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import (
    ProgressTicker,
    batch_results,
    outcome_result,
    progress_line,
)

display = Display()


class ActionModule(EngineAction):
    """Back up every host of ansible_play_batch in a thread pool; result['hosts'][name] is its result."""

    BYPASS_HOST_LOOP = True
    # Per-host values (device_name, facts) come from hostvars: a task argument would be templated once, for the
    # first host, so the batch has neither.
    ARGUMENT_SPEC = merge_specs(BACKUP_OPTIONS_SPEC, HOST_KEYS_SPEC, ARGUMENT_SPEC)
    LIBRARIES = BACKUP_LIBRARIES

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Build every host's request, back them all up, return the per-host results."""
        if args["workers"] < 1:
            raise AnsibleActionFail(f"workers must be at least 1, got {args['workers']}")
        if args["processes"] < 0:
            raise AnsibleActionFail(f"processes must be 0 (automatic) or more, got {args['processes']}")
        if args["progress_interval"] < 0:
            raise AnsibleActionFail(f"progress_interval must be 0 (off) or more, got {args['progress_interval']}")
        try:
            # One {date}/{timestamp} for the whole run, whatever the number of devices.
            args["timestamp"] = as_stamp(args.get("timestamp"))
            file_modes(args.get("file_mode"))  # a mode for other users fails the task before any device
        except (ValueError, TypeError) as exc:
            raise AnsibleActionFail(str(exc)) from exc
        batch: List[str] = list(task_vars.get("ansible_play_batch") or [task_vars.get("inventory_hostname")])
        hostvars = task_vars.get("hostvars") or {}
        # -u / --ask-pass / --ask-become-pass (an AWX Machine credential), resolved once from the play (never
        # from the first host's own variables) and given to each host that has no variable of its own.
        cli = command_line_credentials(self._task, self._play_context, task_vars)

        # Templating uses Ansible's (not thread-safe) machinery: build every request here, in order.
        started = time.monotonic()
        requests: Dict[str, Union[BackupRequest, DeviceBackupInfo]] = {}
        # Each host's own host_key_checking; the known-hosts files are read once, pins live in the checkout.
        run_host_keys = RunHostKeys(args, args["repo_dir"], write_pins=True)
        for host in batch:
            try:
                lookup = hostvars_lookup(hostvars.get(host))
                requests[host] = request_from_vars(args, host, lookup, cli, run_host_keys.for_host(lookup))
            except Exception as exc:  # noqa: BLE001 - one host's odd variables (a bad port, a failing template) fail it alone
                requests[host] = failed_info(host, host_variable_error(exc, cli.values()))

        built = time.monotonic()
        ticker = ProgressTicker(len(requests), args["progress_interval"])

        def progress(done: int, total: int, name: str, outcome: BackupOutcome) -> None:
            host_result = outcome_result(outcome)
            if args["progress"]:
                display.display(progress_line(done, total, name, host_result))
            periodic = ticker.record(host_result)
            if periodic:
                display.display(periodic)

        hosts = batch_results(
            backup_batch(
                requests,
                workers=args["workers"],
                check_mode=self.check_mode,
                want_diff=self.diff_mode,
                progress=progress if args["progress"] or args["progress_interval"] > 0 else None,
                processes=args["processes"] or auto_processes(len(requests), args["workers"]),
            )
        )
        failed = [name for name, host_result in hosts.items() if host_result.get("failed")]
        changed = [name for name, host_result in hosts.items() if host_result.get("changed")]
        result: Dict[str, Any] = dict(
            hosts=hosts,
            failed_hosts=failed,
            changed_hosts=changed,
            changed=bool(changed),
            msg=f"{len(hosts)} device(s): {len(hosts) - len(failed)} ok ({len(changed)} changed), {len(failed)} failed",
            elapsed={"requests": round(built - started, 2), "backup": round(time.monotonic() - built, 2)},
        )
        if self.diff_mode:
            result["diff"] = [diff for host_result in hosts.values() for diff in host_result.pop("diff", [])]
        return result

    def failure(self, exc: BaseException, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """A missing library or an unusable run-wide argument fails the whole task, before any device."""
        raise AnsibleActionFail(str(exc)) from exc
