"""pytest plugin for the device lab (registered in tests/conftest.py as ``lab.fixtures``).

``lab`` (session): a real lab process serving tests/lab/specs/test.yml on a free port,
in a temporary state directory; yields a LabClient and always stops the process by
PID. ``lab_restore`` (function): call it with a device name before mutating that
device; its faults and configs are put back after the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from lab.client import LabClient
from lab.lifecycle import SPECS_DIR, start_lab, stop_lab

TEST_SPEC = SPECS_DIR / "test.yml"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabClient]:
    """Start the test lab once per session and stop it (by PID) at the end, even on failure.

    The client has ``.devices`` (lab.json entries), ``.state_dir``, ``.port`` and the
    control methods (set_faults, change_config, connection_log, ...).
    """
    state_dir: Path = tmp_path_factory.mktemp("lab")
    try:
        client = start_lab(TEST_SPEC, state_dir, port=0)
        yield client
    finally:
        stop_lab(state_dir)


@pytest.fixture
def lab_restore(lab: LabClient) -> Iterator[Callable[[str], dict[str, Any]]]:
    """Return track(name) -> lab.json entry; tracked devices are restored after the test."""
    snapshots: dict[str, dict[str, Any]] = {}

    def track(name: str) -> dict[str, Any]:
        if name not in snapshots:
            snapshots[name] = lab.snapshot(name)
        return lab.entry(name)

    yield track
    for name, snap in snapshots.items():
        lab.restore(name, snap)
