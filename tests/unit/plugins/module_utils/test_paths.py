"""Table tests for plugins/module_utils/paths.py: placeholders, filters, stamps, safety, confinement, collisions."""

from __future__ import annotations

import copy
import os
import re
import unicodedata

import pytest
import yaml

from ansible_collections.netops.nautobot_backup.plugins.module_utils import device_query
from ansible_collections.netops.nautobot_backup.plugins.module_utils.clock import run_stamp
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import (
    DEFAULT_RUNNING_TEMPLATE,
    DEFAULT_STARTUP_TEMPLATE,
    FACT_FIELDS,
    FACT_SHAPE,
    Confinement,
    PathCollisionError,
    PathPlanError,
    PathTemplateError,
    check_collisions,
    clean_value,
    confine,
    device_paths,
    placeholders,
    render_many,
    render_path,
    validate_template,
)
from ansible_collections.netops.nautobot_backup.plugins.modules import backup_path as backup_path_module

DEVICE = "ios-r1"
STAMP = {"date": "20240501", "timestamp": "20240501_213000"}

# The shape device_query.device_facts gives (see tests/integration/golden/default.json).
FACTS = {
    "id": "6b1c0d4e-0000-4000-8000-000000000001",
    "name": "ios-r1",
    "serial": "LABF8FAA2A76",
    "asset_tag": None,
    "primary_ip4": {"host": "127.1.0.1"},
    "primary_ip6": None,
    "status": {"name": "Active"},
    "role": {"name": "router"},
    "platform": {"name": "Cisco IOS", "network_driver": "cisco_ios", "manufacturer": {"name": "Cisco"}},
    "device_type": {"model": "IOSv", "manufacturer": {"name": "Cisco"}},
    "tenant": None,
    "rack": {"name": "Rack A1", "rack_group": None},
    "location": {
        "id": "loc-1",
        "name": "BER1",
        "location_type": {"name": "Building"},
        "parent": {
            "name": "Berlin",
            "location_type": {"name": "City"},
            "parent": {"name": "Europe", "location_type": {"name": "Region"}},
        },
    },
    "tags": ["backup", "core"],
    "custom_fields": {"net": "berlin-router", "empty": "", "blank": "   ", "count": 42, "nothing": None},
}


def facts_with(**changes):
    """FACTS with some top-level keys replaced."""
    facts = copy.deepcopy(FACTS)
    facts.update(changes)
    return facts


def error_of(template, facts=None, device=DEVICE, stamp=()) -> PathTemplateError:
    """Render (FACTS and STAMP unless given) and return the PathTemplateError raised, failing if none is."""
    with pytest.raises(PathTemplateError) as info:
        render_path(template, FACTS if facts is None else facts, device, STAMP if stamp == () else stamp)
    return info.value


# ------------------------------------------------------------------------------- placeholders
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (DEFAULT_RUNNING_TEMPLATE, "backups/ios-r1.running-config"),
        (DEFAULT_STARTUP_TEMPLATE, "backups/ios-r1.startup-config"),
        ("{device_name}", "ios-r1"),
        ("{name}.cfg", "ios-r1.cfg"),
        ("{location.name}/{device_name}", "BER1/ios-r1"),
        ("{location.parent.name}/{device_name}", "Berlin/ios-r1"),
        ("{location.parent.parent.name}/{location.parent.name}/{location.name}", "Europe/Berlin/BER1"),
        ("{location.location_type.name}", "Building"),
        ("{platform.name}/{platform.manufacturer.name}", "Cisco_IOS/Cisco"),
        ("{role.name}/{status.name}", "router/Active"),
        ("{device_type.model}", "IOSv"),
        ("{custom_fields.net}/{device_name}", "berlin-router/ios-r1"),
        ("{custom_fields.count}", "42"),
        ("{serial}", "LABF8FAA2A76"),
        ("{primary_ip4.host}", "127.1.0.1"),
        ("{rack.name}", "Rack_A1"),
        ("{tags.0}-{tags.1}", "backup-core"),
        ("{id}", "6b1c0d4e-0000-4000-8000-000000000001"),
        ("{date}/{device_name}", "20240501/ios-r1"),
        ("{device_name}_{timestamp}.cfg", "ios-r1_20240501_213000.cfg"),
        ("{ location.name }/{device_name}", "BER1/ios-r1"),  # whitespace inside braces
        ("  backups/{device_name}  ", "backups/ios-r1"),  # surrounding whitespace of the template
        ("a/b/c/d/{device_name}", "a/b/c/d/ios-r1"),
        ("{device_name}{device_name}", "ios-r1ios-r1"),
        ("x-{role.name}+{date}@{device_name}", "x-router+20240501@ios-r1"),
        ("configs/{device_name}", "configs/ios-r1"),  # no extension is fine
        ("Zürich/{device_name}", "Zürich/ios-r1"),  # letters beyond ASCII in literal text
    ],
)
def test_render(template, expected):
    assert render_path(template, FACTS, DEVICE, STAMP) == expected


