# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render backup file paths from templates such as ``{location.parent.name}/{device_name}.cfg``.

Templates are stored in AWX job templates, so they are checked rather than merely formatted:
a missing value (a device without an asset tag) is an error, not a file literally named
``{asset_tag}.cfg``; a location called ``../../etc`` cannot leave the repository; and two
devices can never silently overwrite each other's file. This is a small hand-written parser (no Jinja,
no ``str.format``: a template can only name values, never run code) with these rules
(``docs/docsite/rst/paths.rst`` is the user documentation):

- ``{device_name}`` is the inventory host name, ``{name}`` the Nautobot device name (falling back
  to the host name), ``{date}`` / ``{timestamp}`` come from ONE run stamp shared by every device
  (``clock.run_stamp``), and any other placeholder is a dotted path into the host's ``nautobot`` facts
  (``{location.parent.name}``, ``{custom_fields.net}``, ``{tags.0}`` ...);
- ``{location.name | location_type:City}`` walks the location and its parents up to the one
  whose type is ``City`` (case-insensitive) and yields its name;
- an unknown placeholder, or one without a value (missing key, null, empty), is an error naming
  the device and the placeholder; nothing is ever left unrendered;
- values are made path-safe (see ``clean_value``), templates may not be absolute, contain ``..``,
  empty or hidden segments or backslashes, and a rendered path only ever holds letters, digits,
  ``-_.+@`` and ``/``;
- ``confine`` resolves a path against the repository checkout, following symlinks already there,
  and refuses anything that leaves it or enters ``.git``;
- ``check_collisions`` refuses two backup files that map to the same path, compared
  case-insensitively because checkouts on macOS, Windows or SMB shares cannot hold both.

Every error is a ``PathTemplateError`` raised before anything is written.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError

DEFAULT_RUNNING_TEMPLATE = "backups/{device_name}.running-config"
DEFAULT_STARTUP_TEMPLATE = "backups/{device_name}.startup-config"

# Top-level keys of the ``nautobot`` facts built by device_query.device_facts (its GraphQL
# selection, with _custom_field_data renamed custom_fields). A placeholder starting with one
# of these is "known" even on a host that lacks it: the error then says "has no value"
# rather than "unknown placeholder". Keys a host's facts carry beyond these (the inventory's
# extra_fields) are known too. tests/unit/.../test_paths.py keeps this in step with device_query.
FACT_FIELDS = (
    "id",
    "name",
    "serial",
    "asset_tag",
    "primary_ip4",
    "primary_ip6",
    "status",
    "role",
    "platform",
    "device_type",
    "tenant",
    "rack",
    "location",
    "tags",
    "custom_fields",
)

# What each known fact holds, below the top level: the inventory (device_query.device_facts) leaves
# null and empty values out, so a key named here that a host lacks was null (or empty) in Nautobot,
# and a template naming it fails exactly as it did when the facts held the null: "<path> is null".
# A dict: the known keys one level down; None: a value; "list": tags (absent means no tags); "any":
# custom_fields (its keys are the instance's own: an absent one says "custom_fields has no key").
_LOCATION_LEVEL: Dict[str, Any] = {"name": None, "location_type": {"name": None}}
FACT_SHAPE: Dict[str, Any] = {
    "id": None,
    "name": None,
    "serial": None,
    "asset_tag": None,
    "primary_ip4": {"host": None},
    "primary_ip6": {"host": None},
    "status": {"name": None},
    "role": {"name": None},
    "platform": {"name": None, "network_driver": None, "manufacturer": {"name": None}},
    "device_type": {"model": None, "manufacturer": {"name": None}},
    "tenant": {"name": None, "tenant_group": {"name": None}},
    "rack": {"name": None, "rack_group": {"name": None}},
    "location": {"id": None, **_LOCATION_LEVEL, "parent": {**_LOCATION_LEVEL, "parent": dict(_LOCATION_LEVEL)}},
    "tags": "list",
    "custom_fields": "any",
}

# Placeholders that do not read the facts.
BUILTIN_PLACEHOLDERS = ("device_name", "name", "date", "timestamp")
FILTERS = ("location_type",)

