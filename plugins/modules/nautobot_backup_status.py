#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of netops.nautobot_backup.nautobot_backup_status (implemented by its action plugin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nautobot_backup_status
short_description: Write the backup status of every device a run tried back to Nautobot custom fields
version_added: 0.1.0
description:
  - Writes up to six custom fields of C(dcim.device) on every device in O(devices), so that a Nautobot user sees
    from the device list which devices back up, which fail, since when and why, and which have unsaved changes.
  - C(last_backup) (date) - the run's date, only on devices whose backup is B(durable), that is whose running
    configuration was backed up (C(running_config_success) true and no C(error)) B(and) whose backup reached the
    Git remote (O(pushed) true).
  - C(last_backup_attempt) (date) - the run's date, on every device the run tried.
  - C(last_backup_status) (select C(ok)/C(failed), or text) - C(ok) when the backup is durable, else C(failed).
  - "C(last_backup_error) (text) - C(<class>: <message>) of a failed device, the message's first line only, at most
    200 characters, never configuration text; null when ok. A device that was backed up but whose backup did not
    reach the remote (O(pushed) false) gets the class C(push) and O(push_error)."
  - C(config_unsaved) (boolean) - the running configuration differs from the startup configuration (C(unsaved_changes)
    of the backup); null when startup could not be read or the backup failed.
  - C(last_config_change) (date) - the run's date on durable devices whose configuration changed (C(changed)); with
    O(repo_dir), an empty one is filled from Git's history.
  - Every status can be given another key or turned off with O(status_fields). The playbook
    C(playbooks/create_status_fields.yml) (module M(netops.nautobot_backup.nautobot_custom_fields)) creates them.
  - Runs on the controller through its action plugin; it does not connect to the task's host. Run it once per
    play (C(run_once) true) with the results of every device in O(devices).
  - B(The fields are checked first.) Nautobot silently ignores unknown custom field keys in an update, so every
    mapped field must exist on C(dcim.device) with a type its value fits; a missing or unfit field is an error that
    names all of them and lists the device custom fields that do exist. Dates follow the field's type. C(date) gets
    C(YYYY-MM-DD), C(text) and C(markdown) get ISO 8601 in UTC (C(2026-11-24T02:00:00+00:00)).
  - B(No needless writes.) Current values are read in bulk (GraphQL, 500 devices per query, or O(batch_size) when
    larger), and only the values that differ are sent, with bulk C(PATCH /api/dcim/devices/), O(batch_size)
    devices per request. A rerun on the same day writes nothing.
  - B(Failures are reported, not raised.) The write-back runs after the publish step, so a Nautobot problem
    (unreachable, timeout, token refused, HTTP 5xx, a missing field, a failed batch) never fails the task. It is
    listed in RV(timestamp_update_status.errors) (naming the devices and the Nautobot URL, never the token),
    counted in RV(timestamp_update_status.failed_count) and shown as a warning. A failed batch does not stop the
    other batches. Only invalid arguments (a bad O(timestamp), O(batch_size) below 1, O(concurrency) outside 1 to
    8, a bad O(status_fields)) fail the task.
  - With O(validate_only), only check that Nautobot answers, that every mapped field exists with a fitting type and
    that the token may change devices (an empty bulk update, which writes nothing), and B(fail) the task otherwise.
    Use it as a pre-flight check before any device is contacted.
  - The token needs view permission on C(extras.customfield), C(extras.customfieldchoice) and C(dcim.device), and
    change permission on C(dcim.device).
extends_documentation_fragment:
  - netops.nautobot_backup.nautobot
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Checks the fields and reads current values; reports what would be written and writes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
  idempotent:
    description: A rerun with the same device results and the same O(timestamp) (or, for C(date) fields, on the same
      day) writes nothing and returns C(changed=false).
    support: full
