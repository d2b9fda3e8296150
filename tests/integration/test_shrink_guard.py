"""The shrink guard end to end: playbooks/backup.yml, the lab, a real remote and Nautobot.

A device whose running config drops from 150 to 20 lines is refused (class suspicious_shrink), its
previous file is kept byte for byte, the rejected config is kept outside the checkout (0600 in a
0700 directory) and the message says where; the host variable nautobot_backup_allow_shrink lets it through.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Dict

import pytest
import yaml
from test_backup_playbook import Bed

pytestmark = [pytest.mark.lab, pytest.mark.nautobot, pytest.mark.git]

DEVICE = "ios-r2"
NAMES = ("ios-r1", DEVICE)
RUNNING = f"backups/{DEVICE}.running-config"
STARTUP = f"backups/{DEVICE}.startup-config"


@pytest.fixture
def bed(tmp_path, lab, nautobot_clean, git_remotes):
    return Bed(tmp_path, lab, nautobot_clean, git_remotes)


def _non_empty(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


def _config_of(lines: int, hostname: str) -> str:
    """An IOS running config of exactly ``lines`` non-empty lines (hostname, loopbacks, end)."""
    pads = (lines - 2) // 2
    body = [line for i in range(pads) for line in (f"interface Loopback{i}", f" description shrink test {i}")]
    body += ["!"] * (lines - 2 - len(body))
    return "\n".join([f"hostname {hostname}", *body, "end"])


def _set_running(lab, snapshot: Dict, text: str) -> None:
    """Give the lab device this running (and the same startup) config, through the lab's restore call."""
    lab.restore(DEVICE, {**snapshot, "running": text, "startup": text})


def test_a_shrunk_config_is_refused_kept_outside_and_the_override_lets_it_through(bed, lab, lab_restore):
    lab_restore(DEVICE)
    snapshot = lab.snapshot(DEVICE)
    checkout = bed.tmp / "checkout"
    big, small = _config_of(150, DEVICE), _config_of(20, DEVICE)

    _set_running(lab, snapshot, big)
    # The guard off for the baseline run: the remote may hold this device's file from another test.
    first = bed.run(NAMES, backup_shrink_threshold=0)
    assert first.returncode == 0, bed.output()
    running_before = (checkout / RUNNING).read_bytes()
    startup_before = (checkout / STARTUP).read_bytes()
    assert _non_empty(running_before.decode()) == 150
    commits = len(bed.commits())

    _set_running(lab, snapshot, small)
    for mode in ("batch", "per_host"):
        refused = bed.run(NAMES, backup_mode=mode)
        assert refused.returncode != 0, bed.output()
        report = bed.report()
        failed = {d["device_name"]: d for d in report["failed_devices"]}
        assert set(failed) == {DEVICE}, report
        assert failed[DEVICE]["error_class"] == "suspicious_shrink", failed
        message = failed[DEVICE]["error"]
        assert "20 non-empty lines" in message and "of the 150" in message, message
        # The previous files are kept byte for byte, in the checkout and in the remote.
        assert (checkout / RUNNING).read_bytes() == running_before
        assert (checkout / STARTUP).read_bytes() == startup_before
        assert bed.git_cmd("show", f"main:{RUNNING}").encode() == running_before
        # No config commit: only the device's status record changed (ok -> failed), on the first refusal.
        new = [line.split()[0] for line in bed.commits()[: len(bed.commits()) - commits]]
        assert len(new) == 1, f"{mode}: {new}"
        assert all(bed.files_in(commit) == [f".status/{DEVICE}.json"] for commit in new), f"{mode}: only the status"
        # The rejected config is outside the checkout, private, and the message names it.
        rejected_dir = bed.tmp / ".checkout.rejected"
        kept = [path for path in rejected_dir.iterdir() if str(path) in message]
        assert len(kept) == 1, (message, sorted(rejected_dir.iterdir()))
        assert kept[0].name.startswith(f"{DEVICE}.") and kept[0].name.endswith(".running-config")
        assert not kept[0].resolve().is_relative_to(checkout.resolve())
        assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600
        assert stat.S_IMODE(rejected_dir.stat().st_mode) == 0o700
        assert _non_empty(kept[0].read_text()) == 20 and kept[0].read_text().startswith(f"hostname {DEVICE}")
        assert "suspicious_shrink" in bed.output() and str(kept[0]) in bed.output()

    # A known, intended shrink: the host variable (host_vars beside the inventory) lets it through.
    host_vars = bed.tmp / "host_vars"
    host_vars.mkdir()
    (host_vars / f"{DEVICE}.yml").write_text(yaml.safe_dump({"nautobot_backup_allow_shrink": True}))
    allowed = bed.run(NAMES)
    assert allowed.returncode == 0, bed.output()
    assert len(bed.commits()) == commits + 2  # the status record's commit, then this one
    pushed = bed.git_cmd("show", f"main:{RUNNING}")
    assert _non_empty(pushed) == 20 and Path(checkout / RUNNING).read_text() == pushed
