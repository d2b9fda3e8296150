# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The job dispatcher's rules: one job-type table, its validation, parameters, and who ran the job.

There is exactly one table, so whether a job type exists never depends on load order:
``playbooks/vars/job_types.yml``, a list of entries ``{name, runner, description,
defaults, retired}``. ``load_table`` refuses a type listed twice or an entry without a
runner; ``resolve`` gives the exact messages for unknown and retired types; and
``merge_parameters`` applies the documented precedence: the type's defaults, then
``job_parameters``, then variables named ``<job_type>_<parameter>`` (extra vars, AWX survey
answers). ``check_parameters`` refuses a parameter the type does not know (a typo in
``job_parameters`` or in a ``<job_type>_<parameter>`` extra var) before any device is contacted.
``run_context`` says who triggered and ran the job, for every report.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError

RUNNER_KINDS = ("role", "playbook")
ENTRY_KEYS = ("name", "runner", "description", "defaults", "retired", "inputs", "parameters", "template_parameter")
# job_parameters.<key>, job_parameters["<key>"] or job_parameters.get("<key>") in a template.
_TEMPLATE_REFERENCE = re.compile(
    r"""\bjob_parameters\s*(?:\.\s*get\s*\(\s*['"]([^'"]+)['"]|\[\s*['"]([^'"]+)['"]\s*\]|\.\s*(\w+))"""
)


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
    # Roles whose <name>_<parameter> inputs are parameters of the type (default: the runner's role).
    inputs: List[str] = field(default_factory=list)
    # Parameters the runner reads itself, besides its defaults and its roles' inputs.
    parameters: List[str] = field(default_factory=list)
    # A parameter holding a Jinja template: the job_parameters keys it reads are parameters too.
    template_parameter: Optional[str] = None


def load_table(entries: Any) -> Dict[str, JobType]:
    """Validate the raw job table (a list of dicts) and return it keyed by job type, in table order."""
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise JobTypeError(f"the job table must be a list of job types, not {type(entries).__name__}")
    table: Dict[str, JobType] = {}
    for index, entry in enumerate(entries):
        where = f"job table entry {index + 1}"
        if not isinstance(entry, Mapping):
            raise JobTypeError(f"{where} must be a dict, not {type(entry).__name__}")
        unknown = sorted(set(entry) - set(ENTRY_KEYS))
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
        inputs = _names(entry.get("inputs"), f"job type '{name}': inputs")
        if not inputs and "role" in runner:
            inputs = [runner["role"]]
        parameters = _names(entry.get("parameters"), f"job type '{name}': parameters")
        template_parameter = entry.get("template_parameter")
        if template_parameter is not None and not isinstance(template_parameter, str):
            raise JobTypeError(f"job type '{name}': template_parameter must be a parameter name")
        table[name] = JobType(
            name, dict(runner), description.strip(), dict(defaults), retired, inputs, parameters, template_parameter
        )
    return table


def _names(value: Any, what: str) -> List[str]:
    """A list of names from the table (None: empty)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise JobTypeError(f"{what} must be a list of names")
    return list(value)


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


def template_references(template: Any) -> Set[str]:
    """The job_parameters keys a Jinja template reads (``job_parameters.key``, ``["key"]`` or ``.get("key")``)."""
    if not isinstance(template, str):
        return set()
    return {next(group for group in match.groups() if group) for match in _TEMPLATE_REFERENCE.finditer(template)}


def known_parameters(job: JobType, role_inputs: Mapping[str, Iterable[str]]) -> List[str]:
    """The parameters the type knows, sorted: its defaults, its own list, and its roles' ``<type>_<name>`` inputs.

    ``role_inputs`` maps each role of ``job.inputs`` to the variable names its argument spec declares.
    """
    prefix = f"{job.name}_"
    names = set(job.defaults) | set(job.parameters)
    for role in job.inputs:
        names.update(option[len(prefix):] for option in role_inputs.get(role, ()) if option.startswith(prefix))
    names.discard("")
    return sorted(names)


def check_parameters(
    job: JobType,
    job_parameters: Optional[Mapping[str, Any]],
    extra_vars: Iterable[str],
    known: Sequence[str],
    template: Any = None,
) -> None:
    """Refuse a job_parameters key, or an extra var named ``<job_type>_<name>``, that is no parameter of the type.

    ``known`` comes from ``known_parameters``; a job_parameters key that the type's template reads
    (``template``, the merged value of ``job.template_parameter``) counts as known, since the template uses it.
    The message names every unknown key and lists the known parameters.
    """
    allowed = set(known)
    problems: List[str] = []
    if isinstance(job_parameters, Mapping):
        referenced = template_references(template) if job.template_parameter else set()
        problems += [
            f"job_parameters key '{key}'"
            for key in job_parameters
            if str(key) not in allowed and str(key) not in referenced
        ]
    prefix = f"{job.name}_"
    problems += [
        f"extra var '{name}'"
        for name in sorted(extra_vars)
        if name.startswith(prefix) and name[len(prefix):] not in allowed
    ]
    if problems:
        hint = " (or read by the template as job_parameters.<key>)" if job.template_parameter else ""
        raise JobTypeError(
            f"job type {job.name} has no such parameter: {', '.join(problems)}. "
            f"Known parameters{hint}: {', '.join(known)}"
        )


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
