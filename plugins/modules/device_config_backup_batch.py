#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of netops.nautobot_backup.device_config_backup_batch (implemented by its action plugin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: device_config_backup_batch
short_description: Back up every host of the play batch at once, in a thread pool on the controller
version_added: 0.1.0
description:
  - Does for every host of C(ansible_play_batch) exactly what M(netops.nautobot_backup.device_config_backup) does
    for one host (fetch, clean, validate, atomic write, same files, same per-device result), but from B(one)
    Ansible worker process that backs the devices up in a pool of O(workers) threads (shared out over O(processes)
    forked processes when there are many devices). At hundreds of devices this
    avoids Ansible's per-host cost (a forked worker, variables and a result per host), which is larger than the
    backup itself; see R(the performance guide,ansible_collections.netops.nautobot_backup.docsite.performance).
  - B(Run it once.) The action bypasses the host loop, so the task runs for the first host of the batch only.
    Give it C(run_once) so that C(register) sets the result on every host of the batch. C(when) is evaluated
    once, for the first host; select devices with C(hosts), C(--limit) or groups instead. C(forks), C(throttle)
    and C(strategy) have no effect on the backup concurrency (use O(workers)); the C(free) strategy refuses
    the task.
  - B(Per-host data comes from hostvars), templated in each host's own context, exactly as the per-host module
    reads it (C(ansible_host), C(ansible_port), C(ansible_user), C(ansible_password), C(ansible_become_password),
    C(ansible_ssh_private_key_file), C(netmiko_device_type), C(ansible_network_os), the C(nautobot) facts,
    C(nautobot_id) and C(nautobot_backup_commands)). The path templates are rendered per device with that
    device's facts. The per-host options C(facts) and C(device_name) of the per-host module do not exist here.
  - B(Device failures are data), not task failures. RV(hosts) holds every device's result, RV(failed_hosts)
    names the failed ones; the task itself fails only on invalid arguments or a missing Python library. To make
    the failed devices failed hosts in the play recap (and the exit code non-zero), add them to a group with
    C(ansible.builtin.add_host) and fail that group in a following play, as C(playbooks/backup.yml) does.
  - As each device finishes, a line "[i/N] device ok (changed)" or "[i/N] device failed (class) error" is
    printed (see O(progress)). About every O(progress_interval) seconds a line with the devices done out of the
    total, the rate, the estimated time left and the running counts is printed too, so a run of thousands of
    devices can be followed without reading every C([i/N]) line.
extends_documentation_fragment:
  - netops.nautobot_backup.backup_options
  - netops.nautobot_backup.host_keys
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  check_mode:
    support: full
    details: Fetches and validates every device, reports what would change, writes nothing.
  diff_mode:
    support: full
    details:
      - All devices' diffs are returned in one list; each header names the file. The content is shown only when
        O(show_diff) or O(sanitize) is true (sanitized then); otherwise each changed file is only named.
  platform:
    platforms: posix
  idempotent:
    description: A second run against unchanged devices writes nothing and returns C(changed=false).
    support: full
  bypass_host_loop:
    support: full
    details: Runs once for the whole play batch; register it with C(run_once).
options:
  workers:
    description:
      - Number of devices backed up at the same time, in all (threads, shared out over O(processes)).
    type: int
    default: 50
  processes:
    description:
      - Number of processes the devices are dealt to (round-robin), each with its own pool of
        O(workers) / O(processes) threads (rounded down, at least one). One Python process uses one CPU core at
        most, and SSH key exchange and output handling are CPU work, so at hundreds of devices a second core
        shortens the backup (500 lab devices on 2 cores without Ansible took 5.0 s with one process, 4.3 s with
        two).
      - V(0) picks one per usable CPU core, at most 8, and at most one per 50 devices (so below 100 devices
        everything runs in the Ansible worker itself). Usable cores are those the process may run on, capped by
        its cgroup CPU quota (a container's or Kubernetes pod's CPU limit). V(1) never forks.
      - A SIGTERM or SIGINT to C(ansible-playbook) stops the forked processes within seconds (no new SSH session,
        no temporary file left); see R(the AWX guide,ansible_collections.netops.nautobot_backup.docsite.awx).
      - The processes are forked from the Ansible worker and return each device's result over a pipe as JSON.
        If one of them dies, only its unreported devices fail (class C(other)); the others keep their results.
        A device whose file was written just before its process died is reported failed all the same; its file is
        not committed by this run, and the next run commits it.
    type: int
    default: 0
  progress:
    description: Print one C([i/N] device ...) progress line as each device finishes.
    type: bool
    default: true
  progress_interval:
    description:
      - 'Seconds between two periodic progress lines, such as
        "progress: 120/500 devices in 40s, 3.0 devices/s, ETA 2m07s; 115 ok (5 changed), 5 failed".'
      - The line is printed as a device finishes, once the interval has passed since the previous one (no line
        while no device finishes). The rate is per minute below one device a second.
      - V(0) turns the periodic line off. It does not depend on O(progress).
    type: float
    default: 10
seealso:
  - module: netops.nautobot_backup.device_config_backup
  - module: netops.nautobot_backup.backup_path
author:
  - Netops automation team (@netops)
"""

EXAMPLES = r"""
- name: Back up every device of the play in one task
  netops.nautobot_backup.device_config_backup_batch:
    repo_dir: /var/lib/backups/configs
    running_path_template: "{location.name}/{device_name}.running-config"
    timestamp: "{{ backup_run_timestamp }}"
    workers: 50
  run_once: true
  register: backup_batch

- name: Make the failed devices failed hosts (a following play fails the group)
  ansible.builtin.add_host:
    name: "{{ item }}"
    groups: backup_failed
    backup_failure: "{{ backup_batch.hosts[item].msg }}"
  loop: "{{ backup_batch.failed_hosts }}"
  changed_when: false
"""

RETURN = r"""
hosts:
  description:
    - Every device's result, by inventory host name, in the order of the play batch. Each value has the same
      fields as the result of M(netops.nautobot_backup.device_config_backup) (the C(DeviceBackupInfo) fields,
      C(changed), C(msg), and C(failed=true) for a failed device), without C(diff).
  returned: always
  type: dict
  sample:
    r1:
      device_name: r1
      running_config_success: true
      running_config_file: backups/r1.running-config
      host_key_file: .known_hosts/r1
      changed: false
      msg: running config unchanged
      error: null
      error_class: null
failed_hosts:
  description: Names of the devices whose backup failed.
  returned: always
  type: list
  elements: str
changed_hosts:
  description: Names of the devices whose files changed (or would change, in check mode).
  returned: always
  type: list
  elements: str
changed:
  description: Whether any device's files changed.
  returned: always
  type: bool
msg:
  description: Counts of devices, changed and failed.
  returned: always
  type: str
  sample: "500 device(s): 498 ok (3 changed), 2 failed"
elapsed:
  description: Seconds spent reading the hosts' variables (C(requests)) and backing the devices up (C(backup)).
  returned: always
  type: dict
  sample: {"requests": 0.3, "backup": 4.8}
diff:
  description: In diff mode, the diffs of every changed file.
  returned: in diff mode
  type: list
  elements: dict
"""

# This module's own options; the action plugin (plugins/action/device_config_backup_batch.py) adds those of its
# doc fragments.
ARGUMENT_SPEC = {
    "workers": {"type": "int", "default": 50},
    "processes": {"type": "int", "default": 0},
    "progress": {"type": "bool", "default": True},
    "progress_interval": {"type": "float", "default": 10},
}
