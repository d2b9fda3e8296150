# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: collect one registered result of every host, by host name (the one "results from hostvars")."""

from __future__ import annotations

DOCUMENTATION = r"""
name: host_results
short_description: Collect one variable of every listed host from hostvars, by host name
version_added: 0.1.0
description:
  - Returns a dictionary of host name to the value of the variable O(name) on that host, in the order of the input
    list. A host that does not have the variable is left out, or gets O(default) when one is given.
  - The roles of this collection use it to gather each device's registered result (C(backup_result),
    C(job_device_result)) in one run-once task, instead of repeating a C(map) over C(hostvars) with C(extract).
positional: hostvars, name
options:
  _input:
    description: The host names, for example C(ansible_play_hosts_all).
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) magic variable.
    type: dict
    required: true
  name:
    description: The variable to collect from each host.
    type: str
    required: true
  default:
    description: The value of a host that does not have the variable; without it, such a host is left out.
    type: raw
"""

EXAMPLES = r"""
- name: Every device's backup result, an empty dict for a host that has none
  ansible.builtin.set_fact:
    backup_results: >-
      {{ ansible_play_hosts_all | netops.nautobot_backup.host_results(hostvars, 'backup_result', default={}) }}
  run_once: true

- name: The job results of the hosts that ran the job, as a list
  ansible.builtin.debug:
    msg: >-
      {{ (ansible_play_hosts_all | netops.nautobot_backup.host_results(hostvars, 'job_device_result')).values()
         | list }}
  run_once: true
"""

RETURN = r"""
_value:
  description: Host name to the host's value of O(name) (or O(default)), in the order of the input.
  type: dict
"""

from collections.abc import Mapping
from typing import Any, Dict, Iterable

from ansible.errors import AnsibleFilterError

_MISSING = object()


def host_results(
    hosts: Iterable[str], hostvars: Mapping[str, Any], name: str, default: Any = _MISSING
) -> Dict[str, Any]:
    """Return host -> hostvars[host][name] for each host that has it (or default, when given)."""
    if isinstance(hosts, (str, bytes)) or not isinstance(hosts, Iterable):
        raise AnsibleFilterError(f"host_results expects a list of host names, not {type(hosts).__name__}")
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError(f"host_results expects hostvars as its first argument, not {type(hostvars).__name__}")
    results: Dict[str, Any] = {}
    for host in hosts:
        host_vars = hostvars[host] if host in hostvars else {}
        if name in host_vars:
            results[host] = host_vars[name]
        elif default is not _MISSING:
            results[host] = default
    return results


class FilterModule:
    """The collection's filters."""

    def filters(self) -> Dict[str, Any]:
        """Map filter names to functions."""
        return {"host_results": host_results}