@pytest.mark.parametrize(
    ("facts", "device", "expected"),
    [
        # {device_name} is always the inventory host name; {name} is Nautobot's, else the host name.
        ({"name": "R1 Core"}, "r1-core.example.net", "r1-core.example.net/R1_Core"),
        ({"name": None}, "r1", "r1/r1"),
        ({"name": ""}, "r1", "r1/r1"),
        ({}, "r1", "r1/r1"),
        (None, "r1", "r1/r1"),
    ],
)
def test_name_versus_device_name(facts, device, expected):
    assert render_path("{device_name}/{name}", facts, device, STAMP) == expected


def test_static_host_without_facts_renders_builtin_placeholders_only():
    assert render_path("{date}/{device_name}/{name}_{timestamp}", {}, "plain", STAMP) == (
        "20240501/plain/plain_20240501_213000"
    )
    error = error_of("{location.name}/{device_name}", facts={}, device="plain")
    assert error.device == "plain" and error.placeholder == "{location.name}"
    assert "'plain'" in str(error) and "{location.name}" in str(error) and "no nautobot facts" in str(error)


def test_extra_fields_are_known_placeholders():
    assert render_path("{comments}", facts_with(comments="rack 3"), DEVICE, STAMP) == "rack_3"


def test_placeholders_are_listed_in_order():
    assert placeholders("{location.name | location_type:City}/{device_name}_{date}.cfg") == [
        "{location.name | location_type:City}",
        "{device_name}",
        "{date}",
    ]


# ------------------------------------------------------------------------------- location_type filter
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{location.name | location_type:Building}", "BER1"),
        ("{location.name | location_type:City}", "Berlin"),
        ("{location.name | location_type:Region}", "Europe"),
        ("{location.name|location_type:city}", "Berlin"),  # case-insensitive, no spaces
        ("{location.name | location_type: CITY }", "Berlin"),
        ("{location | location_type:Region}", "Europe"),  # the location itself: its name
        ("{location.parent | location_type:Region}", "Europe"),  # start the walk at the parent
        ("{location.parent.name | location_type:City}", "Berlin"),
        ("{location.parent.parent.name | location_type:region}", "Europe"),
        ("{location.id | location_type:Building}", "loc-1"),  # another field of the matching location
        (
            "{location.parent.parent.name}/{location.name | location_type:City}/{device_name}.cfg",
            "Europe/Berlin/ios-r1.cfg",
        ),
    ],
)
def test_location_type_filter(template, expected):
    assert render_path(template, FACTS, DEVICE, STAMP) == expected


def test_location_type_filter_with_type_names_containing_spaces():
    facts = facts_with(location={"name": "DC 1", "location_type": {"name": "Data Center"}})
    assert render_path("{location.name | location_type:data center}", facts, DEVICE, STAMP) == "DC_1"


@pytest.mark.parametrize(
    ("template", "facts", "fragment"),
    [
        ("{location.name | location_type:Country}", FACTS, "no location of type 'Country'"),
        # the walk goes upwards only: from the parent, the building is not found
        ("{location.parent.name | location_type:Building}", FACTS, "no location of type 'Building'"),
        ("{location.name | location_type:City}", facts_with(location=None), "location is null"),
        ("{location.name | location_type:City}", {}, "no nautobot facts"),
        ("{location.parent.parent.parent | location_type:City}", FACTS, "location.parent.parent.parent is null"),
        (
            "{location.name | location_type:City}",
            facts_with(location={"name": "X", "location_type": None, "parent": None}),
            "no location of type 'City'",
        ),
        ("{location.id | location_type:City}", FACTS, "id is null"),  # only the device's own location has an id
    ],
)
def test_location_type_filter_errors(template, facts, fragment):
    error = error_of(template, facts=facts)
    assert error.device == DEVICE and error.placeholder == template
    message = str(error)
    assert DEVICE in message and template in message and fragment in message


