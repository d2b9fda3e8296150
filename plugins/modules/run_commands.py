#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of netops.nautobot_backup.run_commands (implemented by its action plugin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: run_commands
short_description: Run a command template, rendered per device with its Nautobot facts, over netmiko
version_added: 0.1.0
description:
  - Renders O(template) for the host (Jinja, in a sandbox) with two variables, C(nautobot) (the host's Nautobot facts
    from the inventory) and C(job_parameters). Each non-empty line of the result is one command.
  - Values from Nautobot are data, never templates - Jinja inside a device's fields is printed as it is.
  - Only the template's own line breaks separate commands. A value that an expression inserts must not hold a
    line break or another control character (Unicode categories Cc, Cf, Cs, Zl and Zp - tab, CR, LF, VT, FF,
    FS/GS/RS, NEL, U+2028, U+2029, zero-width and bidirectional controls); one that does fails the host before
    the device is contacted, with a message naming the variable and the character (never the value). A macro's
    output may span lines. Every rendered command is checked the same way.
  - A template that fails to render or renders to no command fails the host with a clear error before the device is
    contacted.
  - Connects from the controller with netmiko exactly like M(netops.nautobot_backup.device_config_backup) (same
    connection variables, platform mapping, enable mode and failure classes) and runs the commands in one session.
  - With O(repo_dir), the outputs are written to a file under it (path template O(output_path_template)) for the
    publish step to commit; C(changed) is true only when that file's content changed.
extends_documentation_fragment:
  - netops.nautobot_backup.device_job
  - netops.nautobot_backup.host_keys
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Runs the commands (they are meant to be read-only show commands) but writes no file.
  diff_mode:
    support: none
  platform:
    platforms: posix
  idempotent:
    description: Without O(repo_dir) nothing changes; with it, an unchanged output writes nothing.
    support: full
options:
  template:
    description:
      - The command template (Jinja); one command per non-empty rendered line.
      - Defaults to the C(run_commands_template) variable, read as given (not rendered by Ansible).
      - When given here inline, mark it C(!unsafe) so that Ansible leaves the Jinja to this module.
    type: str
  job_parameters:
    description:
      - Parameters the template can read as C(job_parameters).
      - Defaults to the job's merged parameters when run by C(playbooks/run_job.yml), else the C(job_parameters)
        variable.
    type: dict
  repo_dir:
    description: Checkout to write the outputs into. Nothing is written when not set.
    type: path
  output_path_template:
    description:
      - Path of the outputs file relative to O(repo_dir), with the placeholders of the C(backup_path) module.
      - Defaults to C(commands/{device_name}.txt).
    type: str
  timestamp:
    description: The run's time for C({date}) and C({timestamp}) in O(output_path_template). Defaults to now.
    type: raw
  read_timeout:
    description: Seconds to wait for each command's output.
    type: float
    default: 60
author:
  - Netops automation team (@netops)
"""

EXAMPLES = r"""
- name: Run templated show commands and keep the outputs in the checkout
  netops.nautobot_backup.run_commands:
    template: !unsafe |
      show version
      show running-config | include {{ nautobot.name }}
      {% if job_parameters.interface is defined %}show interfaces {{ job_parameters.interface }}{% endif %}
    job_parameters:
      interface: GigabitEthernet1
    repo_dir: /var/cache/backups/configs
"""

RETURN = r"""
job_type:
  description: C(run_commands).
  returned: always
  type: str
device_name:
  description: Device name.
  returned: always
  type: str
device_id:
  description: Nautobot id of the device, when known.
  returned: always
  type: str
platform:
  description: Platform name (or netmiko device type).
  returned: always
  type: str
commands:
  description: The rendered commands, in order.
  returned: always
  type: list
  elements: str
outputs:
  description: Each command and its output.
  returned: always
  type: list
  elements: dict
  sample: [{"command": "show version", "output": "Cisco IOS XE Software ..."}]
output_file:
  description: Path of the outputs file relative to O(repo_dir), when one was written.
  returned: always
  type: str
success:
  description: Whether every command ran.
  returned: always
  type: bool
error:
  description: Why the device failed.
  returned: always
  type: str
error_class:
  description:
    - C(unreachable), C(auth_failed), C(timeout), C(invalid_output), C(unsupported_platform),
      C(host_key_mismatch) or C(other).
    - C(host_key_mismatch) means the device's SSH host key differs from a known one; no credential was sent.
  returned: always
  type: str
"""

# This module's own options; the action plugin (plugins/action/run_commands.py) adds those of its doc fragments.
ARGUMENT_SPEC = {
    "template": {"type": "str"},
    "job_parameters": {"type": "dict"},
    "repo_dir": {"type": "path"},
    "output_path_template": {"type": "str"},
    "timestamp": {"type": "raw"},
    "read_timeout": {"type": "float", "default": 60},
}
