#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of netops.nautobot_backup.backup_report (implemented by its action plugin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_report
short_description: Assemble a backup run's result, write the JSON report and summarise it
version_added: 0.1.0
description:
  - Collects every host's registered C(device_config_backup) result and the outcomes of the publish and write-back
    steps into one run result. The JSON report file (RV(report)) holds every device's full record; the job
    artifact (RV(artifact), published with O(stats_key)) and the summary (RV(summary)) are built from it and stay
    small whatever the fleet size.
  - RV(success) is false when any device failed or the push failed. With O(fail_on_error) the task then
    fails, so the play's exit code says so.
  - C(triggered_by) is C(schedule) when AWX's C(awx_schedule_id) is set, else C(manual). C(executed_by) is
    C(awx_user_name), else the local user.
  - Runs on the controller; use it with C(run_once).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Builds and writes the report in check mode too, since it changes no device and no repository.
  diff_mode:
    support: none
  platform:
    platforms: posix
  idempotent:
    description: The report is rewritten only when its content changes; the task never reports C(changed).
    support: full
options:
  hosts:
    description: Hosts whose results to collect. Defaults to C(ansible_play_hosts_all).
    type: list
    elements: str
  result_var:
    description:
      - Name of the variable each host registered its C(device_config_backup) result in.
      - Ignored when O(results) is given.
    type: str
    default: backup_result
  results:
    description:
      - Every host's result in one dict, by inventory host name, e.g. the C(hosts) result of
        M(netops.nautobot_backup.device_config_backup_batch) or the C(backup_results) fact of the
        C(backup_devices) role. A host of O(hosts) missing from it counts as a failed device.
      - When unset, each host's O(result_var) is read from C(hostvars).
    type: dict
  git_status:
    description: C(git_status) returned by C(git_commit_push).
    type: dict
  git_commit_status:
    description: C(git_commit_status) returned by C(git_commit_push).
    type: dict
  timestamp_update_status:
    description: C(timestamp_update_status) returned by C(nautobot_backup_status).
    type: dict
  credential_info:
    description: Which credential was used (C(credential_id), C(credential_name), C(username)). Never a password.
    type: dict
  repository:
    description: Repository URL or name for the report (without credentials).
    type: str
  commit_date:
    description: The run's timestamp.
    type: str
  run_id:
    description: The run's ID, the C(Run-Id) trailer of its commit, so a report and a commit can be matched.
    type: str
  report_path:
    description: Where to write the JSON report. Nothing is written when unset.
    type: path
  file_mode:
    description:
      - Mode of the JSON report, as a quoted octal string. The report names every device and its error, so it is
        private by default; V(0640) lets the user's group read it. Modes that give other users access are refused.
    type: raw
    default: "0600"
  fail_on_error:
    description: Fail the task when the run did not succeed.
    type: bool
    default: true
  stats_key:
    description:
      - Also publish the lean RV(artifact) (not the full report) as this custom stat, exactly as
        C(ansible.builtin.set_stats) with C(per_host=false) would (the play recap with C(show_custom_stats), and the
        job artifacts of AWX / ansible-runner).
      - Saves a separate C(set_stats) task that would pass the result through templating once more.
    type: str
seealso:
  - module: netops.nautobot_backup.device_config_backup
author:
  - Netops automation team (@netops)
"""

EXAMPLES = r"""
- name: Report the run
  netops.nautobot_backup.backup_report:
    git_commit_status: "{{ publish.git_commit_status }}"
    report_path: /var/tmp/backup-report.json
  run_once: true
  register: backup_run
"""

RETURN = r"""
report:
  description:
    - The full run result, as written to O(report_path) (success, devices_backed_up, devices_failed,
      backed_up_devices and failed_devices with every device's full record, git_status, git_commit_status,
      credential_info, timestamp_update_status, repository, commit_date, triggered_by, executed_by, run_id).
  returned: always
  type: dict
artifact:
  description:
    - The lean run result published with O(stats_key) (the AWX job artifact C(backup_run)). Its size does not grow
      with the number of devices backed up, only with the names it lists, and those lists are bounded.
    - Every message is cut to 200 characters; like the report, it never holds a secret.
  returned: always
  type: dict
  contains:
    success:
      description: Whether every device was backed up and the push succeeded.
      type: bool
    counts:
      description:
        - C(devices), C(ok) (backed up, unchanged), C(changed) (backed up, changed), C(failed), and
          C(failed_by_class) (failure class to count, largest first).
      type: dict
      sample: {devices: 500, ok: 470, changed: 20, failed: 10, failed_by_class: {auth_failed: 6, unreachable: 4}}
    failed:
      description: The first 25 failed devices (by host name), each with C(device), C(error_class) and C(error).
      type: list
      elements: dict
      sample: [{device: ios-r9, error_class: auth_failed, error: "authentication failed for netops"}]
    failed_more:
      description: How many more devices failed than RV(artifact.failed) lists (they are in the report file).
      type: int
    changed:
      description: Names of the first 200 devices whose configuration changed (by host name).
      type: list
      elements: str
    changed_more:
      description: How many more devices changed than RV(artifact.changed) lists (they are in the report file).
      type: int
    git:
      description: C(commit) (the new commit's hash, or null), C(pushed), C(files_changed) and C(error).
      type: dict
    writeback:
      description: C(enabled), C(updated) and C(failed) counts of the Nautobot write-back, and its first 5 C(errors).
      type: dict
    report_path:
      description: Where the JSON report file with every device's full record was written (O(report_path)).
      type: str
    repository:
      description: O(repository).
      type: str
    timestamp:
      description: The run's timestamp (O(commit_date)).
      type: str
summary:
  description:
    - Human summary, at most 25 lines at any fleet size - counts (ok, changed, failed) and failed counts per class;
      the failed devices with their class and the changed devices, each list cut with C(+N more (see report));
      the commit and push; the Nautobot write-back counts; the report file.
  returned: always
  type: list
  elements: str
success:
  description: Whether every device was backed up and the push succeeded.
  returned: always
  type: bool
failed_hosts:
  description:
    - Host name to the error class and message of every failed device, to make exactly those hosts fail
      (C(ansible.builtin.add_host) into a group, then a play that fails the group).
  returned: always
  type: dict
  sample:
    ios-r9: "auth_failed: authentication failed for netops"
push_failed:
  description: Whether the commit or push step failed (a run-level failure, not one device's).
  returned: always
  type: bool
"""

# The options of the action plugin (plugins/action/backup_report.py), which validates the task's arguments with it.
ARGUMENT_SPEC = {
    "hosts": {"type": "list", "elements": "str"},
    "result_var": {"type": "str", "default": "backup_result"},
    "results": {"type": "dict"},
    "git_status": {"type": "dict"},
    "git_commit_status": {"type": "dict"},
    "timestamp_update_status": {"type": "dict"},
    "credential_info": {"type": "dict"},
    "repository": {"type": "str"},
    "commit_date": {"type": "str"},
    "run_id": {"type": "str"},
    "report_path": {"type": "path"},
    "file_mode": {"type": "raw", "default": "0600"},
    "fail_on_error": {"type": "bool", "default": True},
    "stats_key": {"type": "str"},
}
