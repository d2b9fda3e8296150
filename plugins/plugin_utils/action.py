# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""The one base class of the collection's controller-side action plugins: the edge between Ansible and the engine.

Every action plugin validates its arguments against its module's spec, gates its Python libraries,
calls module_utils, and turns the collection's errors into a failed result with their message.
That preamble lives here; a plugin keeps only its own call (``run_engine``) and, where a failure
carries more than a message (a device's result), its own ``failure``.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Sequence, Tuple

from ansible.module_utils.common.parameters import env_fallback
from ansible.plugins.action import ActionBase

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import MissingLibraryError, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError


class EngineAction(ActionBase):
    """Validate, gate the libraries, run the engine once, and map the collection's errors to a failed result."""

    TRANSFERS_FILES = False
    _requires_connection = False

    # The module's options (plugins/modules/<name>.py ARGUMENT_SPEC plus its doc fragments' pieces).
    ARGUMENT_SPEC: Dict[str, Any] = {}
    MUTUALLY_EXCLUSIVE: Optional[Sequence[Sequence[str]]] = None
    # Python libraries required before any work (names as _deps knows them).
    LIBRARIES: Tuple[str, ...] = ()

    def run(self, tmp: Optional[str] = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Validate the arguments, require the libraries, and merge run_engine()'s result (or failure())."""
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(
            argument_spec=self.ARGUMENT_SPEC, mutually_exclusive=self.MUTUALLY_EXCLUSIVE
        )
        try:
            for library in self.LIBRARIES:
                require(library)
            outcome = self.run_engine(args, task_vars)
        except (MissingLibraryError, NautobotBackupError) as exc:
            outcome = self.failure(exc, args, task_vars)
        result.update(outcome)
        return result

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """The plugin's own work: the task result's fields. Raise the collection's errors to fail the task."""
        raise NotImplementedError

    def failure(self, exc: BaseException, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """The result of a missing library or a NautobotBackupError: failed, with the error's message."""
        return {"failed": True, "msg": str(exc)}

    @property
    def check_mode(self) -> bool:
        """Whether the task runs in check mode."""
        return bool(self._task.check_mode)

    @property
    def diff_mode(self) -> bool:
        """Whether the task runs in diff mode."""
        return bool(self._task.diff)

    def _var(self, task_vars: Dict[str, Any], name: str) -> Any:
        """Return a host variable, templated (it may refer to other variables or a vault)."""
        value = task_vars.get(name)
        return self._templar.template(value) if value is not None else None

    def _raw_var(self, task_vars: Dict[str, Any], name: str) -> Any:
        """Return a variable as given, without rendering the Jinja inside it.

        A run_commands template is Jinja meant for each device, rendered later in a sandbox,
        so it must not be rendered by Ansible on the way in (ansible-core 2.19 renders trusted
        strings, such as extra vars, whenever they are read from task_vars). Extra vars (and AWX
        survey answers, which are extra vars) are read from the variable manager as loaded;
        other variables come from task_vars.
        """
        task = self._task
        manager = task.get_variable_manager() if hasattr(task, "get_variable_manager") else None
        extra = getattr(manager, "extra_vars", None) or {}
        value = extra[name] if name in extra else task_vars.get(name)
        # Plain builtins: a trust mark carried over from the extra vars would let Ansible render the value later.
        return json.loads(json.dumps(value)) if value is not None else None

    def _device_name(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Optional[str]:
        """The device of a per-host task: the device_name argument, else the inventory host name."""
        return args.get("device_name") or task_vars.get("inventory_hostname")


def merge_specs(*specs: Dict[str, Any]) -> Dict[str, Any]:
    """One argument spec from several pieces: a module's doc fragments' pieces, then its own options.

    A module file holds literals only (validate-modules then needs no AnsibleModule in it), so it writes an
    environment fallback as ``("env", [NAME, ...])``; here it becomes Ansible's ``(env_fallback, [NAME, ...])``.
    """
    merged: Dict[str, Any] = {}
    for spec in specs:
        merged.update(spec)
    return {name: _with_env_fallback(option) for name, option in merged.items()}


def _with_env_fallback(option: Dict[str, Any]) -> Dict[str, Any]:
    """The option with a literal ``("env", names)`` fallback turned into env_fallback."""
    fallback = option.get("fallback")
    if not fallback or fallback[0] != "env":
        return option
    return {**option, "fallback": (env_fallback, list(fallback[1]))}