# Besides letters and digits (Unicode, NFC), the only characters a rendered path may hold.
SAFE_PUNCTUATION = frozenset("-_.+@")
MAX_SEGMENT_BYTES = 255

_FIELD = r"[A-Za-z0-9_-]+"
_EXPRESSION = re.compile(
    rf"^\s*(?P<path>{_FIELD}(?:\.{_FIELD})*)\s*(?:\|\s*(?P<filter>[A-Za-z_]+)\s*(?::(?P<arg>[^|:]*))?)?\s*$"
)
_MAX_ERRORS_SHOWN = 20
_NO_FACTS = "the host has no nautobot facts; only {device_name}, {name}, {date} and {timestamp} work without them"


class PathTemplateError(NautobotBackupError):
    """A backup path could not be rendered, is unsafe, leaves the checkout or collides.

    ``device`` is the inventory host name (None when no device is involved, e.g. a bad run
    stamp) and ``placeholder`` the placeholder as written, braces included (None when the
    error is not about one placeholder).
    """

    def __init__(
        self,
        message: str,
        device: Optional[str] = None,
        placeholder: Optional[str] = None,
        template: Optional[str] = None,
    ) -> None:
        self.device = device
        self.placeholder = placeholder
        self.template = template
        super().__init__(message)

    def to_dict(self) -> Dict[str, Any]:
        """Return the error as a JSON-ready dict (for module results)."""
        return {"device": self.device, "placeholder": self.placeholder, "msg": str(self)}


class PathCollisionError(PathTemplateError):
    """Two backup files (of two devices, or of one device) map to the same path."""

    def __init__(self, message: str, devices: Sequence[str], path: str) -> None:
        self.devices = tuple(devices)
        self.path = path
        super().__init__(message, device=self.devices[0] if self.devices else None)

    def to_dict(self) -> Dict[str, Any]:
        """Return the error as a JSON-ready dict, with every device involved."""
        return dict(super().to_dict(), devices=list(self.devices))


class PathPlanError(PathTemplateError):
    """Rendering the paths of many devices failed for at least one device (all errors in ``errors``)."""

    def __init__(self, errors: Sequence[PathTemplateError]) -> None:
        self.errors = list(errors)
        shown = [str(error) for error in self.errors[:_MAX_ERRORS_SHOWN]]
        more = len(self.errors) - len(shown)
        if more > 0:
            shown.append(f"... and {more} more error(s)")
        first = self.errors[0] if self.errors else None
        if len(self.errors) == 1:
            message = str(self.errors[0])
        else:
            message = f"{len(self.errors)} backup path problems: " + "; ".join(shown)
        super().__init__(
            message,
            device=first.device if first else None,
            placeholder=first.placeholder if first else None,
        )


@dataclass(frozen=True)
class _Placeholder:
    """One ``{...}`` of a template, parsed."""

    text: str  # as written, braces included
    path: Tuple[str, ...]
    filter_name: Optional[str] = None
    filter_arg: Optional[str] = None


# A parsed template: a tuple of segments, each a tuple of literal strings and placeholders.
_Segment = Tuple[Union[str, _Placeholder], ...]


def _where(device: Optional[str], template: Optional[str]) -> str:
    """Return the message prefix naming the device and the template."""
    parts = []
    if device is not None:
        parts.append(f"device {str(device)!r}")
    if template is not None:
        parts.append(f"backup path template {str(template)!r}")
    return ": ".join(parts) + ": " if parts else ""


def _is_safe_char(char: str) -> bool:
    """Tell whether char may appear in a rendered path segment."""
    return char.isalnum() or char in SAFE_PUNCTUATION