options:
  status_fields:
    description:
      - Status name to custom field key. The statuses are C(last_backup), C(last_backup_attempt),
        C(last_backup_status), C(last_backup_error), C(config_unsaved) and C(last_config_change). Each is written
        into the field of its own name unless given another key here.
      - An empty or null key turns that status off (an empty C(last_backup_error) writes no error). Only the statuses
        named here change. To write nothing but C(last_backup), turn the five others off.
    type: dict
  custom_field:
    description:
      - Key of the field of the C(last_backup) status (the older way of renaming it; O(status_fields) wins).
    type: str
    default: last_backup
  devices:
    description:
      - Results of the backup step, one dict per device, as returned by
        M(netops.nautobot_backup.device_config_backup) (the C(DeviceBackupInfo) fields).
      - Each needs C(device_id) (the Nautobot id), C(device_name) and C(running_config_success); C(error) and
        C(error_class) mark a failed device; C(unsaved_changes) and C(changed) feed C(config_unsaved) and
        C(last_config_change). Other keys are ignored. Devices without a C(device_id) are reported as failed.
    type: list
    elements: dict
    default: []
  pushed:
    description:
      - Whether the publish step succeeded, that is the backup was pushed or was already in the remote.
      - If false, no device gets C(last_backup) or C(last_config_change), and the backed-up devices get
        C(failed) with class C(push).
    type: bool
    default: false
  push_error:
    description:
      - Why the publish step failed (its C(git_commit_status.error)), for C(last_backup_error) when O(pushed) is
        false. Only its first line is written.
    type: str
  repo_dir:
    description:
      - The backup checkout. When given, a durable device whose configuration did not change in this run and whose
        C(last_config_change) is still empty (the field was created after its last change) gets the date of the
        last commit that changed its configuration files, from one C(git log) walk over the checkout's history.
    type: path
  timestamp:
    description:
      - The run's time, as an ISO 8601 string (C(2026-11-24T02:00:00Z)), a C(YYYYMMDD_HHMMSS) stamp (UTC) or the
        C({date, timestamp}) dict returned by M(netops.nautobot_backup.backup_path). Times are converted to UTC.
      - Pass the same value as the backup step, so that Nautobot shows the run's date. Defaults to now.
    type: raw
  batch_size:
    description:
      - Devices per bulk C(PATCH) request, and per GraphQL read of the current values when above 500 (reads are
        cheap, so they take at least 500 devices per query).
      - Nautobot applies a bulk update one device at a time (about 5 to 8 devices per second measured on a busy
        2-core test bed), so a request of 50 devices takes seconds, while one of 200 could outlast the default
        C(timeout) of 30 s. Raise O(timeout) before raising this.
    type: int
    default: 50
  concurrency:
    description:
      - Bulk C(PATCH) requests in flight at once (1 to 8), each of O(batch_size) devices. The reads stay one at a
        time. A failed request fails only its own devices; the result is the same as with one request at a time.
      - One request applies its devices one after the other in one Nautobot worker, which uses at most one core.
        More requests help only when Nautobot has free workers B(and) free cores; otherwise they queue there and each
        takes longer (mind O(timeout)). On the busy 2-core test bed 2 requests gave a median 1.12 times the updates
        per second of one (five rounds, 0.74 to 3.25 as the other work on the machine came and went), and 4 requests
        of 50 devices timed out at the default O(timeout). Raise it for a Nautobot with cores to spare.
    type: int
    default: 1
  validate_only:
    description:
      - Only check that Nautobot answers, that every mapped field exists on C(dcim.device) with a fitting type, and
        that the token may change devices (with an empty bulk update, which writes nothing); fail the task
        otherwise. O(devices) and O(pushed) are ignored.
    type: bool
    default: false
notes:
  - The module belongs to the C(netops.nautobot_backup.nautobot) action group, so the connection options can be
    set once with C(module_defaults) and C(group/netops.nautobot_backup.nautobot).
  - The R(write-back guide,ansible_collections.netops.nautobot_backup.docsite.writeback) shows what a Nautobot user
    sees and how to filter failing devices in the device list.
seealso:
  - module: netops.nautobot_backup.nautobot_custom_fields
  - module: netops.nautobot_backup.device_config_backup
  - module: netops.nautobot_backup.backup_path
author:
  - Netops automation team (@netops)
