#!/usr/bin/python
# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of netops.nautobot_backup.device_config_backup (implemented by its action plugin)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: device_config_backup
short_description: Back up a network device's running and startup configuration into a directory
version_added: 0.1.0
description:
  - Connects to the host with netmiko from the controller (an action plugin, so no module process and no Python
    on the device), reads the running configuration and, where the platform has one, the startup configuration,
    cleans them, validates them and writes them atomically under O(repo_dir).
  - Works with hosts from any inventory. The connection comes from the host's standard variables
    C(ansible_host), C(ansible_port), C(ansible_user), C(ansible_password), C(ansible_become_password) (the enable
    secret) and C(ansible_ssh_private_key_file). The netmiko device type is C(netmiko_device_type), else the
    Nautobot platform in the C(nautobot) host variable, else C(ansible_network_os).
  - B(Cleaning.) Command echo, prompts and volatile lines ("Building configuration...", "Current configuration
    N bytes", "! Last configuration change at", "! NVRAM config last updated", C(ntp clock-period), Junos
    "## Last commit", IOS-XR timestamps...) are removed, so an unchanged device gives byte-identical files.
  - B(Validation before writing.) Empty or too short output, error text (C(% Invalid input), C(% Authorization
    failed), C(Permission denied)...), a pager prompt, or a missing end marker (IOS C(end)) fail the backup.
    The previous good file is never overwritten by a failed or partial one.
  - The shrink guard (O(shrink_threshold)) refuses a running configuration that lost too many lines against the
    last backup (class C(suspicious_shrink)); the rejected configuration is kept outside the repository.
  - A platform without a startup configuration, or a startup command the device rejects, is recorded in
    RV(startup_config_success)/RV(startup_config_reason) and never fails the running backup.
  - C(changed) is true only when a file's content changed. Writes are atomic (temporary file, then rename).
  - A failed device fails its host with RV(error_class) one of C(unreachable), C(auth_failed), C(timeout),
    C(invalid_output), C(unsupported_platform), C(host_key_mismatch), C(suspicious_shrink) or C(other).
    Passwords and the enable secret never appear in the result, and no message quotes the configuration (a
    validation error names the rule and the line number). A host variable that cannot be used (C(ansible_port)
    not an integer from 1 to 65535, a platform that is not a name) or an unexpected error fails that host with
    class C(other) and a message.
  - Credentials are per host. A host's own C(ansible_user), C(ansible_password), C(ansible_become_password) or
    C(ansible_ssh_private_key_file) wins; a host without one gets the command line's (C(-u), C(--ask-pass),
    C(--ask-become-pass), C(--private-key); how AWX passes a Machine credential).
  - The device's SSH host key is checked as Ansible's C(host_key_checking) says (see the notes); a device seen
    for the first time has its key pinned in RV(host_key_file) under O(repo_dir).
extends_documentation_fragment:
  - netops.nautobot_backup.backup_options
  - netops.nautobot_backup.host_keys
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Fetches and validates, reports what would change, writes nothing.
  diff_mode:
    support: full
    details:
      - Shows the cleaned configuration against the previous file when O(show_diff) or O(sanitize) is true
        (sanitized then); otherwise names each changed file without its content.
  platform:
    platforms: posix
  idempotent:
    description: A second run against an unchanged device writes nothing and returns C(changed=false).
    support: full
options:
  facts:
    description:
      - Device facts for the path templates. Defaults to the host variable C(nautobot) set by the
        C(netops.nautobot_backup.nautobot) inventory plugin.
    type: dict
  device_name:
    description: Device name for C({device_name}) and the results. Defaults to C(inventory_hostname).
    type: str
seealso:
  - module: netops.nautobot_backup.device_config_backup_batch
    description: The same backup for every host of the play from one task (a thread pool); much faster for many devices.
  - module: netops.nautobot_backup.backup_path
author:
  - Netops automation team (@netops)
"""

EXAMPLES = r"""
- name: Back up every device into the checkout
  netops.nautobot_backup.device_config_backup:
    repo_dir: /var/lib/backups/configs
    running_path_template: "{location.parent.name}/{location.name}/{device_name}.running-config"
    timestamp: "{{ backup_run_timestamp }}"

- name: A static-inventory host works too
  netops.nautobot_backup.device_config_backup:
    repo_dir: ./configs
  vars:
    ansible_network_os: cisco.ios.ios
"""

RETURN = r"""
device_id:
  description: Nautobot id of the device, when known.
  returned: always
  type: str
device_name:
  description: Device name.
  returned: always
  type: str
device_ip:
  description: Address connected to.
  returned: when the host's variables could be read
  type: str
platform:
  description: Platform name (or netmiko device type).
  returned: always
  type: str
location:
  description: The name of the device's Nautobot location (null without one); the front page counts by it.
  returned: when the host's variables could be read
  type: str
nautobot_fetch_success:
  description: Whether Nautobot facts were available for the device.
  returned: always
  type: bool
ssh_connection_success:
  description: Whether the SSH session was opened.
  returned: always
  type: bool
running_config_success:
  description: Whether the running configuration was backed up.
  returned: always
  type: bool
startup_config_success:
  description: Whether the startup configuration was backed up.
  returned: always
  type: bool
startup_config_reason:
  description: Why the startup configuration was not backed up (no startup on the platform, rejected, invalid).
  returned: always
  type: str
running_config_bytes:
  description: Size of the cleaned running configuration.
  returned: always
  type: int
startup_config_bytes:
  description: Size of the cleaned startup configuration.
  returned: always
  type: int
running_config_file:
  description: Path of the running configuration file, relative to O(repo_dir).
  returned: always
  type: str
  sample: backups/r1.running-config
startup_config_file:
  description: Path of the startup configuration file, relative to O(repo_dir).
  returned: always
  type: str
host_key_file:
  description:
    - The device's pinned SSH host key, relative to O(repo_dir) (C(.known_hosts/<device name>)), when it has one
      there after this run (pinned now or before); null with host key checking off, in check mode before the
      first pin, and for a failed device. The publish step commits it with the configuration.
  returned: always
  type: str
  sample: .known_hosts/r1
unsaved_changes:
  description: Whether running and startup differ after cleaning (null when both were not read).
  returned: always
  type: bool
changed:
  description: Whether a file's content changed (or would change, in check mode).
  returned: always
  type: bool
error:
  description: What went wrong, when the device failed.
  returned: always
  type: str
error_class:
  description:
    - C(unreachable), C(auth_failed), C(timeout), C(invalid_output), C(unsupported_platform),
      C(host_key_mismatch), C(suspicious_shrink) or C(other).
    - C(host_key_mismatch) means the device's SSH host key differs from a known one; no credential was sent.
    - C(suspicious_shrink) means the running configuration lost too many lines against the last backup
      (O(shrink_threshold)); nothing was written and the message names where the rejected configuration is kept.
  returned: always
  type: str
"""

# This module's own options; the action plugin (plugins/action/device_config_backup.py) adds those of its doc fragments.
ARGUMENT_SPEC = {
    "facts": {"type": "dict"},
    "device_name": {"type": "str"},
}
