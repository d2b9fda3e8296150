"""Nautobot API connection settings shared by every Nautobot module.

The argspec is defined once here and mirrored by the ``netops.nautobot_backup.nautobot``
doc fragment; modules that use it belong to the ``nautobot`` action group.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

NAUTOBOT_ARGSPEC = {
    "url": {"type": "str", "required": True, "fallback": (env_fallback, ["NAUTOBOT_URL"])},
    "token": {"type": "str", "required": True, "no_log": True, "fallback": (env_fallback, ["NAUTOBOT_TOKEN"])},
    "validate_certs": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 30},
}
