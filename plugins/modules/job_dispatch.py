#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of netops.nautobot_backup.job_dispatch (implemented by its action plugin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: job_dispatch
short_description: Resolve a job type against the job table, before any device is contacted
version_added: 0.1.0
description:
  - Looks O(job_type) up in the job table (C(playbooks/vars/job_types.yml)) and returns what runs it, its merged
    parameters and who triggered it. Used by C(playbooks/run_job.yml) in a first play on localhost.
  - "An unknown job type fails with C(Unknown job type: <type>) followed by the known job types. A retired type
    fails with C(<type> is not available in this version)."
  - Parameters are merged in this order, later wins - the type's C(defaults) from the table, the C(job_parameters)
    variable (a dict), then any variable named C(<job_type>_<parameter>) (extra vars, AWX survey answers) for a
    parameter the type declares or C(job_parameters) gives.
  - An unknown C(job_parameters) key, or an extra var named C(<job_type>_<parameter>) that is no parameter of the
    type, fails the task, naming the key and listing the known parameters. A type's parameters are its C(defaults),
    its table C(parameters), the C(<job_type>_<name>) inputs its roles declare (C(inputs) in the table, by default
    the runner's role), and for a type with a C(template_parameter) the C(job_parameters) keys its template reads.
  - C(job_parameters) and the overrides are taken as given, not templated, so Jinja in a run_commands template is
    rendered later, per device, in a sandbox.
  - RV(triggered_by) is C(schedule) when C(awx_schedule_id) is set, else C(manual). RV(executed_by) is
    C(awx_user_name), else the local user.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
  platform:
    platforms: posix
  idempotent:
    description: Never changes anything.
    support: full
options:
  job_type:
    description: The job type to run.
    type: str
  job_types:
    description:
      - The job table, a list of entries with C(name), C(runner) (C({role=<name>}) or C({playbook=<file>})),
        C(description), C(defaults), C(retired), C(inputs), C(parameters) and C(template_parameter).
    type: list
    elements: dict
    required: true
author:
  - Netops automation team (@netops)
"""

EXAMPLES = r"""
- name: Resolve the job
  netops.nautobot_backup.job_dispatch:
    job_type: "{{ job_type | default('') }}"
    job_types: "{{ nautobot_backup_job_types }}"
  register: job
"""

RETURN = r"""
job_type:
  description: The job type.
  returned: always
  type: str
  sample: check_queues
runner:
  description: What runs the job, C(role) or C(playbook) and its name.
  returned: success
  type: dict
  sample: {"role": "netops.nautobot_backup.check_queues"}
description:
  description: The job type's one-line description.
  returned: success
  type: str
parameters:
  description: The merged job parameters.
  returned: success
  type: dict
  sample: {"drop_threshold": 100}
known_types:
  description: The job types that can run.
  returned: when the table is valid
  type: list
  elements: str
  sample: ["backup", "check_queues", "run_commands"]
triggered_by:
  description: C(schedule) or C(manual).
  returned: always
  type: str
  sample: manual
executed_by:
  description: The AWX user, else the local user.
  returned: always
  type: str
  sample: admin
"""

# The options of the action plugin (plugins/action/job_dispatch.py), which validates the task's arguments with it.
ARGUMENT_SPEC = {
    "job_type": {"type": "str"},
    "job_types": {"type": "list", "elements": "dict", "required": True},
}
