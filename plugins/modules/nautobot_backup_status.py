#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of netops.nautobot_backup.nautobot_backup_status (implemented by its action plugin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nautobot_backup_status
short_description: Write the backup date of durably backed-up devices back to a Nautobot custom field
version_added: 0.1.0
description:
  - Sets a custom field of C(dcim.device) (by default C(last_backup)) to the run's time on every device whose
    backup is durable, that is whose running configuration was backed up (C(running_config_success) true and no
    C(error)) B(and) whose backup reached the Git remote (O(pushed) true).
  - Runs on the controller through its action plugin; it does not connect to the task's host. Run it once per
    play (C(run_once) true) with the results of every device in O(devices).
  - B(The field is checked first.) Nautobot silently ignores unknown custom field keys in an update, so the field
    must exist on C(dcim.device); an unknown key is an error that names it and lists the device custom fields
    that do exist. The value follows the field's type. C(date) gets C(YYYY-MM-DD), C(text) and C(markdown) get
    ISO 8601 in UTC (C(2026-11-24T02:00:00+00:00)). Any other type is an error.
  - B(No needless writes.) Current values are read in bulk (GraphQL, O(batch_size) devices per query), devices
    that already hold the value are skipped, so rerunning on the same day with a C(date) field writes nothing.
    The others are written with bulk C(PATCH /api/dcim/devices/), O(batch_size) devices per request.
  - B(Failures are reported, not raised.) The write-back runs after the backup was pushed, so a Nautobot problem
    (unreachable, timeout, token refused, HTTP 5xx, a missing field, a failed batch) never fails the task. It is
    listed in RV(timestamp_update_status.errors) (naming the devices and the Nautobot URL, never the token),
    counted in RV(timestamp_update_status.failed_count) and shown as a warning. A failed batch does not stop the
    other batches. Only invalid arguments (a bad O(timestamp), O(batch_size) below 1) fail the task.
  - With O(validate_only), only check that Nautobot answers, that the field exists with a writable type and that
    the token may change devices (an empty bulk update, which writes nothing), and B(fail) the task otherwise. Use
    it as a pre-flight check before any device is contacted.
  - If O(pushed) is false nothing is written and RV(timestamp_update_status.errors) says why.
  - The token needs view permission on C(extras.customfield) and C(dcim.device), and change permission on
    C(dcim.device).
extends_documentation_fragment:
  - netops.nautobot_backup.nautobot
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Checks the field and reads current values; reports what would be written and writes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
  idempotent:
    description: A rerun with the same O(timestamp) (or, for a C(date) field, on the same day) writes nothing and
      returns C(changed=false).
    support: full
options:
  custom_field:
    description: Key of the C(dcim.device) custom field to write, of type C(date), C(text) or C(markdown).
    type: str
    default: last_backup
  devices:
    description:
      - Results of the backup step, one dict per device, as returned by
        M(netops.nautobot_backup.device_config_backup) (the C(DeviceBackupInfo) fields).
      - Each needs C(device_id) (the Nautobot id), C(device_name) and C(running_config_success); C(error) marks a
        failed device. Other keys are ignored. Backed-up devices without a C(device_id) are reported as failed.
    type: list
    elements: dict
    default: []
  pushed:
    description:
      - Whether the publish step succeeded, that is the backup was pushed or was already in the remote.
      - If false, nothing is written.
    type: bool
    default: false
  timestamp:
    description:
      - The run's time, as an ISO 8601 string (C(2026-11-24T02:00:00Z)), a C(YYYYMMDD_HHMMSS) stamp (UTC) or the
        C({date, timestamp}) dict returned by M(netops.nautobot_backup.backup_path). Times are converted to UTC.
      - Pass the same value as the backup step, so that Nautobot shows the run's date. Defaults to now.
    type: raw
  batch_size:
    description: Devices per GraphQL read and per bulk C(PATCH) request.
    type: int
    default: 200
  validate_only:
    description:
      - Only check that Nautobot answers, that O(custom_field) exists on C(dcim.device) with a writable type, and
        that the token may change devices (with an empty bulk update, which writes nothing); fail the task
        otherwise. O(devices) and O(pushed) are ignored.
    type: bool
    default: false
notes:
  - The module belongs to the C(netops.nautobot_backup.nautobot) action group, so the connection options can be
    set once with C(module_defaults) and C(group/netops.nautobot_backup.nautobot).
seealso:
  - module: netops.nautobot_backup.device_config_backup
  - module: netops.nautobot_backup.backup_path
author:
  - Netops automation team (@netops)
"""

EXAMPLES = r"""
- name: Pre-flight, before any device is contacted
  netops.nautobot_backup.nautobot_backup_status:
    url: https://nautobot.example.com
    custom_field: last_backup
    validate_only: true
  run_once: true

- name: Stamp the devices whose backup was pushed
  netops.nautobot_backup.nautobot_backup_status:
    url: https://nautobot.example.com
    devices: "{{ ansible_play_hosts_all | map('extract', hostvars, 'backup') | list }}"
    pushed: "{{ publish.pushed }}"
    timestamp: "{{ backup_run_timestamp }}"
  run_once: true
  register: writeback

- name: Write the full ISO time into a text field, with module_defaults for the connection
  netops.nautobot_backup.nautobot_backup_status:
    custom_field: last_backup_iso
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
      description: The custom field written.
      type: str
      sample: last_backup
    updated_count:
      description: Devices written (in check mode, that would be written).
      type: int
    failed_count:
      description: Devices whose field could not be written (Nautobot failure, not found, no device id).
      type: int
    errors:
      description:
        - What went wrong, one entry per failed step or batch, naming the devices and the Nautobot URL.
        - When O(pushed) is false, one entry that says why nothing was written.
      type: list
      elements: str
custom_field:
  description: The custom field as found in Nautobot.
  returned: when the field was checked
  type: dict
  sample: {"key": "last_backup", "type": "date", "label": "Last backup"}
value:
  description: The value written, formatted for the field's type.
  returned: when the field was checked
  type: str
  sample: "2026-11-24"
updated_devices:
  description: Names of the devices written (in check mode, that would be written).
  returned: unless validate_only
  type: list
  elements: str
skipped_devices:
  description: Names of durable devices skipped because they already hold the value.
  returned: unless validate_only
  type: list
  elements: str
failed_devices:
  description: Names of durable devices whose field could not be written.
  returned: unless validate_only
  type: list
  elements: str
not_durable_devices:
  description: Names of devices not stamped because their backup failed or was not pushed.
  returned: unless validate_only
  type: list
  elements: str
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
    "custom_field": {"type": "str", "default": "last_backup"},
    "devices": {"type": "list", "elements": "dict", "default": []},
    "pushed": {"type": "bool", "default": False},
    "timestamp": {"type": "raw"},
    "batch_size": {"type": "int", "default": 200},
    "validate_only": {"type": "bool", "default": False},
}