# ------------------------------------------------------------------------------- parsing
@lru_cache(maxsize=64)
def _parse(template: str) -> Tuple[_Segment, ...]:
    """Parse a template into segments; raise PathTemplateError (device unknown) on bad syntax.

    Cached: a run renders the same two templates for every device.
    """

    def fail(reason: str, placeholder: Optional[str] = None) -> PathTemplateError:
        return PathTemplateError(_where(None, template) + reason, placeholder=placeholder, template=template)

    if not template:
        raise fail("the template is empty")
    if "\\" in template:
        raise fail("backslashes are not allowed; separate directories with '/'")
    if template.startswith("/"):
        raise fail("the template is an absolute path; it must be relative to the repository")
    segments: List[_Segment] = []
    for raw_segment in template.split("/"):
        if raw_segment == "":
            raise fail("the template has an empty path segment ('//' or a trailing '/')")
        if raw_segment in (".", ".."):
            raise fail(f"the template has a {raw_segment!r} segment; paths may not leave or repeat their directory")
        if raw_segment.startswith("."):
            raise fail(
                f"the segment {raw_segment!r} starts with '.'; hidden names such as .git or .gitattributes are refused"
            )
        segments.append(_parse_segment(raw_segment, fail))
    return tuple(segments)


def _parse_segment(raw: str, fail: Any) -> _Segment:
    """Parse one '/'-free part of a template into literals and placeholders."""
    parts: List[Union[str, _Placeholder]] = []
    position = 0
    while position < len(raw):
        start = raw.find("{", position)
        end = raw.find("}", position)
        if end != -1 and (start == -1 or end < start):
            raise fail(f"unmatched '}}' in {raw!r}")
        if start == -1:
            parts.append(_literal(raw[position:], fail))
            break
        if start > position:
            parts.append(_literal(raw[position:start], fail))
        close = raw.find("}", start)
        nested = raw.find("{", start + 1)
        if close == -1:
            raise fail(f"unclosed '{{' in {raw!r} (placeholders cannot contain '/')")
        if nested != -1 and nested < close:
            raise fail(f"nested '{{' in {raw!r}")
        parts.append(_placeholder(raw[start : close + 1], fail))
        position = close + 1
    return tuple(parts)


def _literal(text: str, fail: Any) -> str:
    """Check the literal text of a template: the same characters a cleaned value may hold."""
    text = unicodedata.normalize("NFC", text)
    for char in text:
        if not _is_safe_char(char):
            shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
            raise fail(
                f"the character {shown} is not allowed in a template's literal text "
                "(use letters, digits, '-', '_', '.', '+', '@' and '/')"
            )
    return text


def _placeholder(text: str, fail: Any) -> _Placeholder:
    """Parse ``{path}`` or ``{path | filter:arg}``."""
    match = _EXPRESSION.match(text[1:-1])
    if not match:
        raise fail(
            f"cannot parse the placeholder {text} (expected a dotted field name such as {{location.name}}, "
            "optionally followed by '| location_type:<type>')",
            placeholder=text,
        )
    path = tuple(match.group("path").split("."))
    filter_name = match.group("filter")
    if filter_name is None:
        return _Placeholder(text, path)
    arg = (match.group("arg") or "").strip()
    if filter_name not in FILTERS:
        raise fail(f"unknown filter {filter_name!r} in {text} (known: {', '.join(FILTERS)})", placeholder=text)
    if not arg:
        raise fail(f"the filter in {text} needs a location type, e.g. location_type:City", placeholder=text)
    if path[0] != "location" or any(part != "parent" for part in path[1:-1]):
        raise fail(
            f"the location_type filter in {text} applies to the location, e.g. {{location.name | location_type:City}}",
            placeholder=text,
        )
    return _Placeholder(text, path, filter_name, arg)


def validate_template(template: str) -> None:
    """Check a template's syntax and safety without any device (raise PathTemplateError)."""
    if not isinstance(template, str):
        raise PathTemplateError(f"a backup path template must be a string, not {type(template).__name__}")
    _parse(template.strip())


def placeholders(template: str) -> List[str]:
    """Return the placeholders of a template as written, in order (after validating it)."""
    validate_template(template)
    return [part.text for segment in _parse(template.strip()) for part in segment if isinstance(part, _Placeholder)]


