# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared documentation of the backup options of device_config_backup and device_config_backup_batch."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """Mirrored by plugin_utils.argspecs.BACKUP_OPTIONS_SPEC (tests/unit/plugins/modules/test_argspec_docs.py)."""

    DOCUMENTATION = r"""
options:
  repo_dir:
    description: Directory of the Git checkout the files are written into. Paths never leave it.
    type: path
    required: true
  running_path_template:
    description:
      - Path of the running configuration, relative to O(repo_dir), with placeholders such as C({device_name}),
        C({location.name}), C({location.name | location_type:City}), C({custom_fields.net}) or C({date}).
      - See the C(backup_path) module for the syntax.
      - Defaults to C(backups/{device_name}.running-config).
    type: str
  startup_path_template:
    description:
      - Path of the startup configuration. Defaults to C(backups/{device_name}.startup-config).
    type: str
  timestamp:
    description:
      - The run's time, used for C({date}) and C({timestamp}), as an ISO 8601 string or the C({date, timestamp})
        dict returned by C(backup_path). Pass one value for the whole run so every device gets the same date.
        Defaults to now.
    type: raw
  backup_startup:
    description: Also back up the startup configuration where the platform has one.
    type: bool
    default: true
  sanitize:
    description:
      - Remove secrets (passwords, secrets, SNMP communities, keys) with netutils' sanitizer and O(sanitize_patterns).
      - Off by default because a private backup repository is often used for restores.
    type: bool
    default: false
  sanitize_patterns:
    description: Extra regular expressions whose matches are removed when O(sanitize) is true.
    type: list
    elements: str
    default: []
  file_mode:
    description:
      - Mode of the backup files, as a quoted octal string; directories created for them get the matching mode
        (V(0600) gives V(0700), V(0640) gives V(0750)). The files hold secrets unless O(sanitize) is true, so they
        are private to the user running the playbook by default, whatever the umask. V(0640) lets the user's group
        read them. Modes that give other users access, execute or special bits are refused.
    type: raw
    default: "0600"
  shrink_threshold:
    description:
      - The shrink guard. A running configuration with fewer non-empty lines than this share of the last backup's
        non-empty lines is not written (a half configuration, such as a session cut short or a device that lost
        its configuration). The device fails with class C(suspicious_shrink), the previous files are kept, and
        the rejected configuration (cleaned, and sanitized when O(sanitize) is true) is kept in O(rejected_dir).
      - A device's first backup has no guard. Only the running configuration is compared; when it is refused, the
        startup configuration is not written either.
      - V(0) turns the guard off. A known, intended shrink of one device or group goes through with the host
        variable C(nautobot_backup_allow_shrink=true) (group_vars, host_vars or Nautobot config context).
    type: float
    default: 0.5
  rejected_dir:
    description:
      - Directory, outside the repository, where running configurations refused by the shrink guard are kept as
        C(<device>.<timestamp>.running-config) (mode 0600, directory 0700). The failure message names the file.
      - Defaults to C(.<checkout name>.rejected) beside O(repo_dir).
    type: path
  show_diff:
    description:
      - In diff mode (C(--diff), AWX "show changes"), show each changed configuration against the previous file.
      - Off by default, because a configuration carries secrets and diff output goes to the job's log. Then a
        changed file is named in the diff output without its content, unless O(sanitize) is true, in which case
        the sanitized configurations are shown (the previous file is sanitized for the diff too).
    type: bool
    default: false
  commands:
    description:
      - Per-host or per-group overrides of the platform's command table, with the keys C(running), C(startup),
        C(enable), C(end_marker), C(min_lines), C(volatile) and C(volatile_extra). For example, set C(running) to
        C(show running-config all), or C(startup) to null to skip the startup configuration.
      - Defaults to the host variable C(nautobot_backup_commands).
    type: dict
  platform_map:
    description: Platform name to netmiko device type, for platforms the built-in mapping does not know.
    type: dict
    default: {}
  conn_timeout:
    description: Seconds to wait for the TCP connection.
    type: float
    default: 10
  auth_timeout:
    description: Seconds to wait for authentication.
    type: float
    default: 20
  banner_timeout:
    description: Seconds to wait for the SSH banner (a device that accepts TCP but hangs).
    type: float
    default: 15
  read_timeout:
    description: Seconds to wait for each show command to complete.
    type: float
    default: 120
"""
