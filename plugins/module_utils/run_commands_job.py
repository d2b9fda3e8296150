# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run_commands job: render a command template per device, run it over the backup's netmiko path, keep the outputs.

The template is Jinja, rendered here in a sandbox with two names: ``nautobot`` (the host's
facts from the inventory) and ``job_parameters``. Values from Nautobot are data: they are
passed to the template as variables and never parsed as Jinja themselves, so a device
description containing ``{{ ... }}`` is printed as it is, never executed. Only the template's
own line breaks separate commands: each non-empty line of the result is one command, and a
value that an expression (``{{ ... }}``) inserts must hold no line break or other control
character (command_lines), or the device fails before it is contacted. A macro's output (the
template's own text around values that were checked) may span lines. A template that fails
to render, or renders to no command, is a clear per-device error raised before the device is
contacted. Outputs can be written into the backup checkout under a path template (the paths
engine of ``paths.render_path``) for the publish step to commit.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.command_lines import (
    UnsafeCommandError,
    check_command_line,
    describe_character,
    unsafe_character,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_jobs import (
    CommandsRequest,
    Runner,
    device_info,
    execute,
    unexpected_failure,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import write_if_changed
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import CommandOutput, DeviceJobInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import confine, render_path
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import DeviceError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.validation import _error_line

if has_library("jinja2"):
    from jinja2 import StrictUndefined, TemplateError
    from jinja2.runtime import Macro
    from jinja2.sandbox import ImmutableSandboxedEnvironment
else:  # pragma: no cover - jinja2 comes with ansible-core; require("jinja2") raises first
    ImmutableSandboxedEnvironment = object
    StrictUndefined = None
    Macro = type("Macro", (), {})
    TemplateError = type("TemplateError", (Exception,), {})

DEFAULT_OUTPUT_PATH_TEMPLATE = "commands/{device_name}.txt"


class CommandTemplateError(NautobotBackupError):
    """The command template did not render, or rendered to no command."""


class _UnsafeValue(Exception):
    """Raised inside the sandbox when an expression's value holds a character that would split a command."""

    def __init__(self, text: str, char: str) -> None:
        self.text = text
        self.char = char
        super().__init__(describe_character(char))


class _TemplateText(str):
    """A macro's output: the template's own text with every inserted value already checked."""


def _checked_value(value: Any) -> Any:
    """The sandbox's finalize: refuse an expression value that would add a command line or a control key."""
    if isinstance(value, _TemplateText):
        return value
    text = value if isinstance(value, str) else str(value)  # str() of an undefined name raises, as Jinja would
    char = unsafe_character(text)
    if char is not None:
        raise _UnsafeValue(text, char)
    return value


class _CommandEnvironment(ImmutableSandboxedEnvironment):  # type: ignore[misc,valid-type]
    """The sandbox for command templates: every ``{{ }}`` value is checked, macro output is the template's own."""

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, finalize=_checked_value
        )

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 # pylint: disable=no-self-argument
        """Call as the sandbox does; mark what a macro (or caller()) returns as template text."""
        result = super().call(__context, __obj, *args, **kwargs)
        return _TemplateText(result) if isinstance(__obj, Macro) and isinstance(result, str) else result


def render_commands(
    template: str, facts: Optional[Mapping[str, Any]], job_parameters: Optional[Mapping[str, Any]], device: str
) -> List[str]:
    """Render template for one device and return its non-empty lines (stripped of spaces), one command each.

    Lines are split at the template's own line breaks only. Raises CommandTemplateError (the device
    is then never contacted) when the template does not render, renders to no command, or when an
    inserted value or a resulting line holds a line break or another control character.
    """
    if not isinstance(template, str) or not template.strip():
        raise CommandTemplateError(f"{device}: no command template was given")
    require("jinja2")
    data = {"nautobot": dict(facts or {}), "job_parameters": dict(job_parameters or {})}
    try:
        text = _CommandEnvironment().from_string(template).render(**data)
    except _UnsafeValue as exc:
        source = _value_source(exc.text, exc.char, data)
        raise CommandTemplateError(
            f"{device}: {source} contains {describe_character(exc.char)}; a value inserted into the command template "
            "must not hold line breaks or other control characters (only the template's own lines are commands). "
            "The device was not contacted."
        ) from None
    except TemplateError as exc:
        raise CommandTemplateError(f"{device}: the command template failed to render: {exc}") from exc
    commands = []
    for number, line in enumerate(text.split("\n"), start=1):
        command = line.strip(" \t")
        if not command:
            continue
        try:
            check_command_line(command, f"line {number} of the rendered command template")
        except UnsafeCommandError as exc:
            raise CommandTemplateError(f"{device}: {exc}") from None
        commands.append(command)
    if not commands:
        raise CommandTemplateError(f"{device}: the command template rendered to no command (only blank lines)")
    return commands


def _value_source(text: str, char: str, data: Mapping[str, Any]) -> str:
    """Name the variable an unsafe value came from (e.g. ``the value of nautobot.serial``), without its content."""
    exact, partial, holders = [], [], []
    folded = text.casefold()
    for path, value in _strings(data, ""):
        if char not in value:
            continue
        holders.append(path)
        if value == text:
            exact.append(path)
        elif value in text or text in value or value.casefold() in folded or folded in value.casefold():
            partial.append(path)
    found = exact or partial
    if found:
        return f"the value of {found[0]}"
    if len(holders) == 1:
        return f"a value an expression inserts (probably from {holders[0]})"
    return "a value an expression inserts"


def _strings(value: Any, path: str, depth: int = 0) -> Iterator[Tuple[str, str]]:
    """Yield (dotted path, string) for every string in nested dicts and lists (bounded depth)."""
    if isinstance(value, str):
        yield path, value
    elif depth < 12 and isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif depth < 12 and isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]", depth + 1)


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
    except Exception as exc:  # noqa: BLE001 - one device's unexpected error (a bug) must not stop the others
        return unexpected_failure(request, "run_commands", exc, commands=commands)
    return device_info(
        request, "run_commands", commands=commands, outputs=outputs, output_file=output_file, changed=changed
    )


def rejected_commands(outputs: Sequence[CommandOutput]) -> List[str]:
    """Describe each command whose output is a device error message (by marker and line, never the output)."""
    rejected = []
    for item in outputs:
        problem = _error_line(item.output.split("\n"))
        if problem:
            rejected.append(f"'{item.command}' (output line {problem[1]} matches the error marker '{problem[0]}')")
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
