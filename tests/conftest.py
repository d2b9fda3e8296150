"""Session fixtures for the real test bed.

Each part of the test bed registers its fixtures in its own plugin module, so the
parts stay independent: the device lab (lab.fixtures), Nautobot
(testbed.nautobot_fixtures) and the Git remotes (testbed.git_fixtures). Every
session fixture stops what it started, by PID, even when tests fail.
"""

pytest_plugins = [
    "lab.fixtures",
    "testbed.nautobot_fixtures",
    "testbed.git_fixtures",
]
