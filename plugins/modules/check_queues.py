#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of netops.nautobot_backup.check_queues (implemented by its action plugin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: check_queues
short_description: Report per-interface input and output queue drops and fail devices over a threshold
version_added: 0.1.0
description:
  - Runs the platform's interface counters command over netmiko (the same connection path as
    M(netops.nautobot_backup.device_config_backup)) and parses it with TextFSM.
  - C(cisco_ios) and C(cisco_xe) - C(show interfaces), ntc-templates; input queue drops and total output drops.
  - C(cisco_nxos) - C(show interface), ntc-templates; input and output discards.
  - C(arista_eos) - C(show interfaces); input and output discards, parsed by the collection's own TextFSM template
    because the ntc-templates EOS template does not read them.
  - An interface whose input or output drops exceed O(drop_threshold) is flagged, and the host fails with a message
    naming the flagged interfaces and their counters. Other platforms fail with C(unsupported_platform).
requirements:
  - ntc-templates
extends_documentation_fragment:
  - netops.nautobot_backup.device_job
  - netops.nautobot_backup.host_keys
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
  drop_threshold:
    description: Drops (input or output) an interface may have without being flagged.
    type: int
    default: 0
  job_parameters:
    description: The job's parameters (recorded, not needed by this module).
    type: dict
  read_timeout:
    description: Seconds to wait for the command's output.
    type: float
    default: 60
author:
  - Netops automation team (@netops)
"""

EXAMPLES = r"""
- name: Fail devices with more than 100 drops on any interface
  netops.nautobot_backup.check_queues:
    drop_threshold: 100
"""

RETURN = r"""
job_type:
  description: C(check_queues).
  returned: always
  type: str
device_name:
  description: Device name.
  returned: always
  type: str
commands:
  description: The command run.
  returned: always
  type: list
  elements: str
interfaces:
  description: Per interface, its input and output drops and whether it is over the threshold.
  returned: when the counters were parsed
  type: list
  elements: dict
  sample: [{"interface": "GigabitEthernet2", "input_drops": 5, "output_drops": 900, "over_threshold": true}]
flagged_interfaces:
  description: The interfaces over the threshold.
  returned: always
  type: list
  elements: str
drop_threshold:
  description: The threshold applied.
  returned: always
  type: int
success:
  description: Whether the device was read and no interface is over the threshold.
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

# This module's own options; the action plugin (plugins/action/check_queues.py) adds those of its doc fragments.
ARGUMENT_SPEC = {
    "drop_threshold": {"type": "int", "default": 0},
    "job_parameters": {"type": "dict"},
    "read_timeout": {"type": "float", "default": 60},
}
