# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared documentation of the per-device options of run_commands and check_queues."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """Mirrored by plugin_utils.argspecs.DEVICE_JOB_SPEC (tests/unit/plugins/modules/test_argspec_docs.py)."""

    DOCUMENTATION = r"""
options:
  facts:
    description: The device's Nautobot facts. Defaults to the host's C(nautobot) variable.
    type: dict
  device_name:
    description: Device name. Defaults to the inventory host name.
    type: str
  platform_map:
    description: Extra Nautobot platform name or network driver to netmiko device type mappings.
    type: dict
    default: {}
  conn_timeout:
    description: TCP connect timeout in seconds.
    type: float
    default: 10
  auth_timeout:
    description: Authentication timeout in seconds.
    type: float
    default: 20
  banner_timeout:
    description: SSH banner timeout in seconds.
    type: float
    default: 15
  pins_repo_dir:
    description:
      - The backup checkout whose pinned SSH host keys (C(.known_hosts/<device name>)) the device's key is checked
        against when host key checking is on. Pins are only read here, never written (the backup writes them).
      - Defaults to C(repo_dir) of run_commands when that is given. Without either, only the
        C(known_hosts) files are checked and a device they do not list is trusted on first use without being
        remembered.
    type: path
"""
