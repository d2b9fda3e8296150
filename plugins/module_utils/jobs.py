# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The job dispatcher's rules: one job-type table, its validation, parameters, and who ran the job.

There is exactly one table, so whether a job type exists never depends on load order:
``playbooks/vars/job_types.yml``, a list of entries ``{name, runner, description,
defaults, retired}``. ``load_table`` refuses a type listed twice or an entry without a
runner; ``resolve`` gives the exact messages for unknown and retired types; and
``merge_parameters`` applies the documented precedence: the type's defaults, then
``job_parameters``, then variables named ``<job_type>_<parameter>`` (extra vars, AWX survey
answers). ``run_context`` says who triggered and ran the job, for every report.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError

RUNNER_KINDS = ("role", "playbook")


class JobTypeError(NautobotBackupError):
    """The job type is unknown or retired, or the job table or parameters are invalid."""


@dataclass(frozen=True)
class JobType:
    """One entry of the job table."""

    name: str
    runner: Dict[str, str]
    description: str
    defaults: Dict[str, Any] = field(default_factory=dict)
    retired: bool = False


def load_table(entries: Any) -> Dict[str, JobType]:
    """Validate the raw job table (a list of dicts) and return it keyed by job type, in table order."""
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise JobTypeError(f"the job table must be a list of job types, not {type(entries).__name__}")
    table: Dict[str, JobType] = {}
    for index, entry in enumerate(entries):
        where = f"job table entry {index + 1}"
        if not isinstance(entry, Mapping):
            raise JobTypeError(f"{where} must be a dict, not {type(entry).__name__}")
        unknown = sorted(set(entry) - {"name", "runner", "description", "defaults", "retired"})
        if unknown:
            raise JobTypeError(f"{where} has unknown keys: {', '.join(unknown)}")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise JobTypeError(f"{where} has no name")
        if name in table:
            raise JobTypeError(f"job type '{name}' is listed twice in the job table")
        retired = entry.get("retired", False)
        if not isinstance(retired, bool):
            raise JobTypeError(f"job type '{name}': retired must be true or false")
        runner = entry.get("runner") or {}
        if not retired and (
            not isinstance(runner, Mapping)
            or len(runner) != 1
            or next(iter(runner)) not in RUNNER_KINDS
            or not isinstance(next(iter(runner.values())), str)
        ):
            raise JobTypeError(f"job type '{name}' needs a runner: {{role: <name>}} or {{playbook: <file>}}")
        defaults = entry.get("defaults")
        defaults = {} if defaults is None else defaults
        if not isinstance(defaults, Mapping):
            raise JobTypeError(f"job type '{name}': defaults must be a dict")
        description = entry.get("description")
        if not isinstance(description, str) or not description.strip():
            raise JobTypeError(f"job type '{name}' needs a one-line description")
        table[name] = JobType(name, dict(runner), description.strip(), dict(defaults), retired)
    return table


def known_types(table: Mapping[str, JobType]) -> List[str]:
    """The job types that can run (not retired), sorted."""
    return sorted(name for name, job in table.items() if not job.retired)


def resolve(table: Mapping[str, JobType], job_type: Any) -> JobType:
    """Return the table entry for job_type, or raise JobTypeError with the user-facing message."""
    name = "" if job_type is None else str(job_type).strip()
    job = table.get(name)
    if job is None:
        known = ", ".join(known_types(table))
        raise JobTypeError(f"Unknown job type: {name or '(none given)'}. Known job types: {known}")
    if job.retired:
        raise JobTypeError(f"{name} is not available in this version")
    return job


def merge_parameters(
    job: JobType, job_parameters: Optional[Mapping[str, Any]], variables: Mapping[str, Any]
) -> Dict[str, Any]:
    """Merge defaults < job_parameters < variables named ``<job_type>_<parameter>``.

    Only parameters the type declares (its defaults) or that job_parameters gives can be
    overridden, so an unrelated variable never leaks into a job.
    """
    if job_parameters is None:
        job_parameters = {}
    if not isinstance(job_parameters, Mapping):
        raise JobTypeError(f"job_parameters must be a dict, not {type(job_parameters).__name__}")
    merged: Dict[str, Any] = {**job.defaults, **job_parameters}
    for key in list(merged):
        override = f"{job.name}_{key}"
        if override in variables and variables[override] is not None:
            merged[key] = variables[override]
    return merged


def override_names(job: JobType, job_parameters: Optional[Mapping[str, Any]]) -> List[str]:
    """The variable names that may override this job's parameters (``<job_type>_<parameter>``)."""
    keys = list(job.defaults) + [key for key in (job_parameters or {}) if key not in job.defaults]
    return [f"{job.name}_{key}" for key in keys]


def local_user() -> str:
    """The user running the playbook on the controller."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def run_context(variables: Mapping[str, Any]) -> Dict[str, str]:
    """Return triggered_by (schedule when AWX's awx_schedule_id is set, else manual) and executed_by."""
    return {
        "triggered_by": "schedule" if variables.get("awx_schedule_id") else "manual",
        "executed_by": str(variables.get("awx_user_name") or local_user()),
    }