"""

EXAMPLES = r"""
- name: Pre-flight, before any device is contacted
  netops.nautobot_backup.nautobot_backup_status:
    url: https://nautobot.example.com
    validate_only: true
  run_once: true

- name: Write the status of every device the run tried
  netops.nautobot_backup.nautobot_backup_status:
    url: https://nautobot.example.com
    devices: "{{ ansible_play_hosts_all | map('extract', hostvars, 'backup') | list }}"
    pushed: "{{ publish.git_commit_status.error is none }}"
    push_error: "{{ publish.git_commit_status.error }}"
    timestamp: "{{ backup_run_timestamp }}"
  run_once: true
  register: writeback

- name: Only the date of the last backup, into a text field, with module_defaults for the connection
  netops.nautobot_backup.nautobot_backup_status:
    status_fields:
      last_backup: last_backup_iso
      last_backup_attempt: ""
      last_backup_status: ""
      last_backup_error: ""
      config_unsaved: ""
      last_config_change: ""
    devices: "{{ device_results }}"
    pushed: true
  run_once: true
  module_defaults:
    group/netops.nautobot_backup.nautobot:
      url: https://nautobot.example.com
      timeout: 60
"""

RETURN = r"""
timestamp_update_status:
  description: Outcome of the write-back, as in the run report.
  returned: always
  type: dict
  contains:
    enabled:
      description: Always true when the module ran.
      type: bool
    custom_field_name:
      description: The custom field of the C(last_backup) status (null when it is off).
      type: str
      sample: last_backup
    updated_count:
      description: Devices with at least one value written (in check mode, that would be written).
      type: int
    failed_count:
      description: Devices whose status could not be written (Nautobot failure, not found, no device id).
      type: int
    errors:
      description:
        - What went wrong, one entry per failed step or batch, naming the devices and the Nautobot URL.
        - When O(pushed) is false, one entry that says why no device got C(last_backup).
      type: list
      elements: str
status_fields:
  description: Status name to custom field key, for the statuses that are on.
  returned: always
  type: dict
  sample: {"last_backup": "last_backup", "last_backup_status": "last_backup_status"}
custom_field:
  description: The custom field of the C(last_backup) status as found in Nautobot.
  returned: when the fields were checked and last_backup is on
  type: dict
  sample: {"key": "last_backup", "type": "date", "label": "Last backup"}
value:
  description: The run's date as written into the C(last_backup) field.
  returned: when the fields were checked and last_backup is on
  type: str
  sample: "2026-11-24"
updated_devices:
  description: Names of the devices with at least one value written (in check mode, that would be written).
  returned: unless validate_only
  type: list
  elements: str
skipped_devices:
  description: Names of devices skipped because Nautobot already holds every value.
  returned: unless validate_only
  type: list
  elements: str
failed_devices:
  description: Names of devices whose status could not be written.
  returned: unless validate_only
  type: list
  elements: str
not_durable_devices:
  description: Names of devices that did not get C(last_backup) because their backup failed or was not pushed.
  returned: unless validate_only
  type: list
  elements: str
values_written:
  description: Custom field key to the number of devices that got a new value of it.
  returned: unless validate_only
  type: dict
  sample: {"last_backup": 3, "last_backup_attempt": 5, "last_backup_status": 0}
patch_requests:
  description: Number of bulk PATCH requests sent.
  returned: unless validate_only
  type: int
msg:
  description: A one-line summary.
  returned: always
  type: str
"""

# This module's own options (literals only: a module file that is documentation and data needs no AnsibleModule);
# the action plugin (plugins/action/nautobot_backup_status.py) adds those of the netops.nautobot_backup.nautobot
# doc fragment.
ARGUMENT_SPEC = {
    "status_fields": {"type": "dict"},
    "custom_field": {"type": "str", "default": "last_backup"},
    "devices": {"type": "list", "elements": "dict", "default": []},
    "pushed": {"type": "bool", "default": False},
    "push_error": {"type": "str"},
    "repo_dir": {"type": "path"},
    "timestamp": {"type": "raw"},
    "batch_size": {"type": "int", "default": 50},
    "concurrency": {"type": "int", "default": 1},
    "validate_only": {"type": "bool", "default": False},
}
