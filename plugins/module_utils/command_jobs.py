# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run_commands: render a command template per device, run it over the backup's netmiko path, keep the outputs.

The template is Jinja, rendered here in a sandbox with two names: ``nautobot`` (the host's
facts from the inventory) and ``job_parameters``. Values from Nautobot are data: they are
passed to the template as variables and never parsed as Jinja themselves, so a device
description containing ``{{ ... }}`` is printed as it is, never executed. Each non-empty
line of the result is one command. A template that fails to render, or renders to no
command, is a clear per-device error raised before the device is contacted. Outputs can be
written into the backup checkout under a path template (the paths engine of
``paths.render_path``) for the publish step to commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.commands import platform_commands
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import write_if_changed
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import CommandOutput, DeviceJobInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import confine, render_path
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import (
    ConnectionSettings,
    DeviceError,
    run_commands,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.validation import _error_line

if has_library("jinja2"):
    from jinja2 import StrictUndefined, TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment
else:  # pragma: no cover - jinja2 comes with ansible-core; require("jinja2") raises first
    ImmutableSandboxedEnvironment = StrictUndefined = None
    TemplateError = type("TemplateError", (Exception,), {})

DEFAULT_OUTPUT_PATH_TEMPLATE = "commands/{device_name}.txt"
Runner = Callable[[ConnectionSettings, Sequence[str], bool], List[Tuple[str, str]]]


class CommandTemplateError(NautobotBackupError):
    """The command template did not render, or rendered to no command."""


def render_commands(
    template: str, facts: Optional[Mapping[str, Any]], job_parameters: Optional[Mapping[str, Any]], device: str
) -> List[str]:
    """Render template for one device and return its non-empty lines (stripped), one command each."""
    if not isinstance(template, str) or not template.strip():
        raise CommandTemplateError(f"{device}: no command template was given")
    require("jinja2")
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    try:
        text = env.from_string(template).render(nautobot=dict(facts or {}), job_parameters=dict(job_parameters or {}))
    except TemplateError as exc:
        raise CommandTemplateError(f"{device}: the command template failed to render: {exc}") from exc
    commands = [line.strip() for line in text.splitlines() if line.strip()]
    if not commands:
        raise CommandTemplateError(f"{device}: the command template rendered to no command (only blank lines)")
    return commands


@dataclass
class CommandsRequest:
    """Everything one device's run_commands needs, resolved by the action plugin."""

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
    """Run commands on the device (enable mode where the platform's backup needs it); raise DeviceError."""
    enable = platform_commands(request.settings.device_type).enable
    pairs = (run or run_commands)(request.settings, list(commands), enable)
    return [CommandOutput(command=command, output=request.settings.scrub(output)) for command, output in pairs]


def run_device_commands(
    request: CommandsRequest, check_mode: bool = False, run: Optional[Runner] = None
) -> DeviceJobInfo:
    """Render, run and (optionally) store one device's commands; never raises for a device failure."""
    commands: List[str] = []
    try:
        commands = render_commands(request.template, request.facts, request.job_parameters, request.device_name)
        outputs = execute(request, commands, run)
        rejected = rejected_commands(outputs)
        if rejected:
            return device_info(
                request,
                "run_commands",
                commands=commands,
                outputs=outputs,
                error=f"the device rejected {len(rejected)} command(s): {'; '.join(rejected)}",
                error_class="invalid_output",
            )
        output_file, changed = _store(request, outputs, check_mode)
    except (DeviceError, NautobotBackupError) as exc:
        return device_info(
            request,
            "run_commands",
            commands=commands,
            error=str(exc),
            error_class=getattr(exc, "failure_class", "other"),
        )
    return device_info(
        request, "run_commands", commands=commands, outputs=outputs, output_file=output_file, changed=changed
    )


def rejected_commands(outputs: Sequence[CommandOutput]) -> List[str]:
    """Describe each command whose output is a device error message (the backup's error markers)."""
    rejected = []
    for item in outputs:
        problem = _error_line(item.output.splitlines())
        if problem:
            rejected.append(f"'{item.command}' ({problem[0]}: {problem[1]})")
    return rejected


def format_outputs(outputs: Sequence[CommandOutput]) -> str:
    """The stored text: each command as a '### command' header, then its output."""
    parts = [f"### {item.command}\n{item.output.rstrip()}\n" for item in outputs]
    return "\n".join(parts)


def _store(request: CommandsRequest, outputs: Sequence[CommandOutput], check_mode: bool) -> Tuple[Optional[str], bool]:
    """Write the outputs under the rendered path in the checkout; return (relative path, changed)."""
    if request.repo_dir is None:
        return None, False
    template = request.output_path_template or DEFAULT_OUTPUT_PATH_TEMPLATE
    relative = render_path(template, request.facts, request.device_name, request.stamp)
    target = confine(request.repo_dir, relative, request.device_name)
    changed = write_if_changed(target, format_outputs(outputs), check_mode=check_mode)
    return relative, changed
