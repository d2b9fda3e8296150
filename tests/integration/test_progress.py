"""The periodic progress line (devices done, rate, ETA, running counts) of playbooks/backup.yml on the device lab.

Slow devices (the lab's slow_output fault: each config arrives over 3 s) backed up one at a time with a
progress interval of 1 s: every slow device finishes more than one interval after the previous line, so a
periodic line follows it whatever the machine's speed. Batch mode prints it from the batch task
(backup_progress_interval), per-host mode from the backup_progress callback (its interval option).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from testbed.ansible_run import lab_inventory, run_playbook
from testbed.git_remotes import seeded
from testbed.procs import REPO_ROOT

pytestmark = [pytest.mark.lab, pytest.mark.git]

PLAYBOOK = REPO_ROOT / "playbooks" / "backup.yml"
SLOW = ("eos-s1", "ios-slow", "nxos-s1")  # ios-slow is slow in the lab spec; the other two are made slow here
HOSTS = (*SLOW, "ios-authfail")
LINE = re.compile(
    r"^progress: (?P<done>\d+)/(?P<total>\d+) devices in \S+, (?P<rate>[\d.]+) devices/(?:s|min), "
    r"ETA (?P<eta>\S+); (?P<ok>\d+) ok \((?P<changed>\d+) changed\), (?P<failed>\d+) failed$",
    re.MULTILINE,
)


@pytest.fixture
def slow_lab(lab, lab_restore):
    """The lab with eos-s1 and nxos-s1 slow too (restored after the test)."""
    for name in SLOW:
        lab_restore(name)
    for name in ("eos-s1", "nxos-s1"):
        lab.set_faults(name, ["slow_output"])
    return lab


def _backup(lab, tmp_path: Path, hosts, args=(), env=None, **overrides: Any):
    remote = seeded(tmp_path / "remote.git")
    inventory = lab_inventory([d for d in lab.devices if d["name"] in hosts], tmp_path / "inventory.yml")
    extra: Dict[str, Any] = {
        "backup_repo_url": remote.url,
        "backup_repo_dir": str(tmp_path / "checkout"),
        "backup_report_path": str(tmp_path / "report.json"),
        "backup_startup": False,
        "backup_workers": 1,
        "backup_read_timeout": 30,
    }
    extra.update(overrides)
    return run_playbook(PLAYBOOK, inventory, extra_vars=extra, args=args, env=env)


def _lines(stdout: str) -> List[Dict[str, int]]:
    """Every periodic line's numbers; each must be consistent in itself."""
    found = []
    for match in LINE.finditer(stdout):
        numbers = {key: int(value) for key, value in match.groupdict().items() if key not in ("rate", "eta")}
        assert numbers["total"] == len(HOSTS), match.group(0)
        assert numbers["ok"] + numbers["failed"] == numbers["done"] <= numbers["total"], match.group(0)
        assert numbers["changed"] <= numbers["ok"] and numbers["failed"] <= 1, match.group(0)
        assert float(match.group("rate")) > 0 and match.group("eta") != "unknown", match.group(0)
        found.append(numbers)
    return found


def _done_sequence(lines: List[Dict[str, int]]) -> Tuple[int, ...]:
    return tuple(line["done"] for line in lines)


def test_batch_prints_the_periodic_line_with_rate_eta_and_counts(slow_lab, tmp_path):
    proc = _backup(slow_lab, tmp_path, HOSTS, backup_progress_interval=1)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, "ios-authfail fails the run"
    lines = _lines(output)
    # One line after each of the three slow devices at least, counting up.
    assert len(lines) >= len(SLOW), output
    assert list(_done_sequence(lines)) == sorted(_done_sequence(lines))
    # All four finish in the run; the last slow device is the last of the batch's order, so the last line has all.
    assert lines[-1] == {"done": 4, "total": 4, "ok": 3, "changed": 3, "failed": 1}, output
    assert "ETA 0s; 3 ok (3 changed), 1 failed" in output
    # The [i/N] lines are still there, one per device.
    for name in HOSTS:
        assert re.search(rf"^\[\d/4\] {name} ", output, re.MULTILINE), name


def test_batch_interval_zero_turns_the_periodic_line_off(slow_lab, tmp_path):
    proc = _backup(slow_lab, tmp_path, ("eos-s1", "ios-slow"), backup_progress_interval=0)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not LINE.search(proc.stdout), proc.stdout
    assert re.search(r"^\[2/2\] ", proc.stdout, re.MULTILINE)


def test_per_host_mode_gets_the_same_line_from_the_callback(slow_lab, tmp_path):
    proc = _backup(
        slow_lab,
        tmp_path,
        HOSTS,
        args=["--forks", "1"],
        env={"NAUTOBOT_BACKUP_PROGRESS_INTERVAL": "1"},
        backup_mode="per_host",
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, "ios-authfail fails the run"
    lines = _lines(output)
    assert len(lines) >= len(SLOW), output
    assert lines[-1] == {"done": 4, "total": 4, "ok": 3, "changed": 3, "failed": 1}, output
