"""Unit tests for plugin_utils.results: a device's outcome as the task result and progress line Ansible shows."""

from __future__ import annotations

import pytest

from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import progress_line, task_result


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"changed": True, "startup_config_success": True}, "ok (changed)"),
        ({"changed": False, "startup_config_success": False, "startup_config_reason": "none"}, "ok (unchanged)"),
        (
            {"error": "authentication failed", "error_class": "auth_failed"},
            "failed (auth_failed): authentication failed",
        ),
    ],
)
def test_task_result_and_progress_line(info, expected):
    result = task_result(info)
    assert result["changed"] is bool(info.get("changed"))
    assert result.get("failed", False) is bool(info.get("error"))
    assert progress_line(3, 10, "r1", result) == f"[3/10] r1 {expected}"
    if info.get("error"):
        assert result["msg"] == "auth_failed: authentication failed"
    assert "diff" not in result
    assert task_result(info, [{"before": "a", "after": "b"}])["diff"] == [{"before": "a", "after": "b"}]


def test_progress_line_total_never_below_done():
    assert progress_line(5, 0, "r1", {"changed": False}) == "[5/5] r1 ok (unchanged)"
