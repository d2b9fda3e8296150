# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: one device's run_commands or check_queues result as printable lines for the job output."""

from __future__ import annotations

DOCUMENTATION = r"""
name: job_output
short_description: Turn one device's run_commands or check_queues result into lines to show
version_added: 0.1.0
description:
  - For a M(netops.nautobot_backup.run_commands) result, each command as C(### <command>) followed by its output
    lines. For a M(netops.nautobot_backup.check_queues) result, the command and a table of the interfaces over
    the drop threshold (interface, input drops, output drops). A failed device starts with its error class and
    error.
  - Device output is untrusted. ANSI escape sequences are removed, tabs are expanded, and every other control or
    format character (the characters a command line may not hold, bidirectional and zero-width controls included)
    is shown as U+FFFD, so the output cannot recolour or rewrite the terminal or hide text. The outputs are
    already free of the device's credentials (the session masks them).
  - The roles C(netops.nautobot_backup.run_commands) and C(netops.nautobot_backup.check_queues) show it for every
    device with C(ansible.builtin.debug), at default verbosity.
options:
  _input:
    description: The device's result (the role's C(job_device_result)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Show the device's outputs
  ansible.builtin.debug:
    msg: "{{ job_device_result | netops.nautobot_backup.job_output }}"
"""

RETURN = r"""
_value:
  description: The lines to show.
  type: list
  elements: str
  sample: ["### show clock", "*10:02:11.123 UTC Mon Mar 4 2024"]
"""

from collections.abc import Mapping
from typing import Any, Dict, List

from ansible.errors import AnsibleFilterError

from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import job_output as output_lines


def job_output(result: Any) -> List[str]:
    """Return the printable lines of one device's job result."""
    if not isinstance(result, Mapping):
        raise AnsibleFilterError(f"job_output expects a device's job result (a dict), not {type(result).__name__}")
    return output_lines(result)


class FilterModule:
    """The collection's job output filter."""

    def filters(self) -> Dict[str, Any]:
        """Map filter names to functions."""
        return {"job_output": job_output}
