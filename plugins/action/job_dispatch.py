# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.job_dispatch: resolve a job type against the one job table.

Runs once on the controller before any device is contacted. The rules (exact messages for
unknown and retired types, parameter precedence, triggered_by / executed_by) live in
module_utils.jobs; this edge only reads the inputs and turns JobTypeError into a failure.

``job_parameters`` and the ``<job_type>_<parameter>`` overrides are read from the task's
variables as given, not templated here: a run_commands template is Jinja meant for each
device (rendered later, per device, in a sandbox), not for this controller-side task.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.plugins.action import ActionBase

from ansible_collections.netops.nautobot_backup.plugins.action.run_commands import raw_variable
from ansible_collections.netops.nautobot_backup.plugins.module_utils.jobs import (
    JobTypeError,
    known_types,
    load_table,
    merge_parameters,
    override_names,
    resolve,
    run_context,
)

ARGUMENT_SPEC: Dict[str, Any] = {
    "job_type": {"type": "str"},
    "job_types": {"type": "list", "elements": "dict", "required": True},
}


class ActionModule(ActionBase):
    """Validate the job type and return the job to run, its parameters, and who triggered it."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: Optional[str] = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Resolve the job, or fail with the job table's message."""
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        context = run_context(
            {key: self._templar.template(task_vars.get(key)) for key in ("awx_schedule_id", "awx_user_name")}
        )
        result.update(changed=False, job_type=args.get("job_type"), **context)
        try:
            table = load_table(args["job_types"])
            result["known_types"] = known_types(table)
            job = resolve(table, args.get("job_type"))
            job_parameters = raw_variable(self._task, task_vars, "job_parameters")
            names = override_names(job, job_parameters)
            overrides = {name: raw_variable(self._task, task_vars, name) for name in names}
            parameters = merge_parameters(job, job_parameters, overrides)
        except JobTypeError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        result.update(
            job_type=job.name,
            runner=job.runner,
            description=job.description,
            parameters=parameters,
            msg=f"job {job.name} ({job.description}), triggered by {context['triggered_by']}, "
            f"executed by {context['executed_by']}",
        )
        return result
