# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create the dcim.device custom fields the write-back uses, idempotently.

``parse_fields`` checks the wanted fields, ``plan`` compares them with what Nautobot holds (pure: no I/O)
and returns the actions still needed, ``apply`` sends them. A field that exists with another type is an
error naming it: a field is never retyped, because that would lose or corrupt the values devices hold.
Labels and descriptions of existing fields are left as they are (an administrator may have changed them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError

DEVICE_CONTENT_TYPE = "dcim.device"
CUSTOM_FIELDS_PATH = "/api/extras/custom-fields/"
CHOICES_PATH = "/api/extras/custom-field-choices/"

# The custom field types of Nautobot 3.x.
FIELD_TYPES = ("text", "integer", "boolean", "date", "url", "select", "multi-select", "json", "markdown")
_CHOICE_TYPES = ("select", "multi-select")
_CHOICE_WEIGHT_STEP = 100


class CustomFieldError(NautobotBackupError):
    """A wanted field is invalid, or exists in Nautobot with another type."""


@dataclass(frozen=True)
class FieldSpec:
    """One wanted custom field."""

    key: str
    label: str
    type: str
    choices: Tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class ExistingField:
    """A custom field as Nautobot holds it (any content type)."""

    id: str
    key: str
    type: str
    content_types: Tuple[str, ...] = ()
    choices: Tuple[str, ...] = ()
    label: str = ""


@dataclass(frozen=True)
class Action:
    """One change still needed: create a field, add dcim.device to its content types, or add choices."""

    action: str  # create | add_content_type | add_choices
    key: str
    field_id: str = ""
    content_types: Tuple[str, ...] = ()
    choices: Tuple[str, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        """Return the action for module results."""
        out: Dict[str, Any] = {"action": self.action, "key": self.key}
        if self.action == "add_content_type":
            out["content_types"] = list(self.content_types)
        if self.choices:
            out["choices"] = list(self.choices)
        return out


@dataclass
class ApplyResult:
    """What apply sent: the actions done and the number of POST/PATCH requests."""

    done: List[Action] = field(default_factory=list)
    write_requests: int = 0


def parse_fields(raw: Iterable[Mapping[str, Any]]) -> List[FieldSpec]:
    """Check and normalise the wanted fields; raise CustomFieldError naming the bad entry."""
    specs: List[FieldSpec] = []
    seen: Dict[str, int] = {}
    for index, entry in enumerate(raw):
        key = str(entry.get("key") or "").strip()
        if not key:
            raise CustomFieldError(f"fields[{index}] has no key")
        if key in seen:
            raise CustomFieldError(f"custom field '{key}' is listed twice (fields[{seen[key]}] and fields[{index}])")
        seen[key] = index
        kind = str(entry.get("type") or "").strip()
        if kind not in FIELD_TYPES:
            raise CustomFieldError(
                f"custom field '{key}' has type '{kind}'; Nautobot field types are {', '.join(FIELD_TYPES)}"
            )
        choices = tuple(str(choice) for choice in entry.get("choices") or ())
        if kind in _CHOICE_TYPES and not choices:
            raise CustomFieldError(f"custom field '{key}' is of type {kind} and needs choices")
        if choices and kind not in _CHOICE_TYPES:
            raise CustomFieldError(f"custom field '{key}' is of type {kind}; only select fields have choices")
        label = str(entry.get("label") or key.replace("_", " ").capitalize())
        specs.append(FieldSpec(key, label, kind, choices, str(entry.get("description") or "")))
    return specs


def parse_existing(records: Iterable[Any], choice_records: Iterable[Any] = ()) -> Dict[str, ExistingField]:
    """Return Nautobot's custom field records (REST) by key, with the choices of each."""
    choices: Dict[str, List[Tuple[int, str]]] = {}
    for record in choice_records:
        if not isinstance(record, Mapping):
            continue
        owner = record.get("custom_field")
        owner_id = owner.get("id") if isinstance(owner, Mapping) else owner
        choices.setdefault(str(owner_id), []).append((int(record.get("weight") or 0), str(record.get("value"))))
    fields: Dict[str, ExistingField] = {}
    for record in records:
        if not isinstance(record, Mapping) or not record.get("key"):
            continue
        kind = record.get("type")
        kind = kind.get("value") if isinstance(kind, Mapping) else kind
        field_id = str(record.get("id") or "")
        fields[str(record["key"])] = ExistingField(
            id=field_id,
            key=str(record["key"]),
            type=str(kind),
            content_types=tuple(str(item) for item in record.get("content_types") or ()),
            choices=tuple(value for _weight, value in sorted(choices.get(field_id, []))),
            label=str(record.get("label") or ""),
        )
    return fields


def plan(wanted: Sequence[FieldSpec], existing: Mapping[str, ExistingField]) -> List[Action]:
    """Return the actions that make Nautobot hold every wanted field on dcim.device; [] when all are right.

    Raises CustomFieldError, before any action, when a wanted field exists with another type.
    """
    conflicts = [
        f"'{spec.key}' is {existing[spec.key].type}, wanted {spec.type}"
        for spec in wanted
        if spec.key in existing and existing[spec.key].type != spec.type
    ]
    if conflicts:
        raise CustomFieldError(
            "custom field exists in Nautobot with another type (it is never retyped; delete or rename it, or "
            f"choose another key): {'; '.join(conflicts)}"
        )
    actions: List[Action] = []
    for spec in wanted:
        found = existing.get(spec.key)
        if found is None:
            actions.append(Action("create", spec.key, content_types=(DEVICE_CONTENT_TYPE,), choices=spec.choices))
            continue
        if DEVICE_CONTENT_TYPE not in found.content_types:
            actions.append(
                Action(
                    "add_content_type", spec.key, found.id, content_types=found.content_types + (DEVICE_CONTENT_TYPE,)
                )
            )
        missing = tuple(choice for choice in spec.choices if choice not in found.choices)
        if missing:
            actions.append(Action("add_choices", spec.key, found.id, choices=missing))
    return actions


def read_existing(client: Any) -> Dict[str, ExistingField]:
    """Read every custom field and every select choice from Nautobot (all pages); raise NautobotAPIError."""
    return parse_existing(client.get_all(CUSTOM_FIELDS_PATH), client.get_all(CHOICES_PATH))


def apply(
    client: Any, wanted: Sequence[FieldSpec], actions: Sequence[Action], existing: Mapping[str, ExistingField]
) -> ApplyResult:
    """Send the actions in order; raise NautobotAPIError on the first failure (what was done is kept in Nautobot)."""
    specs = {spec.key: spec for spec in wanted}
    result = ApplyResult()
    for action in actions:
        spec = specs[action.key]
        if action.action == "create":
            created = client.post(
                CUSTOM_FIELDS_PATH,
                {
                    "key": spec.key,
                    "label": spec.label,
                    "type": spec.type,
                    "description": spec.description,
                    "content_types": [DEVICE_CONTENT_TYPE],
                },
            )
            result.write_requests += 1
            field_id = str(created.get("id") or "") if isinstance(created, Mapping) else ""
            result.write_requests += _add_choices(client, field_id, action.choices, ())
        elif action.action == "add_content_type":
            client.patch(f"{CUSTOM_FIELDS_PATH}{action.field_id}/", {"content_types": list(action.content_types)})
            result.write_requests += 1
        else:
            found = existing.get(action.key)
            result.write_requests += _add_choices(
                client, action.field_id, action.choices, found.choices if found else ()
            )
        result.done.append(action)
    return result


def _add_choices(client: Any, field_id: str, choices: Sequence[str], present: Sequence[str]) -> int:
    """POST each choice after the present ones; return the number of requests."""
    if choices and not field_id:
        raise CustomFieldError("Nautobot did not return the id of the custom field it created")
    weight = (len(present) + 1) * _CHOICE_WEIGHT_STEP
    for offset, value in enumerate(choices):
        client.post(
            CHOICES_PATH, {"custom_field": field_id, "value": value, "weight": weight + offset * _CHOICE_WEIGHT_STEP}
        )
    return len(choices)


def summary(actions: Sequence[Action], check_mode: bool = False) -> str:
    """A one-line message for the module result."""
    if not actions:
        return f"every custom field exists on {DEVICE_CONTENT_TYPE} with the right type"
    verb = "would " if check_mode else ""
    parts = []
    for action in actions:
        if action.action == "create":
            parts.append(f"{verb}create '{action.key}'")
        elif action.action == "add_content_type":
            parts.append(f"{verb}add {DEVICE_CONTENT_TYPE} to '{action.key}'")
        else:
            parts.append(f"{verb}add choices {', '.join(action.choices)} to '{action.key}'")
    return "; ".join(parts)