def test_location_type_filter_error_shows_the_chain():
    message = str(error_of("{location.name | location_type:Country}"))
    assert "location_type:Country" in message
    assert "BER1 (Building) > Berlin (City) > Europe (Region)" in message


def test_one_stamp_for_every_device():
    devices = {f"r{index}": facts_with(name=f"r{index}") for index in range(5)}
    paths = render_many(devices, run_stamp("2024-05-01T23:59:59Z"), "{date}/{device_name}", "{timestamp}/{name}")
    assert {entry["running"].split("/")[0] for entry in paths.values()} == {"20240501"}
    assert {entry["startup"].split("/")[0] for entry in paths.values()} == {"20240501_235959"}


def test_date_without_a_stamp_is_an_error():
    error = error_of("{date}/{device_name}", stamp=None)
    assert error.placeholder == "{date}" and "no run stamp" in str(error)


# ------------------------------------------------------------------------------- value errors
@pytest.mark.parametrize(
    ("template", "facts", "placeholder", "fragment"),
    [
        ("{locaton.name}/{device_name}", FACTS, "{locaton.name}", "unknown placeholder"),
        ("{foo}", FACTS, "{foo}", "unknown placeholder"),
        ("{device_name.x}", FACTS, "{device_name.x}", "unknown placeholder"),
        ("{__class__}", FACTS, "{__class__}", "unknown placeholder"),
        ("backups/{asset_tag}.cfg", FACTS, "{asset_tag}", "asset_tag is null"),
        ("{asset_tag}", facts_with(asset_tag=""), "{asset_tag}", "asset_tag is empty"),
        ("{serial}", facts_with(serial="   "), "{serial}", "serial is empty"),
        ("{serial}", {"name": "x"}, "{serial}", "serial is null"),  # the inventory leaves nulls out
        ("{tenant.name}/{device_name}", FACTS, "{tenant.name}", "tenant is null"),
        ("{rack.rack_group.name}", FACTS, "{rack.rack_group.name}", "rack.rack_group is null"),
        ("{custom_fields.nope}", FACTS, "{custom_fields.nope}", "custom_fields has no key 'nope'"),
        ("{custom_fields.empty}", FACTS, "{custom_fields.empty}", "custom_fields.empty is empty"),
        ("{custom_fields.blank}", FACTS, "{custom_fields.blank}", "custom_fields.blank is empty"),
        ("{custom_fields.nothing}", FACTS, "{custom_fields.nothing}", "custom_fields.nothing is null"),
        ("{location.parent.parent.parent.name}", FACTS, "{location.parent.parent.parent.name}", "has no key"),
        ("{tags.5}", FACTS, "{tags.5}", "not an index"),
        ("{tags.first}", FACTS, "{tags.first}", "not an index"),
        ("{location}", FACTS, "{location}", "names a dict"),
        ("{tags}", FACTS, "{tags}", "names a list"),
        ("{serial.x}", FACTS, "{serial.x}", "serial is a value"),
        ("{name.__class__}", FACTS, "{name.__class__}", "name is a value"),
        ("{custom_fields.net}", facts_with(custom_fields={"net": "..."}), "{custom_fields.net}", "empty once made"),
        ("{custom_fields.net}", facts_with(custom_fields={"net": "/"}), "{custom_fields.net}", "empty once made"),
        ("{custom_fields.net}", facts_with(custom_fields={"net": "\x00\x01"}), "{custom_fields.net}", "empty once"),
        ("{custom_fields.net}", facts_with(custom_fields={"net": True}), None, None),  # a bool renders as True
        ("{custom_fields.net}", facts_with(custom_fields={"net": object()}), "{custom_fields.net}", "of type object"),
    ],
)
def test_value_errors_name_device_and_placeholder(template, facts, placeholder, fragment):
    if placeholder is None:
        assert render_path(template, facts, DEVICE, STAMP) == "True"
        return
    error = error_of(template, facts=facts)
    assert isinstance(error, NautobotBackupError)
    assert (error.device, error.placeholder, error.template) == (DEVICE, placeholder, template.strip())
    message = str(error)
    assert f"device {DEVICE!r}" in message
    assert placeholder in message
    assert fragment in message


