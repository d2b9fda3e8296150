"""Session fixtures for the real test bed.

Each part of the test bed registers its fixtures in its own plugin module, so the
parts stay independent: the device lab (lab.fixtures), Nautobot
(testbed.nautobot_fixtures), the Git remotes (testbed.git_fixtures) and a
fault-injecting HTTP server (testbed.http_faults). Every
session fixture stops what it started, by PID, even when tests fail.
"""

from __future__ import annotations

import signal

pytest_plugins = [
    "lab.fixtures",
    "testbed.nautobot_fixtures",
    "testbed.git_fixtures",
    "testbed.http_faults",
]


def _interrupt(signum, _frame):
    """Turn SIGTERM into KeyboardInterrupt so pytest runs the finalizers that stop the test bed."""
    raise KeyboardInterrupt(f"received signal {signum}")


def pytest_configure(config):  # pylint: disable=unused-argument
    """Make a terminated test run still stop every process it started."""
    signal.signal(signal.SIGTERM, _interrupt)