# ------------------------------------------------------------------------------- values
def clean_value(value: str) -> str:
    """Return value made safe as (part of) one path segment; "" when nothing safe remains.

    NFC-normalised; whitespace (tabs and newlines included) becomes ``_``; other control and
    format characters are removed; every character other than a letter, a digit or ``-_.+@``
    (so ``/``, ``\\``, ``:*?"<>|`` ...) becomes ``_``;
    runs of ``_`` and of ``.`` collapse to one (no ``..`` survives); leading and trailing
    ``.`` and ``_`` are stripped (no hidden names, no ``_`` left over from outer spaces).
    """
    out: List[str] = []
    for char in unicodedata.normalize("NFC", value):
        if char.isspace():
            out.append("_")
        elif not unicodedata.category(char).startswith("C"):
            out.append(char if _is_safe_char(char) else "_")
    cleaned = re.sub(r"_{2,}", "_", "".join(out))
    cleaned = re.sub(r"\.{2,}", ".", cleaned)
    return cleaned.strip("._")


def _render_value(value: Any, describe: str, fail: Any, placeholder: _Placeholder) -> str:
    """Turn a looked-up value into a cleaned path part, or raise naming the placeholder."""
    if value is None:
        raise fail(f"placeholder {placeholder.text} has no value ({describe} is null)", placeholder)
    if isinstance(value, Mapping):
        keys = ", ".join(sorted(str(key) for key in value)) or "none"
        raise fail(
            f"placeholder {placeholder.text} names a dict ({describe}), not a value; name one of its fields ({keys})",
            placeholder,
        )
    if isinstance(value, (list, tuple)):
        raise fail(
            f"placeholder {placeholder.text} names a list ({describe}); pick an item, e.g. {{{describe}.0}}",
            placeholder,
        )
    if not isinstance(value, (str, int, float)):
        raise fail(f"placeholder {placeholder.text} has a value of type {type(value).__name__}", placeholder)
    text = str(value)
    if not text.strip():
        raise fail(f"placeholder {placeholder.text} has no value ({describe} is empty)", placeholder)
    cleaned = clean_value(text)
    if not cleaned:
        raise fail(
            f"placeholder {placeholder.text} has the value {text!r}, which is empty once made path-safe", placeholder
        )
    return cleaned


def _lookup(facts: Mapping[str, Any], placeholder: _Placeholder, fail: Any) -> Tuple[Any, str]:
    """Walk a dotted path through the facts; return (value, dotted path walked)."""
    node: Any = facts
    shape: Any = FACT_SHAPE
    path = placeholder.path
    for index, key in enumerate(path):
        parent = ".".join(path[:index])
        known = shape.get(key, "unknown") if isinstance(shape, dict) else "unknown"
        shape = known
        if isinstance(node, Mapping):
            if key in node:
                node = node[key]
            elif index == 0 and key not in FACT_FIELDS:
                names = ", ".join(sorted(set(BUILTIN_PLACEHOLDERS) | set(FACT_FIELDS) | set(map(str, facts))))
                raise fail(f"unknown placeholder {placeholder.text} (known names start with: {names})", placeholder)
            elif index == 0 and not facts:
                raise fail(f"placeholder {placeholder.text} has no value ({_NO_FACTS})", placeholder)
            elif known == "list":
                node = []
            elif known == "any":
                node = {}
            elif known != "unknown":
                node = None  # left out by the inventory because it was null: fail as null
            else:
                raise fail(f"placeholder {placeholder.text} has no value ({parent} has no key {key!r})", placeholder)
        elif isinstance(node, (list, tuple)):
            if not key.isdigit() or int(key) >= len(node):
                raise fail(
                    f"placeholder {placeholder.text} has no value ({parent} is a list of {len(node)} item(s); "
                    f"{key!r} is not an index of it)",
                    placeholder,
                )
            node = node[int(key)]
        elif node is None:
            raise fail(f"placeholder {placeholder.text} has no value ({parent} is null)", placeholder)
        else:
            raise fail(
                f"placeholder {placeholder.text} is wrong: {parent} is a value, it has no field {key!r}", placeholder
            )
    return node, ".".join(path)