def test_unknown_placeholder_lists_the_known_names():
    message = str(error_of("{locaton.name}"))
    for name in ("device_name", "date", "timestamp", "location", "custom_fields"):
        assert name in message


def test_facts_that_are_not_a_dict():
    error = error_of("{device_name}", facts=["not", "a", "dict"])
    assert error.device == DEVICE and "must be a dict" in str(error)


def test_no_device_name():
    with pytest.raises(PathTemplateError, match="no device name"):
        render_path("{device_name}", FACTS, "", STAMP)


# ------------------------------------------------------------------------------- template errors
@pytest.mark.parametrize(
    ("template", "placeholder", "fragment"),
    [
        ("", None, "empty"),
        ("   ", None, "empty"),
        ("/abs/{device_name}", None, "absolute"),
        ("/{device_name}", None, "absolute"),
        ("../{device_name}", None, "'..' segment"),
        ("a/../../{device_name}", None, "'..' segment"),
        ("backups/..", None, "'..' segment"),
        ("./{device_name}", None, "'.' segment"),
        ("a//{device_name}", None, "empty path segment"),
        ("backups/{device_name}/", None, "empty path segment"),
        (".git/{device_name}", None, "starts with '.'"),
        (".gitattributes", None, "starts with '.'"),
        ("backups/.{device_name}", None, "starts with '.'"),
        ("backups\\{device_name}", None, "backslash"),
        ("C:\\configs\\{device_name}", None, "backslash"),
        ("C:/configs/{device_name}", None, "':'"),
        ("backups/{device_name", None, "unclosed '{'"),
        ("backups/{device_name/x}", None, "unclosed '{'"),
        ("backups/device_name}", None, "unmatched '}'"),
        ("backups/{{device_name}}", None, "nested '{'"),
        ("backups/{}", "{}", "cannot parse"),
        ("backups/{a b}", "{a b}", "cannot parse"),
        ("backups/{location..name}", "{location..name}", "cannot parse"),
        ("backups/{device_name!r}", "{device_name!r}", "cannot parse"),
        ("backups/{device_name:>10}", "{device_name:>10}", "cannot parse"),
        ("backups/{location.name | upper}", "{location.name | upper}", "unknown filter 'upper'"),
        ("backups/{location.name | location_type}", "{location.name | location_type}", "needs a location type"),
        ("backups/{location.name | location_type:}", "{location.name | location_type:}", "needs a location type"),
        ("{role.name | location_type:City}", "{role.name | location_type:City}", "applies to the location"),
        ("{location.tenant.name | location_type:City}", "{location.tenant.name | location_type:City}", "applies to"),
        ("{location.name | location_type:City | location_type:Region}", None, "cannot parse"),
        ("back ups/{device_name}", None, "' '"),
        ("backups/{device_name}.cfg?", None, "'?'"),
        ("backups/{device_name}\x07", None, "U+0007"),
        ("backups/{{ inventory_hostname }}", None, "nested '{'"),
        ("backups/{% if x %}", "{% if x %}", "cannot parse"),
    ],
)
def test_template_errors(template, placeholder, fragment):
    with pytest.raises(PathTemplateError) as info:
        validate_template(template)
    assert fragment in str(info.value)
    assert info.value.device is None
    if placeholder:
        assert info.value.placeholder == placeholder
    # rendered for a device, the same error names the device too
    error = error_of(template)
    assert error.device == DEVICE and f"device {DEVICE!r}" in str(error) and fragment in str(error)
    if placeholder:
        assert error.placeholder == placeholder and placeholder in str(error)


def test_template_must_be_a_string():
    with pytest.raises(PathTemplateError, match="must be a string"):
        validate_template(None)
    with pytest.raises(PathTemplateError, match="must be a string") as info:
        render_path(["x"], FACTS, DEVICE, STAMP)
    assert info.value.device == DEVICE


def test_overlong_segment_is_an_error():
    error = error_of("{custom_fields.net}", facts=facts_with(custom_fields={"net": "x" * 300}))
    assert "longer than 255 bytes" in str(error) and error.device == DEVICE


