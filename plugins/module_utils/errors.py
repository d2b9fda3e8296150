# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions raised by the collection's module_utils.

Helpers raise these; only modules and action plugins convert them into
``fail_json`` results or ``AnsibleError`` (raise at the core, convert at the edge).
"""

from __future__ import annotations

from typing import Optional

# Per-device failure classes (a failed device's ``error_class``). Every failed device carries one.
# host_key_mismatch: the device's SSH host key differs from a known one; raised before any credential is sent.
# suspicious_shrink: the running config lost too many lines against the last backup (backup.shrink_refusal).
FAILURE_CLASSES = (
    "unreachable",
    "auth_failed",
    "timeout",
    "invalid_output",
    "unsupported_platform",
    "host_key_mismatch",
    "suspicious_shrink",
    "other",
)


class NautobotBackupError(Exception):
    """Base class for errors raised by this collection."""

    failure_class = "other"


class PlatformMappingError(NautobotBackupError):
    """No netmiko device type could be found for a device's platform."""

    failure_class = "unsupported_platform"

    def __init__(self, message: str, platform: Optional[str] = None, device: Optional[str] = None) -> None:
        self.platform = platform
        self.device = device
        super().__init__(message)
