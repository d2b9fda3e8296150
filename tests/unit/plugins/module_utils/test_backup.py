"""Tests for plugins/module_utils/backup.py: the batch pool, diffs, and a device's failures as data."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils import backup
from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup import BackupRequest, failed_info
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import (
    ConnectionSettings,
    DeviceError,
    FetchedConfigs,
)
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import batch_results

CONFIG = "\n".join(["hostname {name}", "!", *[f"interface Ethernet{i}\n description x" for i in range(6)], "end", ""])


def backup_batch(*args: Any, **kwargs: Any) -> Dict[str, Dict[str, Any]]:
    """backup.backup_batch(), each outcome as the task result the batch action reports for it."""
    return batch_results(backup.backup_batch(*args, **kwargs))


def _request(tmp_path: Path, name: str, device_type: str = "cisco_ios") -> BackupRequest:
    settings = ConnectionSettings(host=f"{name}.lab", device_type=device_type, password="S3cret-pw")
    return BackupRequest(device_name=name, settings=settings, repo_dir=tmp_path, stamp={"date": "d", "timestamp": "t"})


def test_backup_batch_runs_in_threads_and_keeps_the_request_order(tmp_path):
    names = [f"r{i:02d}" for i in range(20)]
    threads: set = set()
    lock = threading.Lock()
    barrier = threading.Barrier(4, timeout=10)

    def fetch(settings: ConnectionSettings, running: str, startup: Optional[str], enable: bool) -> FetchedConfigs:
        with lock:
            threads.add(threading.get_ident())
        if settings.host in ("r00.lab", "r01.lab", "r02.lab", "r03.lab"):
            barrier.wait()  # four devices are in flight at the same time
        if settings.host == "r07.lab":
            raise DeviceError("authentication failed for netops", "auth_failed")
        name = settings.host.split(".")[0]
        return FetchedConfigs(running=CONFIG.format(name=name), startup=CONFIG.format(name=name))

    requests = {name: _request(tmp_path, name) for name in names}
    progress: List[tuple] = []
    results = backup_batch(requests, workers=4, progress=lambda *args: progress.append(args), fetch=fetch)
    assert list(results) == names
    assert len(threads) >= 4
    assert results["r07"]["failed"] is True and results["r07"]["error_class"] == "auth_failed"
    assert [r.get("failed", False) for n, r in results.items() if n != "r07"] == [False] * 19
    assert (tmp_path / "backups" / "r00.running-config").read_text().startswith("hostname r00")
    assert sorted(p[2] for p in progress) == sorted(names)
    assert [p[0] for p in progress] == list(range(1, 21)) and {p[1] for p in progress} == {20}


def test_backup_batch_reports_prebuilt_failures_and_contains_bugs(tmp_path):
    def fetch(settings, running, startup, enable):
        raise RuntimeError(f"bug while talking to {settings.host} with S3cret-pw")

    requests = {
        "bad": failed_info("bad", DeviceError("no platform", "unsupported_platform")),
        "buggy": _request(tmp_path, "buggy"),
    }
    results = backup_batch(requests, workers=2, fetch=fetch)
    assert results["bad"]["error_class"] == "unsupported_platform" and results["bad"]["failed"]
    assert results["buggy"]["failed"] and results["buggy"]["error_class"] == "other"
    assert "RuntimeError" in results["buggy"]["error"] and "S3cret-pw" not in results["buggy"]["error"]


def test_backup_batch_check_mode_and_diff(tmp_path):
    def fetch(settings, running, startup, enable):
        return FetchedConfigs(running=CONFIG.format(name="r1"), startup=CONFIG.format(name="r1"))

    results = backup_batch({"r1": _request(tmp_path, "r1")}, check_mode=True, want_diff=True, fetch=fetch)
    assert results["r1"]["changed"] is True and len(results["r1"]["diff"]) == 2
    assert not list(tmp_path.rglob("*config"))


def test_backup_batch_rejects_zero_workers(tmp_path):
    with pytest.raises(ValueError, match="workers"):
        backup_batch({}, workers=0)


def test_backup_batch_rejects_zero_processes(tmp_path):
    with pytest.raises(ValueError, match="processes"):
        backup_batch({}, processes=0)


def _fetch_config(settings: ConnectionSettings, running: str, startup: Optional[str], enable: bool) -> FetchedConfigs:
    if settings.host == "r05.lab":
        raise DeviceError("authentication failed for netops", "auth_failed")
    name = settings.host.split(".")[0]
    return FetchedConfigs(running=CONFIG.format(name=name), startup=CONFIG.format(name=name))


def test_backup_batch_in_forked_processes_matches_one_process(tmp_path):
    names = [f"r{i:02d}" for i in range(12)]
    (tmp_path / "one").mkdir()
    (tmp_path / "forked").mkdir()
    one = backup_batch({n: _request(tmp_path / "one", n) for n in names}, workers=4, fetch=_fetch_config)
    progress: List[tuple] = []
    parent = os.getpid()
    forked = backup_batch(
        {n: _request(tmp_path / "forked", n) for n in names},
        workers=4,
        processes=3,
        progress=lambda *args: progress.append((os.getpid(), *args)),
        fetch=_fetch_config,
    )
    assert list(forked) == names
    assert forked == one
    assert forked["r05"]["failed"] and forked["r05"]["error_class"] == "auth_failed"
    # The parent reports progress (children never print), once per device, counting up.
    assert {p[0] for p in progress} == {parent}
    assert [p[1] for p in progress] == list(range(1, 13)) and sorted(p[3] for p in progress) == names
    for name in names:
        one_file, forked_file = (tmp_path / sub / "backups" / f"{name}.running-config" for sub in ("one", "forked"))
        assert one_file.exists() is forked_file.exists() is (name != "r05")
        if name != "r05":
            assert one_file.read_bytes() == forked_file.read_bytes()
    # Every child was reaped.
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_backup_batch_a_dead_child_fails_only_its_unreported_devices(tmp_path):
    names = [f"r{i:02d}" for i in range(6)]

    def fetch(settings, running, startup, enable):
        if settings.host == "r04.lab":
            # Give the child's main thread time to send r00's and r02's results, then die mid-batch.
            # (A device backed up but not yet reported when its process dies counts as failed.)
            threading.Event().wait(1.0)
            os._exit(7)
        return _fetch_config(settings, running, startup, enable)

    # 2 processes of 1 thread: the first child backs up r00, r02, then dies on r04; the second r01, r03, r05.
    results = backup_batch({n: _request(tmp_path, n) for n in names}, workers=2, processes=2, fetch=fetch)
    assert list(results) == names
    assert not results["r00"].get("failed") and not results["r02"].get("failed")
    dead = results["r04"]
    assert dead["failed"] and dead["error_class"] == "other"
    assert "exit status 7" in dead["error"] and dead["device_ip"] == "r04.lab"
    assert "S3cret-pw" not in str(results)
    # The other child's devices are unaffected: r05's own failure is its own (auth_failed), as data.
    assert not results["r01"].get("failed") and not results["r03"].get("failed")
    assert results["r05"]["error_class"] == "auth_failed"
    assert (tmp_path / "backups" / "r02.running-config").exists()
    assert not (tmp_path / "backups" / "r04.running-config").exists()


def test_backup_batch_a_refused_fork_backs_up_the_rest_in_this_process(tmp_path, monkeypatch):
    from ansible_collections.netops.nautobot_backup.plugins.module_utils import process_pool

    real_fork, forks = os.fork, []

    def fork_once() -> int:
        if forks:
            raise OSError(11, "Resource temporarily unavailable")
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(process_pool, "_fork", fork_once)
    names = [f"r{i:02d}" for i in range(9)]
    results = backup_batch({n: _request(tmp_path, n) for n in names}, workers=3, processes=3, fetch=_fetch_config)
    assert list(results) == names
    assert [n for n, r in results.items() if r.get("failed")] == ["r05"]
    assert results["r05"]["error_class"] == "auth_failed"
    assert len(list((tmp_path / "backups").glob("*.running-config"))) == 8


def test_backup_batch_forks_its_children_with_a_frozen_heap_and_thaws_it_after(tmp_path, monkeypatch):
    """gc.freeze() across the forks (the children's collections leave the inherited pages alone); then unfrozen."""
    import gc

    from ansible_collections.netops.nautobot_backup.plugins.module_utils import process_pool

    real_fork, frozen = os.fork, []

    def fork_and_look() -> int:
        frozen.append(gc.get_freeze_count())
        return real_fork()

    monkeypatch.setattr(process_pool, "_fork", fork_and_look)
    names = [f"r{i:02d}" for i in range(4)]
    results = backup_batch({n: _request(tmp_path, n) for n in names}, workers=2, processes=2, fetch=_fetch_config)
    assert len(frozen) == 2 and all(count > 1000 for count in frozen), frozen
    assert gc.get_freeze_count() == 0
    assert [n for n, r in results.items() if r.get("failed")] == []


# ---------------------------------------------------------------- hostile input (issue #12)
SECRET_CONFIG = CONFIG.replace("!", "snmp-server community Comm-5ecret-7 RO", 1)


def _fetch_secret(settings, running, startup, enable):
    return FetchedConfigs(running=SECRET_CONFIG.format(name="r1"), startup=SECRET_CONFIG.format(name="r1"))


@pytest.mark.parametrize(
    ("options", "content"),
    [({}, False), ({"show_diff": True}, True), ({"sanitize": True}, True)],
    ids=["default", "show_diff", "sanitize"],
)
def test_diffs_show_content_only_when_asked_or_sanitized(tmp_path, options, content):
    request = _request(tmp_path, "r1")
    for key, value in options.items():
        setattr(request, key, value)
    diffs = backup_batch({"r1": request}, want_diff=True, fetch=_fetch_secret)["r1"]["diff"]
    assert len(diffs) == 2
    text = repr(diffs)
    if content:
        assert [d["after_header"] for d in diffs] == ["backups/r1.running-config", "backups/r1.startup-config"]
        assert "interface Ethernet1" in text
        assert ("Comm-5ecret-7" in text) is (not options.get("sanitize"))
    else:
        assert diffs == [
            {"prepared": "backups/r1.running-config changed (content not shown: set show_diff or sanitize)"},
            {"prepared": "backups/r1.startup-config changed (content not shown: set show_diff or sanitize)"},
        ]
    # No diff at all without --diff, and none for an unchanged file.
    again = backup_batch({"r1": request}, want_diff=False, fetch=_fetch_secret)["r1"]
    assert "diff" not in again


def test_sanitized_diff_sanitizes_the_previous_file_too(tmp_path):
    """Turning sanitize on: the previous, unsanitized file must not show its secrets in the diff."""
    backup_batch({"r1": _request(tmp_path, "r1")}, fetch=_fetch_secret)
    assert "Comm-5ecret-7" in (tmp_path / "backups" / "r1.running-config").read_text()
    request = _request(tmp_path, "r1")
    request.sanitize = True
    diffs = backup_batch({"r1": request}, want_diff=True, fetch=_fetch_secret)["r1"]["diff"]
    assert diffs and "Comm-5ecret-7" not in repr(diffs)


def test_an_unexpected_error_while_cleaning_is_that_devices_failure_without_its_text(tmp_path, monkeypatch):
    from ansible_collections.netops.nautobot_backup.plugins.module_utils import backup

    def broken_sanitize(text, device_type, patterns):
        raise ValueError(f"cannot sanitize {text.splitlines()[2]}")

    monkeypatch.setattr(backup, "sanitize_config", broken_sanitize)
    buggy = _request(tmp_path, "buggy")
    buggy.sanitize = True
    results = backup_batch({"buggy": buggy, "r1": _request(tmp_path, "r1")}, fetch=_fetch_secret)
    error = results["buggy"]["error"]
    assert results["buggy"]["error_class"] == "other" and results["buggy"]["failed"]
    assert error.startswith("unexpected ValueError at test_backup.py:") and "broken_sanitize" in error
    assert "Comm-5ecret-7" not in error and "snmp-server" not in error
    assert results["r1"]["running_config_success"] is True
    # The same guard serves the per-host action.
    outcome = backup.guarded_backup(buggy, fetch=_fetch_secret)
    assert outcome.info.error_class == "other" and "Comm-5ecret-7" not in outcome.info.error


@pytest.mark.parametrize("command", ["show run\nreload", "show run\rreload", "show run\u2028reload", "show\trun"])
def test_a_command_override_with_a_control_character_fails_before_contact(tmp_path, command):
    calls = []

    def fetch(settings, running, startup, enable):
        calls.append(running)
        return _fetch_secret(settings, running, startup, enable)

    request = _request(tmp_path, "r1")
    request.command_overrides = {"running": command}
    result = backup_batch({"r1": request}, fetch=fetch)["r1"]
    assert result["error_class"] == "other" and "the running-config command contains U+" in result["error"]
    assert calls == []


def test_a_device_result_carries_its_location_ok_or_failed(tmp_path):
    """The front page counts by location, so a failed device's result has it too."""

    def fetch(settings: ConnectionSettings, running: str, startup: Optional[str], enable: bool) -> FetchedConfigs:
        if settings.host == "r2.lab":
            raise DeviceError("authentication failed for netops", "auth_failed")
        return FetchedConfigs(running=CONFIG.format(name="r1"), startup=CONFIG.format(name="r1"))

    requests = {name: _request(tmp_path, name) for name in ("r1", "r2")}
    for request in requests.values():
        request.location = "DC1"
    results = backup_batch(requests, workers=2, fetch=fetch)
    assert [(results[n]["location"], results[n].get("failed", False)) for n in ("r1", "r2")] == [
        ("DC1", False),
        ("DC1", True),
    ]