# ------------------------------------------------------------------------------- path safety
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("berlin-router", "berlin-router"),
        ("a/b", "a_b"),
        ("a\\b", "a_b"),
        ("../../etc", "etc"),
        ("../../etc/passwd", "etc_passwd"),
        ("..\\..\\windows", "windows"),
        ("a..b", "a.b"),
        ("a...b", "a.b"),
        (".hidden", "hidden"),
        ("...hidden", "hidden"),
        ("name.", "name"),
        ("  Acme Networks  ", "Acme_Networks"),
        ("a  /  b", "a_b"),
        ("tab\there", "tab_here"),
        ("new\nline", "new_line"),  # whitespace controls separate words
        ("bell\x07", "bell"),  # other control characters are removed
        ("x\x00y", "xy"),
        ("\u202eevil", "evil"),  # right-to-left override (a format character)
        ("zero\u200bwidth", "zerowidth"),
        ("München", "München"),
        ("Mu\u0308nchen", "München"),  # NFD becomes NFC
        ("東京", "東京"),
        ("São Paulo", "São_Paulo"),
        ("C:\\Windows", "C_Windows"),
        ("r1:cfg*?<>|\"'", "r1_cfg"),
        ("user@host+1", "user@host+1"),
        ("-leading-dash", "-leading-dash"),
        ("_private", "private"),
        ("a__b", "a_b"),
        ("$(rm -rf /)", "rm_-rf"),
        ("{device_name}", "device_name"),  # a value is never parsed as a template
        ("%2e%2e%2f", "2e_2e_2f"),
        ("..", ""),
        ("/", ""),
        ("", ""),
    ],
)
def test_clean_value(value, expected):
    assert clean_value(value) == expected


@pytest.mark.parametrize(
    "value",
    ["../../etc", "a/b", "..", ".", "./x/../y", "a\\..\\b", "\x00../", " / ", "..%2f", "...", "x/../../../../tmp"],
)
def test_rendered_paths_stay_plain_relative_paths(value):
    """Whatever a value holds, the rendered path has the template's segments and no '.'/'..' segment."""
    facts = facts_with(custom_fields={"net": value})
    try:
        path = render_path("configs/{custom_fields.net}/{device_name}.cfg", facts, DEVICE, STAMP)
    except PathTemplateError as exc:
        assert "empty once made path-safe" in str(exc) and exc.placeholder == "{custom_fields.net}"
        return
    segments = path.split("/")
    assert len(segments) == 3 and segments[0] == "configs" and segments[2] == "ios-r1.cfg"
    assert not any(segment in ("", ".", "..") or segment.startswith(".") for segment in segments)
    assert "\\" not in path and ".." not in path


def test_rendered_path_characters():
    facts = facts_with(custom_fields={"net": "".join(chr(code) for code in range(0x20, 0x7F))})
    path = render_path("{custom_fields.net}", facts, DEVICE, STAMP)
    assert set(path) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+@")
    assert unicodedata.is_normalized("NFC", path)


