#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of netops.nautobot_backup.host_status (implemented by its action plugin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: host_status
short_description: Give a host its own ok, changed or failed status in the PLAY RECAP and AWX's host summary
version_added: 0.1.0
description:
  - Reports the host as ok, changed or failed, nothing else. It contacts nothing and writes nothing. Use it after
    a run-once task that did the work of many hosts, such as
    M(netops.nautobot_backup.device_config_backup_batch), so that every host appears in the PLAY RECAP and in
    AWX's host summary with its own status.
  - Give the status with O(status), or with O(statuses_var), the name of a variable that maps host names to
    statuses. A host missing from that mapping is C(ok).
  - C(failed) fails the task for the host with O(msg).
  - "Run under the collection's strategy P(netops.nautobot_backup.batch#strategy), this task is answered in the
    controller process without starting a worker per host. That costs well under a millisecond of controller CPU
    per host instead of tens of milliseconds. C(playbooks/backup.yml) runs under it. Under any other strategy the
    task works the same way but starts one worker per host, as every Ansible task does."
  - O(statuses_var) names the variable instead of taking its value. Templating a fleet-sized dict for each host
    would cost time in proportion to the fleet for every host.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: It only reports a status, so check mode gives the same result.
  connection:
    support: none
  delegation:
    support: none
    details: It never connects. A delegated task reports the status of the host it runs for.
  diff_mode:
    support: none
  idempotent:
    description: Changed when, and only when, the status it reports is C(changed).
    support: N/A
  platform:
    support: full
    platforms: all
options:
  status:
    description:
      - The host's status.
      - Mutually exclusive with O(statuses_var); one of them is required.
    type: str
    choices: [ok, changed, failed]
  statuses_var:
    description:
      - The name of a variable that holds a dict of host name to status (C(ok), C(changed) or C(failed)). The host's
        status is its entry, or C(ok) when the dict has none.
      - The variable is read as it is, not templated.
      - Mutually exclusive with O(status); one of them is required.
    type: str
  msg:
    description: The message of a C(failed) status.
    type: str
    default: failed
notes:
  - The per-host results are the ones any task gives, so C(register), C(ignore_errors) and callbacks work as usual.
    Under the collection's strategy, tasks with C(loop), C(until), C(changed_when), C(failed_when), C(notify) or
    C(async) run in a worker as usual.
  - Under the collection's strategy a task is answered for all its hosts at once, with the variables of the first
    host only, when nothing it reads can differ between hosts. Its arguments hold no template, C(no_log) is a plain
    value, C(run_once) is a plain value or one variable in a template (optionally with C(| default(true)) or
    C(| default(false))), and its C(when) is bare variable names only.
    Each of those variables and O(statuses_var) must be one fact set once for every host (C(set_fact) with
    C(run_once)) or an extra var that holds no template. Otherwise each host is answered with its own variables,
    as under C(ansible.builtin.linear).
seealso:
  - plugin: netops.nautobot_backup.batch
    plugin_type: strategy
author:
  - Netops automation team (@netops)
"""

EXAMPLES = r"""
- name: Back up all devices in one task
  netops.nautobot_backup.device_config_backup_batch:
    repo_dir: /srv/backups/configs
    timestamp: "20261207_020000"
  run_once: true
  register: backup_batch

- name: Sum up the changed devices once
  ansible.builtin.set_fact:
    backup_host_statuses: >-
      {{ dict(backup_batch.changed_hosts | zip(['changed'] * (backup_batch.changed_hosts | length))) }}
  run_once: true

- name: Give each device its own status in the host summary (answered for all devices at once, see the notes)
  netops.nautobot_backup.host_status:
    statuses_var: backup_host_statuses

- name: Fail a device with its own message
  netops.nautobot_backup.host_status:
    status: failed
    msg: "{{ backup_failure }}"
"""

RETURN = r"""
status:
  description: The status reported for the host.
  returned: always
  type: str
  sample: changed
"""

# The options of the action plugin (plugins/action/host_status.py), which validates the task's arguments with it.
ARGUMENT_SPEC = {
    "status": {"type": "str", "choices": ["ok", "changed", "failed"]},
    "statuses_var": {"type": "str"},
    "msg": {"type": "str", "default": "failed"},
}
MUTUALLY_EXCLUSIVE = [["status", "statuses_var"]]
