"""The shrink guard of plugins/module_utils/backup.py: a running config cut short never replaces the last backup."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils import backup
from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup import (
    BackupRequest,
    config_lines,
    default_rejected_dir,
    shrink_refusal,
    shrink_threshold,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import (
    FAILURE_CLASSES,
    NautobotBackupError,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceBackupInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import (
    ConnectionSettings,
    FetchedConfigs,
)


def _config(lines: int, name: str = "r1", secret: str = "") -> str:
    """An IOS-like config of exactly ``lines`` non-empty lines (hostname ... end), with blank lines between."""
    body = [f"interface Ethernet{i}" for i in range(lines - 2 - (1 if secret else 0))]
    extra = [f"enable secret 5 {secret}"] if secret else []
    return "\n\n".join([f"hostname {name}", *extra, *body, "end"]) + "\n"


def _text(non_empty: int, blank: int = 0) -> str:
    return "\n".join([f"line {i}" for i in range(non_empty)] + ["   "] * blank)


@pytest.mark.parametrize(
    "before, after, threshold, refused",
    [
        (150, 20, 0.5, True),
        (150, 75, 0.5, False),  # exactly half is kept: not refused
        (150, 74, 0.5, True),
        (100, 50, 0.5, False),
        (100, 49, 0.5, True),
        (100, 1, 0.0, False),  # 0 turns the guard off
        (100, 99, 1.0, True),  # 1: any loss of lines is refused
        (100, 100, 1.0, False),
        (0, 5, 0.5, False),  # an empty previous file is no baseline
        (10, 200, 0.5, False),  # growth is never refused
    ],
)
def test_the_rule_at_its_edges(before, after, threshold, refused):
    reason = shrink_refusal(_text(before), _text(after), threshold)
    assert (reason is not None) is refused
    if refused:
        assert f"{after} non-empty lines" in reason and f"of the {before}" in reason


def test_blank_lines_are_not_counted():
    assert config_lines("a\n\n   \n\t\nb\n") == 2
    # 150 lines padded with blank ones still count as 150; 20 lines padded to 200 still count as 20.
    assert shrink_refusal(_text(150), _text(20, blank=180), 0.5) is not None
    assert shrink_refusal(_text(40, blank=300), _text(20), 0.5) is None


def test_first_backup_and_override_pass():
    assert shrink_refusal(None, _text(1), 0.5) is None
    assert shrink_refusal(_text(150), _text(20), 0.5, allow=True) is None


@pytest.mark.parametrize("value", [-0.1, 1.5, "half", None, True, [0.5]])
def test_a_bad_threshold_is_refused(value):
    with pytest.raises(NautobotBackupError, match="shrink_threshold must be a number from 0 to 1"):
        shrink_threshold(value)


@pytest.mark.parametrize("value, expected", [(0, 0.0), ("0.25", 0.25), (1, 1.0), (0.5, 0.5)])
def test_a_good_threshold(value, expected):
    assert shrink_threshold(value) == expected


def test_the_class_is_a_known_failure_class():
    assert "suspicious_shrink" in FAILURE_CLASSES
    assert backup.SuspiciousShrinkError.failure_class == "suspicious_shrink"
    info = DeviceBackupInfo(device_name="r1", error="x", error_class="suspicious_shrink")
    assert info.error_class == "suspicious_shrink"


def test_default_rejected_dir_is_a_sibling_of_the_checkout(tmp_path):
    assert default_rejected_dir(tmp_path / "repo") == tmp_path / ".repo.rejected"


def _request(repo: Path, **options: Any) -> BackupRequest:
    settings = ConnectionSettings(host="r1.lab", device_type="cisco_ios", password="S3cret-pw")
    stamp = {"date": "20261207", "timestamp": "20261207_060000"}
    return BackupRequest(device_name="r1", settings=settings, repo_dir=repo, stamp=stamp, **options)


def _run(request: BackupRequest, running: str, check_mode: bool = False) -> DeviceBackupInfo:
    def fetch(settings: ConnectionSettings, cmd: str, startup: Optional[str], enable: bool) -> FetchedConfigs:
        return FetchedConfigs(running=running, startup=running)

    return backup.backup_device(request, check_mode=check_mode, fetch=fetch).info


def _files(repo: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()}


def test_a_shrunk_config_is_refused_kept_outside_and_the_previous_files_stay(tmp_path):
    repo = tmp_path / "repo"
    first = _run(_request(repo), _config(150))
    assert first.error is None and first.changed
    before = _files(repo)
    assert set(before) == {"backups/r1.running-config", "backups/r1.startup-config"}

    info = _run(_request(repo), _config(20))
    assert info.error_class == "suspicious_shrink" and info.running_config_success is False and not info.changed
    assert _files(repo) == before, "neither the running nor the startup file may change"
    kept = tmp_path / ".repo.rejected" / "r1.20261207_060000.running-config"
    assert str(kept) in info.error
    assert "20 non-empty lines" in info.error and "of the 150" in info.error
    assert kept.read_text() == _config(20)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700


def test_the_rejected_copy_is_sanitized_like_the_backup_and_goes_where_asked(tmp_path):
    repo, rejected = tmp_path / "repo", tmp_path / "elsewhere" / "rejected"
    options = {"sanitize": True, "rejected_dir": rejected}
    assert _run(_request(repo, **options), _config(150, secret="$1$TopSecretHash")).error is None
    info = _run(_request(repo, **options), _config(20, secret="$1$TopSecretHash"))
    assert info.error_class == "suspicious_shrink"
    kept = rejected / "r1.20261207_060000.running-config"
    assert str(kept) in info.error
    text = kept.read_text()
    assert "hostname r1" in text and "TopSecretHash" not in text


def test_override_threshold_zero_and_check_mode(tmp_path):
    repo = tmp_path / "repo"
    _run(_request(repo), _config(150))
    # check mode refuses too, and keeps nothing anywhere
    info = _run(_request(repo), _config(20), check_mode=True)
    assert info.error_class == "suspicious_shrink" and "check mode" in info.error
    assert not (tmp_path / ".repo.rejected").exists()
    # the override and threshold 0 let the shrink through
    assert _run(_request(repo, allow_shrink=True), _config(20)).changed
    assert (repo / "backups" / "r1.running-config").read_text() == _config(20)
    _run(_request(repo), _config(150))
    assert _run(_request(repo, shrink_threshold=0.0), _config(20)).changed


def test_the_first_backup_has_no_guard(tmp_path):
    repo = tmp_path / "repo"
    info = _run(_request(repo, shrink_threshold=1.0), _config(5))
    assert info.error is None and info.changed
