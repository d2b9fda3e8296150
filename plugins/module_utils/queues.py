# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""check_queues: read interface counters, parse them with TextFSM, flag queue drops over a threshold.

Per platform (netmiko device type), one command and its parser:

- cisco_ios / cisco_xe: ``show interfaces``, ntc-templates; input = the input queue drops of
  ``Input queue: size/max/drops/flushes``, output = ``Total output drops``;
- cisco_nxos: ``show interface``, ntc-templates; input / output = ``input discard`` /
  ``output discard``;
- arista_eos: ``show interfaces``; ntc-templates' EOS template reads no drop counters, so the
  collection's own TextFSM template below reads ``input discards`` / ``output discards``.

An interface whose input or output drops exceed the threshold is flagged, and the device
fails with a message naming those interfaces. A platform outside this table, or output the
parser cannot read, is a per-device error. The commands are this table's constants: no
Nautobot value or job parameter reaches them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library
from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup_commands import (
    UnsupportedPlatformError,
    canonical_device_type,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.device_jobs import (
    CommandsRequest,
    Runner,
    device_info,
    execute,
    unexpected_failure,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceJobInfo, InterfaceQueueDrops
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import DeviceError

if has_library("ntc-templates"):
    import textfsm
    from ntc_templates.parse import parse_output
else:  # pragma: no cover - _deps.require("ntc-templates") raises first
    textfsm = None
    parse_output = None

EOS_DROPS_TEMPLATE = r"""Value Required INTERFACE (\S+)
Value INPUT_DISCARDS (\d+)
Value OUTPUT_DISCARDS (\d+)

Start
  ^\S+\s+is\s+.+,\s+line\s+protocol\s+is -> Continue.Record
  ^${INTERFACE}\s+is\s+.+,\s+line\s+protocol\s+is
  ^\s+\d+\s+input\s+errors,.*\s${INPUT_DISCARDS}\s+input\s+discards
  ^\s+\d+\s+output\s+errors,.*\s${OUTPUT_DISCARDS}\s+output\s+discards
"""


@dataclass(frozen=True)
class QueueParser:
    """How to read one platform's queue drops: the command, the parser and its two fields."""

    command: str
    input_field: str
    output_field: str
    template: Optional[str] = None  # own TextFSM template; None: ntc-templates for (platform, command)


QUEUE_PARSERS: Dict[str, QueueParser] = {
    "cisco_ios": QueueParser("show interfaces", "queue_drops", "queue_output_drops"),
    "cisco_xe": QueueParser("show interfaces", "queue_drops", "queue_output_drops"),
    "cisco_nxos": QueueParser("show interface", "input_discards", "output_discards"),
    "arista_eos": QueueParser("show interfaces", "input_discards", "output_discards", EOS_DROPS_TEMPLATE),
}


class QueueParseError(NautobotBackupError):
    """The interface counters could not be parsed."""

    failure_class = "invalid_output"


def queue_parser(device_type: str) -> QueueParser:
    """Return the parser for a netmiko device type, or raise UnsupportedPlatformError."""
    key = canonical_device_type(device_type)
    if key not in QUEUE_PARSERS:
        raise UnsupportedPlatformError(
            f"check_queues does not support netmiko device type '{device_type}'. Supported: "
            f"{', '.join(sorted(QUEUE_PARSERS))}",
            device_type=device_type,
        )
    return QUEUE_PARSERS[key]


def _records(parser: QueueParser, platform: str, output: str) -> List[Dict[str, Any]]:
    """Parse output into a list of dicts with lower-case keys."""
    try:
        if parser.template is None:
            return list(parse_output(platform=platform, command=parser.command, data=output))
        fsm = textfsm.TextFSM(io.StringIO(parser.template))
        return [dict(zip((h.lower() for h in fsm.header), row, strict=True)) for row in fsm.ParseText(output)]
    except textfsm.TextFSMError as exc:
        # TextFSM's message quotes the input line it stopped at: device output stays out of messages.
        raise QueueParseError(f"cannot parse the output of '{parser.command}' with its TextFSM template") from exc


def _count(value: Any) -> int:
    """A counter from a parsed field ('' or missing means 0)."""
    text = str(value or "").strip()
    return int(text) if text.isdigit() else 0


def parse_queue_drops(device_type: str, output: str, threshold: int) -> List[InterfaceQueueDrops]:
    """Return each interface's input/output drops, flagged when either exceeds threshold."""
    parser = queue_parser(device_type)
    platform = canonical_device_type(device_type) or device_type
    if platform == "cisco_xe":
        platform = "cisco_ios"
    records = _records(parser, platform, output)
    if not records:
        raise QueueParseError(f"'{parser.command}' printed no interface the parser recognises")
    result = []
    for record in records:
        inp, out = _count(record.get(parser.input_field)), _count(record.get(parser.output_field))
        result.append(
            InterfaceQueueDrops(
                interface=str(record.get("interface")),
                input_drops=inp,
                output_drops=out,
                over_threshold=inp > threshold or out > threshold,
            )
        )
    return result


def check_device_queues(request: CommandsRequest, threshold: int, run: Optional[Runner] = None) -> DeviceJobInfo:
    """Read, parse and judge one device's queue drops; never raises for a device failure."""
    commands: Sequence[str] = []
    fields: Dict[str, Any] = {"drop_threshold": threshold}
    try:
        if threshold < 0:
            raise NautobotBackupError(f"drop_threshold must be 0 or more, got {threshold}")
        commands = [queue_parser(request.settings.device_type).command]
        output = execute(request, commands, run)[0].output
        interfaces = parse_queue_drops(request.settings.device_type, output, threshold)
    except (DeviceError, NautobotBackupError) as exc:
        return device_info(
            request,
            "check_queues",
            commands=list(commands),
            error=str(exc),
            error_class=getattr(exc, "failure_class", "other"),
            **fields,
        )
    except Exception as exc:  # noqa: BLE001 - one device's unexpected error (a bug) must not stop the others
        return unexpected_failure(request, "check_queues", exc, commands=list(commands), **fields)
    flagged = [item.interface for item in interfaces if item.over_threshold]
    # The parsed counters are the result; the raw 'show interfaces' text (hundreds of lines) is left out.
    fields.update(commands=list(commands), interfaces=interfaces, flagged_interfaces=flagged)
    if flagged:
        details = ", ".join(
            f"{item.interface} (in {item.input_drops}, out {item.output_drops})"
            for item in interfaces
            if item.over_threshold
        )
        fields.update(
            error=f"{len(flagged)} interface(s) over the queue-drop threshold of {threshold}: {details}",
            error_class="other",
        )
    return device_info(request, "check_queues", **fields)
