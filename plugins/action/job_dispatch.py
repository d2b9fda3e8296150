# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for netops.nautobot_backup.job_dispatch: resolve a job type against the one job table.

Runs once on the controller before any device is contacted. The rules (exact messages for
unknown and retired types, parameter precedence, triggered_by / executed_by) live in
module_utils.jobs; this edge only reads the inputs and turns JobTypeError into a failure.

``job_parameters`` and the ``<job_type>_<parameter>`` overrides are read from the task's
variables as given, not templated here: a run_commands template is Jinja meant for each
device (rendered later, per device, in a sandbox), not for this controller-side task.

A type's known parameters include its roles' ``<job_type>_<name>`` inputs, read from their
``meta/argument_specs.yml`` in this collection, so a new role input is a parameter at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import yaml

from ansible_collections.netops.nautobot_backup.plugins.module_utils.jobs import (
    JobTypeError,
    check_parameters,
    known_parameters,
    known_types,
    load_table,
    merge_parameters,
    override_names,
    resolve,
    run_context,
)
from ansible_collections.netops.nautobot_backup.plugins.modules.job_dispatch import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction

COLLECTION = "netops.nautobot_backup"
ROLES = Path(__file__).resolve().parents[2] / "roles"


class ActionModule(EngineAction):
    """Validate the job type and return the job to run, its parameters, and who triggered it."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Resolve the job, or fail with the job table's message."""
        context = run_context({key: self._var(task_vars, key) for key in ("awx_schedule_id", "awx_user_name")})
        result: Dict[str, Any] = dict(changed=False, job_type=args.get("job_type"), **context)
        try:
            table = load_table(args["job_types"])
            result["known_types"] = known_types(table)
            job = resolve(table, args.get("job_type"))
            job_parameters = self._raw_var(task_vars, "job_parameters")
            names = override_names(job, job_parameters)
            overrides = {name: self._raw_var(task_vars, name) for name in names}
            parameters = merge_parameters(job, job_parameters, overrides)
            known = known_parameters(job, {role: role_inputs(role) for role in job.inputs})
            check_parameters(
                job,
                job_parameters,
                self._extra_var_names(),
                known,
                parameters.get(job.template_parameter) if job.template_parameter else None,
            )
        except JobTypeError as exc:
            # Failed with what was resolved before the error: job_type, known_types and the run context.
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

    def _extra_var_names(self) -> List[str]:
        """The names of the extra vars (and AWX survey answers) of the run."""
        task = self._task
        manager = task.get_variable_manager() if hasattr(task, "get_variable_manager") else None
        return [str(name) for name in (getattr(manager, "extra_vars", None) or {})]


def role_inputs(role: str) -> List[str]:
    """The variable names a role of this collection declares in its meta/argument_specs.yml (entry point main)."""
    namespace, _dot, name = role.rpartition(".")
    if namespace not in ("", COLLECTION):
        raise JobTypeError(f"{role}: a job type's inputs must be roles of {COLLECTION}")
    path = ROLES / name / "meta" / "argument_specs.yml"
    try:
        specs = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise JobTypeError(f"{role}: cannot read its argument specs ({exc})") from exc
    options = ((specs.get("argument_specs") or {}).get("main") or {}).get("options") or {}
    return sorted(options)