def _location_type(facts: Mapping[str, Any], placeholder: _Placeholder, fail: Any) -> Tuple[Any, str]:
    """Apply ``| location_type:<type>``: the nearest location of that type, from the start node upwards."""
    node: Any = facts.get("location")
    walked = "location"
    path = placeholder.path[1:]
    while True:
        if not isinstance(node, Mapping):
            reason = _NO_FACTS if not facts else f"{walked} is null"
            raise fail(f"placeholder {placeholder.text} has no value ({reason})", placeholder)
        if not path or path[0] != "parent":
            break
        node = node.get("parent")
        walked += ".parent"
        path = path[1:]
    field = path[0] if path else "name"
    wanted = str(placeholder.filter_arg).casefold()
    chain = []
    while isinstance(node, Mapping):
        location_type = node.get("location_type")
        type_name = location_type.get("name") if isinstance(location_type, Mapping) else None
        chain.append(f"{node.get('name')} ({type_name})")
        if type_name is not None and str(type_name).casefold() == wanted:
            return node.get(field), f"{walked}[location_type={type_name}].{field}"
        node = node.get("parent")
        walked += ".parent"
    raise fail(
        f"placeholder {placeholder.text}: filter location_type:{placeholder.filter_arg} found no location of type "
        f"{placeholder.filter_arg!r} in the location chain {' > '.join(chain)}",
        placeholder,
    )


def _resolve(
    placeholder: _Placeholder,
    facts: Mapping[str, Any],
    device_name: str,
    stamp: Optional[Mapping[str, str]],
    fail: Any,
) -> str:
    """Return the cleaned value of one placeholder for one device."""
    path = placeholder.path
    if placeholder.filter_name == "location_type":
        value, describe = _location_type(facts, placeholder, fail)
    elif path == ("device_name",):
        value, describe = device_name, "device_name"
    elif path == ("name",):
        value, describe = facts.get("name") or device_name, "name"
    elif path in (("date",), ("timestamp",)):
        if not stamp or not stamp.get(path[0]):
            raise fail(f"placeholder {placeholder.text} has no value (no run stamp was given)", placeholder)
        value, describe = stamp[path[0]], path[0]
    else:
        value, describe = _lookup(facts, placeholder, fail)
    return _render_value(value, describe, fail, placeholder)