# ------------------------------------------------------------------------------- confinement
def test_confine_inside(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    assert confine(repo, "backups/r1.cfg") == repo.resolve() / "backups" / "r1.cfg"
    assert confine(str(repo), "r1.cfg") == repo.resolve() / "r1.cfg"
    assert confine(repo / "missing-yet", "r1.cfg") == repo.resolve() / "missing-yet" / "r1.cfg"


def test_confine_follows_a_symlinked_repo_dir(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert confine(tmp_path / "link", "a/r1.cfg") == real.resolve() / "a" / "r1.cfg"


def test_confine_allows_symlinks_that_stay_inside(tmp_path):
    repo = tmp_path / "repo"
    (repo / "archive").mkdir(parents=True)
    (repo / "current").symlink_to("archive")
    assert confine(repo, "current/r1.cfg") == repo.resolve() / "current" / "r1.cfg"


@pytest.mark.parametrize(
    ("link", "points_to", "relative", "fragment"),
    [
        ("backups", "{outside}", "backups/r1.cfg", "outside the repository"),  # a directory symlink out
        ("backups", "../outside", "backups/r1.cfg", "outside the repository"),  # relative symlink out
        ("r1.cfg", "{outside}/stolen.cfg", "r1.cfg", "outside the repository"),  # a file symlink out
        ("backups", "/", "backups/etc/passwd", "outside the repository"),
        ("backups", ".git", "backups/config", "into the repository's .git"),  # a symlink into .git
        ("backups", ".", "backups", "outside the repository"),  # the repository itself
        ("loop", "loop", "loop/r1.cfg", ""),  # a symlink loop
    ],
)
def test_confine_refuses_symlink_escapes(tmp_path, link, points_to, relative, fragment):
    repo = tmp_path / "repo"
    outside = tmp_path / "outside"
    (repo / ".git").mkdir(parents=True)
    outside.mkdir()
    os.symlink(points_to.format(outside=outside), repo / link)
    with pytest.raises(PathTemplateError) as info:
        confine(repo, relative, device=DEVICE)
    assert fragment in str(info.value)
    assert info.value.device == DEVICE and f"device {DEVICE!r}" in str(info.value)


@pytest.mark.parametrize(
    ("link", "points_to", "relative", "fragment"),
    [
        ("backups", "{outside}", "backups/r1.cfg", "outside the repository"),
        ("backups/r2.cfg", "{outside}/stolen.cfg", "backups/r2.cfg", "outside the repository"),  # beside a good file
        ("backups/r2.cfg", "../.git/config", "backups/r2.cfg", "into the repository's .git"),
        ("backups/sub", "{outside}", "backups/sub/r1.cfg", "outside the repository"),
        ("backups/sub", "..", "backups/sub", "outside the repository"),  # the repository itself
        ("backups/loop", "loop", "backups/loop/r1.cfg", ""),
    ],
)
def test_one_confinement_for_many_paths_refuses_what_confine_refuses(tmp_path, link, points_to, relative, fragment):
    """One Confinement resolves each directory once: a path it already saw a neighbour of is checked all the same."""
    repo = tmp_path / "repo"
    outside = tmp_path / "outside"
    (repo / ".git").mkdir(parents=True)
    (repo / "backups").mkdir()
    outside.mkdir()
    confined = Confinement(repo)
    # Warm the directory (when it already exists) before the link appears, as in a run of many devices.
    assert confined("backups/r0.cfg", device="ok") == repo.resolve() / "backups" / "r0.cfg"
    if (repo / link).is_dir():
        os.rmdir(repo / link)
    os.symlink(points_to.format(outside=outside), repo / link)
    with pytest.raises(PathTemplateError) as many:
        Confinement(repo)(relative, device=DEVICE)
    with pytest.raises(PathTemplateError) as one:
        confine(repo, relative, device=DEVICE)
    assert fragment in str(many.value) and str(many.value) == str(one.value)
    # The same Confinement, its directory cache warm, refuses a file symlink next to files it accepted.
    if link.startswith("backups/r2"):
        with pytest.raises(PathTemplateError) as warm:
            confined(relative, device=DEVICE)
        assert str(warm.value) == str(one.value)


def test_one_confinement_gives_what_confine_gives_for_every_path(tmp_path):
    repo = tmp_path / "repo"
    (repo / "archive").mkdir(parents=True)
    (repo / "current").symlink_to("archive")
    (repo / "archive" / "r2.cfg").write_text("x")
    (repo / "archive" / "alias.cfg").symlink_to("r2.cfg")
    relatives = ["r1.cfg", "a/r1.cfg", "a/r2.cfg", "current/r1.cfg", "archive/alias.cfg", "a/b/c/r1.cfg", "a/r1.cfg"]
    confined = Confinement(repo)
    assert [confined(relative) for relative in relatives] == [confine(repo, relative) for relative in relatives]
    with pytest.raises(PathTemplateError, match="no repository directory"):
        Confinement("")("r1.cfg")


@pytest.mark.parametrize(
    ("relative", "fragment"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("../r1.cfg", "'..' segment"),
        ("a/../../r1.cfg", "'..' segment"),
        ("a//r1.cfg", "empty"),
        ("./r1.cfg", "'.'"),
        ("a\\r1.cfg", "backslash"),
        ("r1\x00.cfg", "NUL"),
        (".git/config", ".git"),
        ("sub/.GIT/hooks/post-commit", ".git"),
    ],
)
def test_confine_refuses_paths_not_made_by_render_path(tmp_path, relative, fragment):
    with pytest.raises(PathTemplateError) as info:
        confine(tmp_path, relative)
    assert fragment in str(info.value)


def test_confine_needs_a_repo_dir():
    with pytest.raises(PathTemplateError, match="no repository directory"):
        confine("", "r1.cfg")


# ------------------------------------------------------------------------------- collisions
def test_device_paths_defaults():
    assert device_paths(FACTS, DEVICE, STAMP) == ("backups/ios-r1.running-config", "backups/ios-r1.startup-config")
    assert device_paths({}, "plain", STAMP, "{device_name}.cfg", "{device_name}.startup.cfg") == (
        "plain.cfg",
        "plain.startup.cfg",
    )


def test_device_paths_empty_template_is_not_the_default():
    with pytest.raises(PathTemplateError, match="the template is empty") as info:
        device_paths(FACTS, DEVICE, STAMP, "", None)
    assert info.value.device == DEVICE


@pytest.mark.parametrize(
    ("running", "startup", "fragment"),
    [
        ("{device_name}.cfg", "{device_name}.cfg", "render to the same path 'ios-r1.cfg'"),
        ("{device_name}.cfg", "{name}.cfg", "render to the same path"),  # different templates, same path
        ("{device_name}.cfg", "{device_name}.CFG", "differ only in case"),
        ("backups/{device_name}.running-config", None, "render to the same path"),  # equals the startup default
    ],
)
def test_running_and_startup_must_differ(running, startup, fragment):
    startup = startup if startup is not None else DEFAULT_RUNNING_TEMPLATE
    with pytest.raises(PathCollisionError) as info:
        device_paths(FACTS, DEVICE, STAMP, running, startup)
    assert info.value.device == DEVICE and info.value.devices == (DEVICE,)
    assert f"device {DEVICE!r}" in str(info.value) and fragment in str(info.value)


@pytest.mark.parametrize(
    ("paths", "devices", "fragment"),
    [
        ({"r1": ["a.cfg", "a.startup"], "r2": ["a.cfg", "b.startup"]}, ("r1", "r2"), "'a.cfg'"),
        ({"r1": ["r1.cfg", "shared"], "r2": ["shared", "r2.startup"]}, ("r1", "r2"), "'shared'"),  # running vs startup
        ({"r1": ["R1.cfg", "r1.s"], "r2": ["r1.cfg", "r2.s"]}, ("r1", "r2"), "differ only in case"),
        ({"a": ["Ä.cfg"], "b": ["ä.cfg"]}, ("a", "b"), "differ only in case"),
        ({"a": ["M\u00fcnchen/x"], "b": ["Mu\u0308nchen/x"]}, ("a", "b"), "'M"),  # NFC vs NFD spelling
        ({"r1": ["x/r1", "x/r1.s"], "r2": ["x/r1/running", "r2.s"]}, ("r1", "r2"), "is a directory of"),
        ({"r1": ["same", "SAME"]}, ("r1",), "two of its backup files"),
        ({"r1": ["a", "b"], "r2": ["c", "d"], "r3": ["a", "e"]}, ("r1", "r3"), "'a'"),
    ],
)
def test_collisions(paths, devices, fragment):
    with pytest.raises(PathCollisionError) as info:
        check_collisions(paths)
    assert info.value.devices == devices
    message = str(info.value)
    assert fragment in message
    for device in devices:
        assert repr(device) in message


def test_no_collision():
    check_collisions({"r1": ["a/r1.cfg", "a/r1.startup"], "r2": ["a/r2.cfg", "a/r2.startup"], "r3": []})


def test_several_collisions_are_all_reported():
    paths = {f"r{index}": [f"{'router' if index < 3 else 'switch'}.cfg", f"r{index}.startup"] for index in range(5)}
    with pytest.raises(PathPlanError) as info:
        check_collisions(paths)
    assert [error.devices for error in info.value.errors] == [("r0", "r1", "r2"), ("r3", "r4")]
    assert "'router.cfg'" in str(info.value) and "'switch.cfg'" in str(info.value)


# ------------------------------------------------------------------------------- many devices
def test_render_many(tmp_path):
    devices = {"ios-r1": FACTS, "plain": None}
    paths = render_many(devices, STAMP, "{name}/{date}.cfg", repo_dir=tmp_path)
    assert paths["ios-r1"]["running"] == "ios-r1/20240501.cfg"
    assert paths["plain"]["startup"] == "backups/plain.startup-config"
    assert paths["plain"]["running_file"] == str(tmp_path.resolve() / "plain" / "20240501.cfg")


def test_render_many_reports_every_problem():
    devices = {
        "r1": facts_with(name="r1", asset_tag="AT-1"),
        "r2": facts_with(name="r2"),  # no asset tag
        "r3": facts_with(name="r3", asset_tag="at-1"),  # collides with r1, case-insensitively
        "plain": None,  # no facts
    }
    with pytest.raises(PathPlanError) as info:
        render_many(devices, STAMP, "{asset_tag}.cfg", "{name}.startup")
    found = [(error.device, error.placeholder) for error in info.value.errors]
    assert found == [("r2", "{asset_tag}"), ("plain", "{asset_tag}"), ("r1", None)]
    assert info.value.errors[-1].devices == ("r1", "r3")
    assert str(info.value).startswith("3 backup path problems: device 'r2'")
    assert "devices 'r1' and 'r3' map to the same backup path 'AT-1.cfg' / 'at-1.cfg'" in str(info.value)


def test_render_many_refuses_escapes(tmp_path):
    (tmp_path / "backups").symlink_to("/tmp")
    with pytest.raises(PathPlanError) as info:
        render_many({"r1": {}}, STAMP, repo_dir=tmp_path)
    assert [error.device for error in info.value.errors] == ["r1"]
    assert "outside the repository" in str(info.value)


def test_render_many_shows_at_most_twenty_errors():
    devices = {f"r{index}": {} for index in range(25)}
    with pytest.raises(PathPlanError) as info:
        render_many(devices, STAMP, "{asset_tag}")
    assert len(info.value.errors) == 25 and "... and 5 more error(s)" in str(info.value)


# ------------------------------------------------------------------------------- consistency
def _top_level_fields(selection: str) -> set:
    """The field names at brace depth 0 of a GraphQL selection."""
    depth, names = 0, set()
    for token in re.findall(r"[{}]|[A-Za-z_][A-Za-z0-9_]*", selection):
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif depth == 0:
            names.add(token)
    return names


def test_fact_fields_follow_the_device_query():
    expected = _top_level_fields(device_query.DEVICE_FIELDS) - {"_custom_field_data"} | {"custom_fields"}
    assert set(FACT_FIELDS) == expected
    assert set(FACT_SHAPE) == set(FACT_FIELDS)


def _walk(value, path=()):
    """Every (dotted path, leaf value) of nested dicts; lists are leaves."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    else:
        yield ".".join(path), value


# Placeholders whose value is null or empty in FACTS, as the inventory gave them before it left those out.
NULL_PLACEHOLDERS = [
    "{asset_tag}",
    "{primary_ip6.host}",
    "{tenant.name}",
    "{tenant.tenant_group.name}",
    "{rack.rack_group.name}",
]


@pytest.mark.parametrize("placeholder", NULL_PLACEHOLDERS)
def test_a_fact_the_inventory_left_out_fails_as_it_did_when_null(placeholder):
    """The inventory drops null values (device_query.device_facts): the same template fails with the same message."""
    lean = device_query.device_facts(
        {
            **{k: v for k, v in FACTS.items() if k not in ("custom_fields", "tags")},
            "_custom_field_data": FACTS["custom_fields"],
            "tags": [{"name": t} for t in FACTS["tags"]],
        }
    )
    assert "asset_tag" not in lean and "rack_group" not in lean["rack"] and "nothing" not in lean["custom_fields"]
    before, after = error_of(placeholder, facts=FACTS), error_of(placeholder, facts=lean)
    assert str(after) == str(before) and after.placeholder == before.placeholder


def test_every_documented_fact_is_in_the_shape():
    """Each leaf of the full facts (FACTS: what the docs list) is a known path, so leaving it out fails as null."""
    for dotted, _value in _walk({k: v for k, v in FACTS.items() if k != "custom_fields"}):
        shape = FACT_SHAPE
        for key in dotted.split("."):
            assert isinstance(shape, dict) and key in shape, dotted
            shape = shape[key]
    for template, fragment in [("{tags.0}", "is a list of 0 item(s)"), ("{custom_fields.net}", "has no key 'net'")]:
        assert fragment in str(error_of(template, facts={"name": "x"}))


def test_module_documentation_matches_the_argument_spec():
    spec = backup_path_module.ARGUMENT_SPEC
    options = yaml.safe_load(backup_path_module.DOCUMENTATION)["options"]
    assert set(options) == set(spec)
    for name, option in options.items():
        assert option["type"] == spec[name]["type"], name
        assert option.get("default") == spec[name].get("default"), name
    assert spec["running_template"]["default"] == DEFAULT_RUNNING_TEMPLATE
    assert spec["startup_template"]["default"] == DEFAULT_STARTUP_TEMPLATE
