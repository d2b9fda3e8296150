#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation and argument spec of backup_path; the work is done by the action plugin of the same name."""

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_path
short_description: Render the backup file paths of devices from path templates, safely and collision-free
version_added: 0.1.0
description:
  - Renders the Git repository paths where a device's running and startup configurations are stored,
    from templates such as C({location.parent.name}/{device_name}.running-config) that name the
    inventory host, the run's date or timestamp, and any field of the host's C(nautobot) facts
    (set by the P(netops.nautobot_backup.nautobot#inventory) inventory plugin).
  - Runs on the controller only (action plugin); it never contacts the device and never writes anything.
  - "Placeholders: C({device_name}) (the inventory host name), C({name}) (the Nautobot device name, else the host
    name), C({date}) (C(YYYYMMDD)) and C({timestamp}) (C(YYYYMMDD_HHMMSS)) from one stamp for the whole run, and
    any dotted path into the facts such as C({location.name}), C({location.parent.parent.name}), C({platform.name}),
    C({role.name}), C({tenant.name}), C({custom_fields.net}), C({serial}), C({asset_tag}) or C({tags.0})."
  - "The filter C({location.name | location_type:City}) walks from the location up its parents to the nearest
    location whose type is C(City) (case-insensitive) and gives its name."
  - An unknown placeholder, or one without a value (a missing key, null or an empty string, for example
    C({asset_tag}) on a device without an asset tag), fails with a message naming the device and the placeholder.
    Nothing is ever left unrendered in a file name.
  - Values are made path-safe. Control characters are removed; every character other than a letter, a digit or
    C(-_.+@) (so C(/), C(\), spaces, C(:) ...) becomes C(_); runs of C(_) or C(.) collapse to one; leading and
    trailing C(.) and C(_) are stripped. A value that is empty after this is an error.
  - Templates may not be absolute, contain C(..), C(.) or empty segments, segments starting with C(.)
    (C(.git), C(.gitattributes)), backslashes, or literal characters other than letters, digits, C(-_.+@) and C(/).
  - With O(repo_dir), each path is resolved inside the checkout, following symlinks that already exist there, and
    refused if it leaves the checkout or enters C(.git).
  - With O(hosts), the paths of all the listed hosts are rendered in one call, with one stamp, and checked for
    collisions (two backup files mapping to the same path, compared case-insensitively, or a file of one device
    being a directory of another's). Every problem of every host is reported at once. Use it in a C(run_once) task
    before any device is contacted.
  - See R(the path templates guide,ansible_collections.netops.nautobot_backup.docsite.paths) for the full rules.
author:
  - Netops automation team (@netops)
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
    details: Nothing is ever written, so check mode returns the same result.
  connection:
    support: none
  delegation:
    support: none
    details: Runs on the controller; O(hosts) reads other hosts' variables instead.
  diff_mode:
    support: none
  idempotent:
    description: When run twice with the same options and the same stamp, it returns the same result.
    support: full
  platform:
    support: full
    platforms: all
options:
  running_template:
    description:
      - Template of the running configuration's path, relative to the repository root.
      - Surrounding whitespace is ignored.
    type: str
    default: backups/{device_name}.running-config
  startup_template:
    description:
      - Template of the startup configuration's path, relative to the repository root.
      - Must not render to the same path as O(running_template) for any device.
    type: str
    default: backups/{device_name}.startup-config
  facts:
    description:
      - The device facts the placeholders read (the C(nautobot) dict of the inventory plugin).
      - Defaults to the host's C(nautobot) variable; a host without one only supports C({device_name}),
        C({name}), C({date}) and C({timestamp}).
      - Mutually exclusive with O(hosts).
    type: dict
  device_name:
    description:
      - The value of C({device_name}), used in error messages too.
      - Defaults to C(inventory_hostname).
      - Mutually exclusive with O(hosts).
    type: str
  repo_dir:
    description:
      - The Git checkout the paths are relative to.
      - When given, every path is resolved inside it (following existing symlinks) and refused if it leaves it
        or enters C(.git); the absolute paths are returned as RV(running_file) and RV(startup_file).
    type: path
  timestamp:
    description:
      - The run's instant, from which C({date}) and C({timestamp}) are rendered, in UTC.
      - An ISO 8601 string (C(2024-05-01T23:30:00Z); a time without offset is taken as UTC), a C(YYYYMMDD_HHMMSS)
        stamp, or the C({date, timestamp}) dict returned by an earlier call.
      - Defaults to now. Pass the same value to every host of a run (or use O(hosts)) so all devices get the same
        date even when the run crosses midnight.
    type: raw
  hosts:
    description:
      - Inventory host names to render the paths of, in one call, from their C(nautobot) host variables; the paths
        are then checked for collisions.
      - Returns RV(paths) instead of RV(running_path) and RV(startup_path). Meant for a C(run_once) pre-check, for
        example with the value C({{ ansible_play_hosts }}).
      - A name that is not in the inventory is an error.
    type: list
    elements: str
notes:
  - The module only computes paths. The modules that write configurations and commit them take the rendered paths.
seealso:
  - plugin: netops.nautobot_backup.nautobot
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Check every device's backup paths once, before any device is contacted
  netops.nautobot_backup.backup_path:
    hosts: "{{ ansible_play_hosts }}"
    running_template: "{location.parent.parent.name}/{location.name | location_type:City}/{device_name}.cfg"
    startup_template: "{location.parent.parent.name}/{location.name | location_type:City}/{device_name}.startup.cfg"
    repo_dir: "{{ backup_checkout }}"
  run_once: true
  register: backup_plan

- name: Use the pre-checked paths on each host
  ansible.builtin.debug:
    msg: "{{ backup_plan.paths[inventory_hostname].running_file }}"

- name: Render this host's paths with the default templates (backups/<host>.running-config ...)
  netops.nautobot_backup.backup_path:
  register: backup_paths

- name: Paths with the run's date, the same for every device (a stamp computed once)
  netops.nautobot_backup.backup_path:
    running_template: "{custom_fields.net}/{date}/{device_name}.running-config"
    startup_template: "{custom_fields.net}/{date}/{device_name}.startup-config"
    timestamp: "{{ backup_plan.timestamp }}"

- name: A host from a static inventory with hand-written facts
  netops.nautobot_backup.backup_path:
    running_template: "{location.name}/{device_name}.cfg"
    startup_template: "{location.name}/{device_name}.startup.cfg"
    facts:
      location:
        name: LAB1
"""

RETURN = r"""
running_path:
  description: The running configuration's path, relative to the repository root (POSIX separators).
  returned: when O(hosts) is not given
  type: str
  sample: backups/ios-r1.running-config
startup_path:
  description: The startup configuration's path, relative to the repository root.
  returned: when O(hosts) is not given
  type: str
  sample: backups/ios-r1.startup-config
running_file:
  description: The absolute path of the running configuration inside O(repo_dir).
  returned: when O(repo_dir) is given and O(hosts) is not
  type: str
  sample: /srv/configs/backups/ios-r1.running-config
startup_file:
  description: The absolute path of the startup configuration inside O(repo_dir).
  returned: when O(repo_dir) is given and O(hosts) is not
  type: str
  sample: /srv/configs/backups/ios-r1.startup-config
paths:
  description:
    - Host name to its paths, for every host of O(hosts).
    - Each value holds C(running) and C(startup) (relative), and C(running_file) and C(startup_file) (absolute)
      when O(repo_dir) is given.
  returned: when O(hosts) is given
  type: dict
  sample:
    ios-r1:
      running: Europe/Berlin/ios-r1.cfg
      startup: Europe/Berlin/ios-r1.startup.cfg
date:
  description: The run's date, as C({date}) renders it (UTC).
  returned: success
  type: str
  sample: "20240501"
timestamp:
  description: The run's timestamp, as C({timestamp}) renders it (UTC); pass it to later calls as O(timestamp).
  returned: success
  type: str
  sample: "20240501_213000"
errors:
  description: Every problem found, each naming its device and placeholder (either may be null).
  returned: failure
  type: list
  elements: dict
  contains:
    device:
      description: The inventory host name.
      type: str
    placeholder:
      description: The placeholder at fault, as written in the template, braces included.
      type: str
    devices:
      description: For a collision, every device whose backup files map to the same path.
      type: list
      elements: str
      returned: for collisions
    msg:
      description: What is wrong.
      type: str
  sample:
    - device: ios-r2
      placeholder: "{asset_tag}"
      msg: "device 'ios-r2': backup path template 'backups/{asset_tag}.cfg': placeholder {asset_tag} has no value
        (asset_tag is null)"
"""

from ansible.module_utils.basic import AnsibleModule

# Shared with plugins/action/backup_path.py, which validates the task's arguments with it.
ARGUMENT_SPEC = {
    "running_template": {"type": "str", "default": "backups/{device_name}.running-config"},
    "startup_template": {"type": "str", "default": "backups/{device_name}.startup-config"},
    "facts": {"type": "dict"},
    "device_name": {"type": "str"},
    "repo_dir": {"type": "path"},
    "timestamp": {"type": "raw"},
    "hosts": {"type": "list", "elements": "str"},
}
MUTUALLY_EXCLUSIVE = [["hosts", "facts"], ["hosts", "device_name"]]


def main() -> None:
    """Fail: this module is implemented by its action plugin and never runs on a target."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE, supports_check_mode=True)
    module.fail_json(msg="netops.nautobot_backup.backup_path runs on the controller through its action plugin")


if __name__ == "__main__":
    main()
