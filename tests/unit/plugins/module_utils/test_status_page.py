"""Unit tests for module_utils.status_page: status records, since, the README.md front page, escaping, caps."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.host_keys import pin_path
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceBackupInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.scrub import Scrubber
from ansible_collections.netops.nautobot_backup.plugins.module_utils.status_page import (
    MARKER,
    MAX_ROWS,
    PAGE,
    devices_of,
    escape,
    record_path,
    render,
    update,
    write_page,
    write_records,
)


def ok(name: str, unsaved: Any = False, **fields: Any) -> DeviceBackupInfo:
    return DeviceBackupInfo(
        device_name=name, running_config_success=True, unsaved_changes=unsaved, platform="ios", **fields
    )


def failed(name: str, error: str = "Authentication failed", error_class: str = "auth_failed", **fields: Any):
    return DeviceBackupInfo(device_name=name, error=error, error_class=error_class, **fields)


def record(repo: Path, name: str) -> dict:
    return json.loads((repo / record_path(name)).read_text(encoding="utf-8"))


def test_a_record_holds_the_status_and_nothing_that_changes_every_run(tmp_path: Path) -> None:
    devices = [ok("r1", True, location="DC1"), failed("r2", platform="eos", location="DC2")]
    result = write_records(tmp_path, devices, "20261207", mode=0o640)
    assert result.files == result.changed == [".status/r1.json", ".status/r2.json"]
    assert record(tmp_path, "r1") == {
        "device": "r1",
        "platform": "ios",
        "location": "DC1",
        "status": "ok",
        "error_class": None,
        "error": None,
        "since": "2026-12-07",
        "config_unsaved": True,
    }
    assert record(tmp_path, "r2")["status"] == "failed" and record(tmp_path, "r2")["error_class"] == "auth_failed"
    assert record(tmp_path, "r2")["config_unsaved"] is None
    text = (tmp_path / ".status/r1.json").read_text(encoding="utf-8")
    assert text == json.dumps(record(tmp_path, "r1"), indent=2, sort_keys=True) + "\n"
    assert stat.S_IMODE((tmp_path / ".status/r1.json").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / ".status").stat().st_mode) == 0o750
    # An unchanged rerun on another day leaves every byte equal.
    again = write_records(tmp_path, devices, "20261208", mode=0o640)
    assert again.changed == [] and again.files == result.files
    assert (tmp_path / ".status/r1.json").read_text(encoding="utf-8") == text


def test_since_and_error_change_only_with_the_status_or_the_class(tmp_path: Path) -> None:
    write_records(tmp_path, [failed("r1", "timed out after 10 s", "timeout")], "20261201")
    write_records(tmp_path, [failed("r1", "timed out after 11 s", "timeout")], "20261202")
    assert (record(tmp_path, "r1")["since"], record(tmp_path, "r1")["error"]) == ("2026-12-01", "timed out after 10 s")
    write_records(tmp_path, [failed("r1", "bad password")], "20261203")
    assert (record(tmp_path, "r1")["since"], record(tmp_path, "r1")["error"]) == ("2026-12-03", "bad password")
    write_records(tmp_path, [ok("r1")], "20261204")
    write_records(tmp_path, [ok("r1", unsaved=True)], "20261205")
    assert record(tmp_path, "r1")["since"] == "2026-12-04" and record(tmp_path, "r1")["config_unsaved"] is True


def test_the_error_is_scrubbed(tmp_path: Path) -> None:
    error = "push to https://bot:tok-123@git.example/x failed; token tok-123"
    write_records(tmp_path, [failed("r1", error, "other")], "20261201", scrub=Scrubber(["tok-123"]))
    assert record(tmp_path, "r1")["error"] == "push to https://***@git.example/x failed; token ********"
    write_records(tmp_path, [failed("r2", error, "other")], "20261201")  # URL credentials even without secrets
    assert "tok-123@" not in record(tmp_path, "r2")["error"]


def test_the_error_is_one_bounded_line_and_a_failed_device_keeps_its_platform(tmp_path: Path) -> None:
    write_records(tmp_path, [ok("r1", location="DC1")], "20261201")
    write_records(tmp_path, [failed("r1", "line one\nline two\r\n" + "x" * 500, "other")], "20261202")
    data = record(tmp_path, "r1")
    assert "\n" not in data["error"] and data["error"].startswith("line one line two x")
    assert len(data["error"]) <= 200 and data["error"].endswith("...")
    assert (data["platform"], data["location"]) == ("ios", "DC1")


@pytest.mark.parametrize("name", ["ios-r1", "a/b", "../../etc/passwd", "ünï code", "r1\n.git", "x" * 10])
def test_the_record_name_follows_the_pin_rule(name: str) -> None:
    assert record_path(name) == ".status/" + pin_path(name).split("/", 1)[1] + ".json"


def test_a_name_with_nothing_path_safe_and_a_symlinked_status_dir_get_warnings(tmp_path: Path) -> None:
    result = write_records(tmp_path, [ok("///"), ok("r1")], "20261201")
    assert result.files == [".status/r1.json"] and "no path-safe name" in result.warnings[0]
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".status").symlink_to(outside)
    result = write_records(repo, [ok("r1")], "20261201")
    assert result.files == [] and "outside" in result.warnings[0] and not list(outside.iterdir())


def test_a_symlinked_record_is_replaced_never_followed_and_a_directory_is_left(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("keep me\n", encoding="utf-8")
    (tmp_path / ".status").mkdir()
    (tmp_path / ".status" / "r1.json").symlink_to(secret)
    (tmp_path / ".status" / "r2.json").mkdir()
    result = write_records(tmp_path, [ok("r1"), ok("r2")], "20261201")
    assert secret.read_text(encoding="utf-8") == "keep me\n"
    assert not (tmp_path / ".status" / "r1.json").is_symlink() and record(tmp_path, "r1")["status"] == "ok"
    assert result.files == [".status/r1.json"] and "r2.json is not a file" in result.warnings[0]


def test_the_page_counts_lists_failing_oldest_first_and_unsaved(tmp_path: Path) -> None:
    write_records(tmp_path, [failed("b-old", location="DC1"), failed("a-old", location="DC1")], "20261101")
    devices = [
        ok("r1", True, location="DC1"),
        ok("r2", False, location="DC2"),
        ok("r3", None, location="DC2"),
        failed("z-new", "timed out", "timeout", platform="eos", location="DC2"),
    ]
    result = update(tmp_path, devices, "20261207")
    assert result.page == PAGE and PAGE in result.changed and result.warnings == []
    text = (tmp_path / PAGE).read_text(encoding="utf-8")
    assert text.splitlines()[0] == MARKER
    assert "6 device(s): 3 failed, 3 ok" in text
    assert "| failed | 3 |" in text and "| ok | 3 |" in text
    assert "| ios | 3 | 0 |" in text and "| eos | 1 | 1 |" in text and "| - | 2 | 2 |" in text
    assert "| DC1 | 3 | 2 |" in text and "| DC2 | 3 | 1 |" in text
    section = text.split("## Failing devices (3)")[1].split("##")[0]
    rows = re.findall(r"^\| (\S+) \| (\S+) \| (\S+) \|", section, re.MULTILINE)
    assert rows[1:] == [
        ("a-old", "auth\\_failed", "2026-11-01"),
        ("b-old", "auth\\_failed", "2026-11-01"),
        ("z-new", "timeout", "2026-12-07"),
    ], "oldest failure first, then by name"
    unsaved = text.split("## Devices with unsaved changes (1)")[1]
    assert "| r1 | ios | DC1 |" in unsaved and "r2" not in unsaved and "r3" not in unsaved
    assert "20261207" not in text and "2026-12-07" not in text.split("## Failing")[0], "no run date on the page"
    # Unchanged: the same bytes, nothing changed.
    assert update(tmp_path, devices, "20261208").changed == []


HOSTILE = [
    "r1 | injected | cell",
    "<img src=x onerror=alert(1)>",
    "[click](https://evil.example/)",
    "`code` *bold* _it_",
    "line\nbreak\r\n| x |",
    "\x1b[31mred\x00\u2028sep",
    "www.evil.example",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_escape_leaves_nothing_markdown_or_html_can_act_on(value: str) -> None:
    cell = escape(value)
    assert "\n" not in cell and "\r" not in cell and not re.search("[\x00-\x1f\x7f\u2028]", cell)
    # Every special character is preceded by a backslash (an escaped backslash counts as one character).
    unescaped = re.sub(r"\\.", "", cell)
    assert not re.search(r"[|<>\[\]`*_()&:.@]", unescaped), cell


def test_hostile_names_neither_break_the_tables_nor_inject_links(tmp_path: Path) -> None:
    devices = [failed(name, error=name, platform=name, location=name) for name in HOSTILE]
    devices += [ok(name + " ok", True, location=name) for name in HOSTILE]
    update(tmp_path, devices, "20261207")
    text = (tmp_path / PAGE).read_text(encoding="utf-8")
    columns = 0
    for line in text.splitlines()[1:]:
        if not line.startswith("|"):
            columns = 0
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))
        columns = columns or cells  # the header row sets the table's column count
        assert cells == columns, line
    body = text.split("\n", 1)[1]
    assert not re.search(r"(?<!\\)[<\[`*]", body) and "\x1b" not in body and "\x00" not in body


def test_a_human_readme_is_kept_and_the_page_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / PAGE).write_text("# Our configs\n\nWritten by hand.\n", encoding="utf-8")
    result = update(tmp_path, [ok("r1")], "20261207")
    assert (tmp_path / PAGE).read_text(encoding="utf-8") == "# Our configs\n\nWritten by hand.\n"
    assert result.page is None and PAGE not in result.files and result.files == [".status/r1.json"]
    assert any("not written by this collection" in warning for warning in result.warnings)


def test_bad_records_are_skipped_with_a_warning_never_a_crash(tmp_path: Path) -> None:
    write_records(tmp_path, [ok("r1")], "20261207")
    status = tmp_path / ".status"
    (status / "bad.json").write_text("{not json", encoding="utf-8")
    (status / "list.json").write_text("[1, 2]", encoding="utf-8")
    (status / "binary.json").write_bytes(b"\xff\xfe")
    (status / "link.json").symlink_to(status / "r1.json")
    (status / "notes.txt").write_text("ignored", encoding="utf-8")
    result = write_page(tmp_path)
    assert result.page == PAGE
    assert "1 device(s): 1 ok" in (tmp_path / PAGE).read_text(encoding="utf-8")
    joined = "\n".join(result.warnings)
    for name in ("bad.json", "list.json", "binary.json", "link.json"):
        assert name in joined
    assert "notes.txt" not in joined


def test_the_lists_are_capped_so_the_page_stays_readable_at_10000_devices() -> None:
    records = [
        {"device": f"d{n:05d}", "status": "failed", "error_class": "timeout", "since": "2026-12-01",
         "config_unsaved": None, "platform": "ios", "location": f"L{n}"}
        for n in range(MAX_ROWS + 20)
    ] + [{"device": f"u{n:05d}", "status": "ok", "config_unsaved": True} for n in range(MAX_ROWS + 5)]
    text = render(records)
    assert "... and 20 more." in text and "... and 5 more." in text
    assert "d00499" in text and "d00500" not in text
    locations = MAX_ROWS + 20 + 1  # each failing device its own, the unsaved ones none
    assert f"... and {locations - 100} more." in text, "locations beyond the first 100 are counted, not listed"
    assert len(text.splitlines()) < 2 * MAX_ROWS + 200


def test_devices_of_takes_results_by_host_or_as_a_list() -> None:
    results = {"r1": {"running_config_success": True, "location": "DC1"}, "r2": None}
    infos = devices_of(results)
    assert [(d.device_name, d.failed, d.location) for d in infos] == [("r1", False, "DC1"), ("r2", True, None)]
    assert [d.device_name for d in devices_of([{"device_name": "s1", "running_config_success": True}])] == ["s1"]
    with pytest.raises(TypeError):
        devices_of("r1")
