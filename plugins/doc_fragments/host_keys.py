# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared documentation of SSH host key checking and telnet for every module that logs in to devices."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """Mirrored by plugin_utils.argspecs.HOST_KEYS_SPEC (tests/unit/plugins/modules/test_argspec_docs.py)."""

    DOCUMENTATION = r"""
options:
  known_hosts_file:
    description:
      - An OpenSSH C(known_hosts) file with device host keys, used together with the controller user's
        C(~/.ssh/known_hosts) and the pinned keys (see the notes). Looked up by the device's address as OpenSSH
        writes it (C(host), or C([host]:port) when the port is not 22); hashed names and patterns work.
      - It must exist when given. Only read when host key checking is on.
    type: path
  allow_telnet:
    description:
      - Allow netmiko device types that use telnet (C(*_telnet)). Telnet has no host key and sends the user
        name, the password and the enable secret in clear text to whoever answers at the device's address.
      - When false, a device whose device type uses telnet fails with class C(unsupported_platform) before it is
        contacted. Serial device types (C(*_serial)) are always refused.
    type: bool
    default: false
notes:
  - B(SSH host keys.) Host key checking follows Ansible's own C(host_key_checking) setting, read the way the
    C(ssh) connection plugin reads it, for each host. First the host variable C(ansible_host_key_checking) (or
    C(ansible_ssh_host_key_checking)), then the environment variable C(ANSIBLE_HOST_KEY_CHECKING) (or
    C(ANSIBLE_SSH_HOST_KEY_CHECKING)), then C(host_key_checking) in C(ansible.cfg); true by default.
    ansible-runner, and so AWX, sets C(ANSIBLE_HOST_KEY_CHECKING=False) for every job unless told otherwise, so
    set C(ansible_host_key_checking=true) as an inventory variable there (the sample AWX inventory source does).
  - With checking on, a device's known keys are its pin (C(.known_hosts/<device name>) in the backup checkout),
    the entries for its address in O(known_hosts_file) and in C(~/.ssh/known_hosts). Every one of these that
    holds a key of the type the device presents must hold that very key, or the device fails with class
    C(host_key_mismatch). The check runs after the SSH key exchange and before authentication, so such a device
    never receives the user name, password or enable secret, and nothing is written.
  - A device with no known key is trusted on first use. The backup modules then pin its key in the checkout and
    report the pin file as C(host_key_file), which the publish step commits, so later runs (also in a new AWX
    container) know it. To accept a legitimate new key, delete the device's pin file from the backup repository
    (and its C(known_hosts) entries). Pins belong to the device, not to its address.
  - With checking off (C(ansible_host_key_checking=false)), any key is accepted and nothing is pinned, so the
    credentials go to whoever answers at the device's address, for example a host an attacker placed there or a
    changed primary IP in Nautobot. See
    R(the SSH host keys guide,ansible_collections.netops.nautobot_backup.docsite.host_keys).
"""
