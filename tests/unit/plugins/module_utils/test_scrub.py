"""Tests for plugins/module_utils/scrub.py and that every secret-bearing path uses its one rule."""

from __future__ import annotations

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils import git_runner, retrieval
from ansible_collections.netops.nautobot_backup.plugins.module_utils.scrub import MASK, Scrubber
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils import device_requests


@pytest.mark.parametrize(
    ("secrets", "text", "expected"),
    [
        (["s3cr3t"], "pw s3cr3t and s3cr3t", f"pw {MASK} and {MASK}"),
        # Short secrets are masked too (the old device rule skipped secrets under 3 characters).
        (["ab"], "x ab y", f"x {MASK} y"),
        # Longest first, so a secret that contains another is masked whole.
        (["abc", "abcdef"], "abcdef", MASK),
        # Numbers (an all-digit password read from YAML) are masked by their text.
        ([123456], "pin 123456", f"pin {MASK}"),
        ([None, "", False], "nothing to hide", "nothing to hide"),
        ([], "https://bot:tok@h.example/x.git", "https://***@h.example/x.git"),
    ],
)
def test_scrubber(secrets, text, expected):
    assert Scrubber(secrets)(text) == expected


def test_device_settings_and_git_use_the_same_rule():
    settings = retrieval.ConnectionSettings(host="h", device_type="cisco_ios", password="pw", secret="en4ble")
    text = "login pw / enable en4ble / remote https://u:tok@git.example/x.git"
    assert settings.scrub(text) == Scrubber(["pw", "en4ble"])(text)
    assert "pw" not in settings.scrub(text) and "tok" not in settings.scrub(text)
    assert git_runner.Scrubber is Scrubber
    error = device_requests.host_variable_error(ValueError("bad value pw for https://u:tok@h/x"), ["pw"])
    assert "pw" not in str(error) and "tok" not in str(error)
