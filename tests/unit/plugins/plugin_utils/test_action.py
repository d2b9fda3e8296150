"""Unit tests for plugin_utils.action.EngineAction: validation, the library gate, errors as failed results."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Dict

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction, merge_specs


class Echo(EngineAction):
    """Returns its arguments, or raises what the 'raise' argument names."""

    ARGUMENT_SPEC = {"value": {"type": "int", "required": True}, "raise": {"type": "str"}}
    MUTUALLY_EXCLUSIVE = [["value", "raise"]]

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        if args["raise"] == "engine":
            raise NautobotBackupError("the engine refused")
        if args["raise"] == "bug":
            raise ValueError("a bug")
        return {"changed": False, "value": args["value"], "check": self.check_mode, "diff": self.diff_mode}


def _action(cls: type, args: Dict[str, Any], check_mode: bool = False) -> EngineAction:
    task = SimpleNamespace(args=args, async_val=0, check_mode=check_mode, diff=False, action="echo")
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir="/tmp"))
    return cls(task, connection, SimpleNamespace(), None, None, None)


def test_arguments_are_validated_and_the_engine_result_merged():
    assert _action(Echo, {"value": "3"}, check_mode=True).run(task_vars={}) == {
        "changed": False, "value": 3, "check": True, "diff": False
    }
    with pytest.raises(AnsibleActionFail):
        _action(Echo, {"value": 1, "raise": "engine"}).run(task_vars={})  # mutually exclusive


def test_a_collection_error_is_a_failed_result_and_a_bug_is_not_hidden():
    class Raising(Echo):
        MUTUALLY_EXCLUSIVE = None

    assert _action(Raising, {"value": 1, "raise": "engine"}).run(task_vars={}) == {
        "failed": True, "msg": "the engine refused"
    }
    with pytest.raises(ValueError, match="a bug"):
        _action(Raising, {"value": 1, "raise": "bug"}).run(task_vars={})


def test_a_missing_library_fails_before_the_engine_runs():
    class Gated(Echo):
        LIBRARIES = ("no-such-library-h1",)

    result = _action(Gated, {"value": 1}).run(task_vars={})
    assert result["failed"] is True and "no-such-library-h1" in result["msg"] and "value" not in result


def test_merge_specs_later_pieces_win():
    merged = merge_specs({"a": {"type": "int"}, "b": {"type": "str"}}, {"a": {"type": "str"}})
    assert merged == {"a": {"type": "str"}, "b": {"type": "str"}}


def test_merge_specs_turns_a_literal_env_fallback_into_env_fallback(monkeypatch):
    from ansible.module_utils.common.parameters import env_fallback

    merged = merge_specs({"token": {"type": "str", "no_log": True, "fallback": ("env", ["H1_TOKEN"])}})
    assert merged["token"]["fallback"] == (env_fallback, ["H1_TOKEN"])
    monkeypatch.setenv("H1_TOKEN", "from-env")
    assert merged["token"]["fallback"][0](*merged["token"]["fallback"][1]) == "from-env"
