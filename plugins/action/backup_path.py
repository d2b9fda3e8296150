# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of netops.nautobot_backup.backup_path: render backup paths on the controller.

Thin edge over module_utils/paths.py: validate the arguments, pick the facts (the task's
``facts``, the host's ``nautobot`` variable, or every listed host's through ``hostvars``),
call the engine once, and turn PathTemplateError into a failed result. Nothing is written
and no connection to the device is opened.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from ansible_collections.netops.nautobot_backup.plugins.module_utils.clock import as_stamp
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import (
    PathPlanError,
    PathTemplateError,
    confine,
    device_paths,
    render_many,
)
from ansible_collections.netops.nautobot_backup.plugins.modules.backup_path import (
    ARGUMENT_SPEC,
    MUTUALLY_EXCLUSIVE,
)
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction

FACTS_VARIABLE = "nautobot"


class ActionModule(EngineAction):
    """Render one host's backup paths, or every listed host's with a collision check."""

    ARGUMENT_SPEC = ARGUMENT_SPEC
    MUTUALLY_EXCLUSIVE = MUTUALLY_EXCLUSIVE

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Render, and report paths or every error found."""
        result: Dict[str, Any] = {"changed": False}
        try:
            stamp = as_stamp(args["timestamp"])
            if args["hosts"] is not None:
                result["paths"] = render_many(
                    self._facts_of_hosts(args["hosts"], task_vars),
                    stamp,
                    args["running_template"],
                    args["startup_template"],
                    args["repo_dir"],
                )
            else:
                result.update(self._one_host(args, task_vars, stamp))
        except PathTemplateError as exc:
            errors = exc.errors if isinstance(exc, PathPlanError) else [exc]
            result.update(failed=True, msg=str(exc), errors=[error.to_dict() for error in errors])
            return result
        result.update(stamp)
        return result

    def _one_host(self, args: Mapping[str, Any], task_vars: Mapping[str, Any], stamp: Mapping[str, str]) -> Dict:
        """Render the paths of the current host (or of the given facts / device_name)."""
        device = args["device_name"] or task_vars.get("inventory_hostname")
        facts = args["facts"]
        if facts is None:
            facts = self._templar.template(task_vars.get(FACTS_VARIABLE))
        running, startup = device_paths(facts, device, stamp, args["running_template"], args["startup_template"])
        paths = {"running_path": running, "startup_path": startup}
        if args["repo_dir"]:
            paths["running_file"] = str(confine(args["repo_dir"], running, device=device))
            paths["startup_file"] = str(confine(args["repo_dir"], startup, device=device))
        return paths

    @staticmethod
    def _facts_of_hosts(hosts: List[str], task_vars: Mapping[str, Any]) -> Dict[str, Any]:
        """Return host -> its ``nautobot`` facts (None when unset), in order, duplicates dropped."""
        hostvars = task_vars.get("hostvars") or {}
        facts: Dict[str, Any] = {}
        missing = [host for host in hosts if host not in hostvars]
        if missing:
            raise PathPlanError(
                [PathTemplateError(f"host {host!r} is not in the inventory", device=host) for host in missing]
            )
        for host in hosts:
            if host not in facts:
                host_vars = hostvars[host]
                facts[host] = host_vars[FACTS_VARIABLE] if FACTS_VARIABLE in host_vars else None
        return facts