def render_path(
    template: str,
    facts: Optional[Mapping[str, Any]],
    device_name: str,
    stamp: Optional[Mapping[str, str]],
) -> str:
    """Render one template for one device into a safe, relative POSIX path.

    facts is the host's ``nautobot`` dict (None or {} for hosts without Nautobot facts);
    stamp is the run's ``run_stamp()``, the same for every device. Raises PathTemplateError
    naming the device (and the placeholder, when one is at fault).
    """
    if not isinstance(template, str):
        raise PathTemplateError(
            _where(device_name, None) + f"a backup path template must be a string, not {type(template).__name__}",
            device=device_name,
        )
    template = template.strip()

    def fail(reason: str, placeholder: Optional[_Placeholder] = None) -> PathTemplateError:
        return PathTemplateError(
            _where(device_name, template) + reason,
            device=device_name,
            placeholder=placeholder.text if placeholder else None,
            template=template,
        )

    if not device_name:
        raise fail("no device name was given")
    if facts is None:
        facts = {}
    if not isinstance(facts, Mapping):
        raise fail(f"the nautobot facts must be a dict, not {type(facts).__name__}")
    try:
        segments = _parse(template)
    except PathTemplateError as exc:
        raise PathTemplateError(
            _where(device_name, None) + str(exc), device=device_name, placeholder=exc.placeholder, template=template
        ) from None
    rendered = []
    for segment in segments:
        text = "".join(
            part if isinstance(part, str) else _resolve(part, facts, device_name, stamp, fail) for part in segment
        )
        if len(text.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise fail(f"the path segment {text[:40]!r}... is longer than {MAX_SEGMENT_BYTES} bytes")
        rendered.append(text)
    return "/".join(rendered)


def device_paths(
    facts: Optional[Mapping[str, Any]],
    device_name: str,
    stamp: Optional[Mapping[str, str]],
    running_template: Optional[str] = None,
    startup_template: Optional[str] = None,
) -> Tuple[str, str]:
    """Return (running path, startup path) of one device; they must differ (case-insensitively).

    A template of None means the default; an empty one is an error (not silently the default).
    """
    running_template = DEFAULT_RUNNING_TEMPLATE if running_template is None else running_template
    startup_template = DEFAULT_STARTUP_TEMPLATE if startup_template is None else startup_template
    running = render_path(running_template, facts, device_name, stamp)
    startup = render_path(startup_template, facts, device_name, stamp)
    if path_key(running) == path_key(startup):
        raise PathCollisionError(
            _where(device_name, None)
            + f"running_template {running_template!r} and startup_template {startup_template!r} render to the same "
            f"path {running!r}" + ("" if running == startup else f" / {startup!r} (they differ only in case)"),
            devices=[device_name],
            path=running,
        )
    return running, startup


# ------------------------------------------------------------------------------- confinement
def _check_relative(relative: str, fail: Any) -> None:
    """Refuse a path that is not a plain relative POSIX path (also for paths not made by render_path)."""
    if not isinstance(relative, str) or not relative:
        raise fail("the backup path is empty")
    if "\\" in relative or "\x00" in relative:
        raise fail(f"the backup path {relative!r} contains a backslash or NUL")
    if relative.startswith("/"):
        raise fail(f"the backup path {relative!r} is absolute")
    for segment in relative.split("/"):
        if segment in ("", ".", ".."):
            raise fail(f"the backup path {relative!r} has an empty, '.' or '..' segment")
        if segment.casefold() == ".git":
            raise fail(f"the backup path {relative!r} points into .git")


def confine(repo_dir: Union[str, Path], relative: str, device: Optional[str] = None) -> Path:
    """Return repo_dir/relative as an absolute path, or raise if it would leave the checkout.

    repo_dir is resolved (symlinks and ``..`` included); the target is resolved too, following
    symlinks that already exist inside the checkout, and must lie strictly inside it and
    outside its ``.git`` directory. The returned path is the resolved repo_dir joined with
    relative (the path the writer opens; its symlinks were checked here). For many paths of one
    checkout, use one :class:`Confinement` (the same rule, each directory resolved once).
    """
    return Confinement(repo_dir)(relative, device)


class Confinement:
    """The confinement rule of :func:`confine` for many paths of one checkout, in one step of a run.

    The checkout is resolved once, and each directory of the paths once: a target then resolves as its
    directory's resolved path joined with its last segment, followed when that segment is itself a symlink.
    That is what resolving the whole path gives (segments resolve left to right; ``..`` is refused before),
    without walking the checkout's path again for every file: 36,000 files of 10,000 devices took seconds.
    Use it within one step only: a directory swapped for a symlink later is seen by the next step's check.
    """

    def __init__(self, repo_dir: Union[str, Path]) -> None:
        self._repo_dir = repo_dir
        self._root: Optional[Path] = None
        self._directories: Dict[str, Path] = {}

    def __call__(self, relative: str, device: Optional[str] = None) -> Path:
        """Return repo_dir/relative as an absolute path, or raise PathTemplateError (see :func:`confine`)."""

        def fail(reason: str) -> PathTemplateError:
            return PathTemplateError(_where(device, None) + reason, device=device)

        if not self._repo_dir:
            raise fail("no repository directory was given")
        _check_relative(relative, fail)
        try:
            if self._root is None:
                self._root = Path(self._repo_dir).expanduser().resolve()
            root = self._root
            target = root / relative
            directory, _sep, name = relative.rpartition("/")
            resolved_directory = self._directories.get(directory)
            if resolved_directory is None:
                resolved_directory = (root / directory).resolve() if directory else root
                self._directories[directory] = resolved_directory
            resolved = resolved_directory / name
            if resolved.is_symlink():
                resolved = resolved.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, a permission error
            raise fail(f"cannot resolve {relative!r} inside {str(self._repo_dir)!r}: {exc}") from exc
        if resolved == root or root not in resolved.parents:
            raise fail(
                f"the backup path {relative!r} resolves to {str(resolved)!r}, outside the repository {str(root)!r} "
                "(through a symlink in the checkout)"
            )
        inside = resolved.relative_to(root).parts
        if inside and inside[0].casefold() == ".git":
            raise fail(f"the backup path {relative!r} resolves into the repository's .git directory")
        return target


# ------------------------------------------------------------------------------- collisions
def path_key(path: str) -> str:
    """Return the comparison key of a path: NFC, case-folded (case-insensitive filesystems)."""
    return unicodedata.normalize("NFC", path).casefold()


def check_collisions(paths: Mapping[str, Sequence[str]]) -> None:
    """Refuse backup files that would overwrite each other; paths maps device -> its paths.

    Paths are compared case-insensitively (``R1.cfg`` and ``r1.cfg`` are one file on macOS,
    Windows and SMB shares, and Git on such a checkout would mix them up). Also refused: a
    file of one device being a directory of another's path (``a/r1`` vs ``a/r1/running``).
    Raises PathCollisionError naming every device involved; with several problems, a
    PathPlanError holding one PathCollisionError per problem.
    """
    owners: Dict[str, List[Tuple[str, str]]] = {}
    for device, device_paths_ in paths.items():
        for path in device_paths_:
            owners.setdefault(path_key(path), []).append((device, path))
    errors: List[PathTemplateError] = []
    for entries in owners.values():
        if len(entries) < 2:
            continue
        devices = list(dict.fromkeys(device for device, _path in entries))
        spelled = sorted({path for _device, path in entries})
        shown = " / ".join(repr(path) for path in spelled)
        case_note = " (they differ only in case)" if len(spelled) > 1 else ""
        if len(devices) == 1:
            message = f"device {devices[0]!r}: two of its backup files map to the same path {shown}{case_note}"
        else:
            names = ", ".join(map(repr, devices[:-1])) + f" and {devices[-1]!r}"
            message = f"devices {names} map to the same backup path {shown}{case_note}"
        errors.append(PathCollisionError(message, devices=devices, path=spelled[0]))
    directories: Dict[str, Tuple[str, str]] = {}
    for device, device_paths_ in paths.items():
        for path in device_paths_:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                directories.setdefault(path_key("/".join(parts[:depth])), (device, path))
    for key, entries in owners.items():
        if key in directories:
            file_device, file_path = entries[0]
            dir_device, dir_path = directories[key]
            errors.append(
                PathCollisionError(
                    f"the backup file {file_path!r} of device {file_device!r} is a directory of the backup path "
                    f"{dir_path!r} of device {dir_device!r}",
                    devices=list(dict.fromkeys([file_device, dir_device])),
                    path=file_path,
                )
            )
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise PathPlanError(errors)


# ------------------------------------------------------------------------------- many devices
def render_many(
    devices: Mapping[str, Optional[Mapping[str, Any]]],
    stamp: Mapping[str, str],
    running_template: Optional[str] = None,
    startup_template: Optional[str] = None,
    repo_dir: Optional[Union[str, Path]] = None,
) -> Dict[str, Dict[str, str]]:
    """Render the paths of many devices (host -> facts) with one stamp, then check collisions.

    Returns host -> {running, startup} (plus running_file / startup_file when repo_dir is
    given). Every device is tried; if any fails, or paths collide, raises PathPlanError
    with all the errors (each naming its device), so one run reports every problem.
    """
    result: Dict[str, Dict[str, str]] = {}
    errors: List[PathTemplateError] = []
    confined = Confinement(repo_dir) if repo_dir else None
    for device, facts in devices.items():
        try:
            running, startup = device_paths(facts, device, stamp, running_template, startup_template)
            entry = {"running": running, "startup": startup}
            if confined is not None:
                entry["running_file"] = str(confined(running, device=device))
                entry["startup_file"] = str(confined(startup, device=device))
        except PathTemplateError as exc:
            errors.append(exc)
            continue
        result[device] = entry
    try:
        check_collisions({device: (entry["running"], entry["startup"]) for device, entry in result.items()})
    except PathPlanError as exc:
        errors.extend(exc.errors)
    except PathTemplateError as exc:
        errors.append(exc)
    if errors:
        raise PathPlanError(errors)
    return result
