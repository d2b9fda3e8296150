# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""The argument spec pieces that several action plugins share, one per doc fragment of plugins/doc_fragments/.

Each module's own options are in its ARGUMENT_SPEC in plugins/modules/<name>.py, next to its
DOCUMENTATION; an action plugin merges the pieces of the fragments its module extends. The pieces
live here, not in the module files, because a module may import only module_utils (which knows
no Ansible). tests/unit/plugins/modules/test_argspec_docs.py keeps each piece equal to its fragment.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible.module_utils.common.parameters import env_fallback

# netops.nautobot_backup.nautobot: where the Nautobot API is (the modules of the nautobot action group).
NAUTOBOT_SPEC: Dict[str, Any] = {
    "url": {"type": "str", "required": True, "fallback": (env_fallback, ["NAUTOBOT_URL"])},
    "token": {"type": "str", "required": True, "no_log": True, "fallback": (env_fallback, ["NAUTOBOT_TOKEN"])},
    "validate_certs": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 30},
}

# netops.nautobot_backup.host_keys: SSH host key checking and telnet, for every module that logs in to devices.
HOST_KEYS_SPEC: Dict[str, Any] = {
    "known_hosts_file": {"type": "path"},
    "allow_telnet": {"type": "bool", "default": False},
}

# netops.nautobot_backup.backup_options: device_config_backup and device_config_backup_batch.
BACKUP_OPTIONS_SPEC: Dict[str, Any] = {
    "repo_dir": {"type": "path", "required": True},
    "running_path_template": {"type": "str"},
    "startup_path_template": {"type": "str"},
    "timestamp": {"type": "raw"},
    "backup_startup": {"type": "bool", "default": True},
    "sanitize": {"type": "bool", "default": False},
    "sanitize_patterns": {"type": "list", "elements": "str", "default": []},
    "show_diff": {"type": "bool", "default": False},
    "file_mode": {"type": "raw", "default": "0600"},
    "shrink_threshold": {"type": "float", "default": 0.5},
    "rejected_dir": {"type": "path"},
    "commands": {"type": "dict"},
    "platform_map": {"type": "dict", "default": {}},
    "conn_timeout": {"type": "float", "default": 10},
    "auth_timeout": {"type": "float", "default": 20},
    "banner_timeout": {"type": "float", "default": 15},
    "read_timeout": {"type": "float", "default": 120},
}

# netops.nautobot_backup.device_job: the per-device options of run_commands and check_queues.
DEVICE_JOB_SPEC: Dict[str, Any] = {
    "facts": {"type": "dict"},
    "device_name": {"type": "str"},
    "platform_map": {"type": "dict", "default": {}},
    "conn_timeout": {"type": "float", "default": 10},
    "auth_timeout": {"type": "float", "default": 20},
    "banner_timeout": {"type": "float", "default": 15},
    "pins_repo_dir": {"type": "path"},
}

# Doc fragment name -> its spec piece (what the docs test resolves).
FRAGMENT_SPECS: Dict[str, Dict[str, Any]] = {
    "netops.nautobot_backup.nautobot": NAUTOBOT_SPEC,
    "netops.nautobot_backup.host_keys": HOST_KEYS_SPEC,
    "netops.nautobot_backup.backup_options": BACKUP_OPTIONS_SPEC,
    "netops.nautobot_backup.device_job": DEVICE_JOB_SPEC,
}
