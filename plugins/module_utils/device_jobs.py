# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the per-device jobs (run_commands, check_queues) share: the request, the session, the result.

``CommandsRequest`` is one device's job as the action plugin resolved it; ``execute`` checks each
command line and sends the commands over one netmiko session (``retrieval.send_commands``, the
backup's connection path, in enable mode where the platform's backup needs it); ``device_info`` and
``unexpected_failure`` build the device's DeviceJobInfo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup_commands import platform_commands
from ansible_collections.netops.nautobot_backup.plugins.module_utils.command_lines import check_command_line
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import CommandOutput, DeviceJobInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import (
    ConnectionSettings,
    send_commands,
    unexpected_error_message,
)

# How a job sends its commands: (settings, commands, enable) -> (command, output) pairs; tests pass their own.
Runner = Callable[[ConnectionSettings, Sequence[str], bool], List[Tuple[str, str]]]


@dataclass
class CommandsRequest:
    """Everything one device's job (run_commands, check_queues) needs, resolved by the action plugin."""

    device_name: str
    settings: ConnectionSettings
    template: str
    facts: Dict[str, Any] = field(default_factory=dict)
    job_parameters: Dict[str, Any] = field(default_factory=dict)
    device_id: Optional[str] = None
    platform: Optional[str] = None
    repo_dir: Optional[Path] = None
    output_path_template: Optional[str] = None
    stamp: Optional[Dict[str, str]] = None


def device_info(request: CommandsRequest, job_type: str, **fields: Any) -> DeviceJobInfo:
    """A DeviceJobInfo naming the request's device."""
    return DeviceJobInfo(
        job_type=job_type,
        device_name=request.device_name,
        device_id=request.device_id,
        platform=request.platform,
        **fields,
    )


def execute(request: CommandsRequest, commands: Sequence[str], run: Optional[Runner] = None) -> List[CommandOutput]:
    """Run commands on the device (enable mode where the platform's backup needs it); raise DeviceError.

    Every command is checked for line breaks and control characters first (defence in depth:
    the device is not contacted when one holds any).
    """
    for number, command in enumerate(commands, start=1):
        check_command_line(command, f"command {number}")
    enable = platform_commands(request.settings.device_type).enable
    pairs = (run or send_commands)(request.settings, list(commands), enable)
    return [CommandOutput(command=command, output=request.settings.scrub(output)) for command, output in pairs]


def unexpected_failure(request: CommandsRequest, job_type: str, exc: BaseException, **fields: Any) -> DeviceJobInfo:
    """The result of a device whose job raised an unexpected error: class ``other``, its type and place only.

    The exception's own text is left out: it may quote what the device printed.
    """
    return device_info(request, job_type, error=unexpected_error_message(exc), error_class="other", **fields)
