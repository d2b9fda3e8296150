# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Strategy plugin: linear, with the per-host status tasks of a batch answered in the controller process."""

from __future__ import annotations

DOCUMENTATION = r"""
name: batch
short_description: Linear, with per-host status tasks answered in the controller, without a worker per host
version_added: 0.1.0
description:
  - Runs a play exactly like C(ansible.builtin.linear), task by task and host by host, with one exception.
    Tasks of M(netops.nautobot_backup.host_status) are answered in the controller process and start no worker.
  - "Why: Ansible forks one worker process per host for every task, even for a task that only reports a status.
    On a 2-core controller a per-host task costs tens of milliseconds per host, for example 35 ms at 2,000 hosts,
    so 70 s. A play that backs up a whole fleet in one run-once batch task still needs one per-host task, so
    that every device gets its own status in the PLAY RECAP and in AWX's host summary. With this strategy that
    task costs under a millisecond per host."
  - The answer is the same result the task gives in a worker, through the same rule. The usual per-host machinery
    (the C(when) condition, the stats, the callbacks, C(register), C(ignore_errors), failing the host) then handles it.
    So the recap, AWX's host summary and its job events read exactly as under C(linear).
  - A M(netops.nautobot_backup.host_status) task with C(loop), C(until), C(changed_when), C(failed_when),
    C(notify) or C(async), a handler, or a task whose arguments or condition cannot be evaluated in the
    controller runs in a worker as usual. Ansible's own error then reports any problem.
  - Every other task runs as under C(linear).
  - "The play's failed hosts are kept in a set, with the list's append and remove. Ansible tests every host
    of the play against that list each time it gathers a host's variables, so under C(linear) a play with
    thousands of failed hosts spends time in proportion to hosts times failed hosts per host: for example 57 s
    for 2,000 failed devices in the failed-devices play of C(playbooks/backup.yml)."
  - C(playbooks/backup.yml) uses it (the input C(backup_strategy)). ansible-core 2.19 prints a deprecation
    warning for any strategy plugin outside C(ansible.builtin). Run with C(-e backup_strategy=linear) to use
    C(ansible.builtin.linear) instead; the backup is the same, with one worker per device for the status task.
author:
  - Netops automation team (@netops)
"""

from collections import Counter
from typing import Any, Dict, Iterable, Optional

from ansible.executor.task_result import _RawTaskResult
from ansible.playbook.handler import Handler
from ansible.plugins.loader import action_loader
from ansible.plugins.strategy.linear import StrategyModule as LinearStrategyModule
from ansible.utils.display import Display

from ansible_collections.netops.nautobot_backup.plugins.modules.host_status import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import host_status_result

try:  # ansible-core 2.19's template engine, the one linear itself uses.
    from ansible._internal._templating._engine import TemplateEngine
except ImportError:  # pragma: no cover - another ansible-core: every task runs in a worker
    TemplateEngine = None  # pylint: disable=invalid-name

display = Display()

# Task keywords that only a worker's TaskExecutor applies: such a task runs in a worker.
_WORKER_KEYWORDS = ("loop", "loop_with", "until", "changed_when", "failed_when", "notify", "async_val")


class HostNames(set):
    """The play's failed (removed) host names: a set, so ``in`` is the set's own constant-time test in C.

    For every host and task, Ansible's variable manager lists the play's hosts that are not in this collection
    (``ansible_play_hosts``, ``ansible_play_batch``), one ``in`` per host. On Ansible's plain list that costs
    hosts x failed hosts per host: the failed-devices play of 2,000 failed devices spent about 57 s there. A
    ``list`` subclass with a Python ``__contains__`` fixed that but cost 0.1 us per test on every run, also with
    no failure (100 million tests, 13 s of a 5,000-device profile). Ansible only appends, removes and tests
    ``in``: ``append`` and ``remove`` keep the list's meaning (a name appended twice stays until removed twice).
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        names = list(names)
        super().__init__(names)
        self._counts = Counter(names)

    def append(self, name: str) -> None:
        """Add one occurrence, as list.append."""
        self._counts[name] += 1
        self.add(name)

    def remove(self, name: str) -> None:
        """Remove one occurrence, as list.remove (ValueError when there is none)."""
        if self._counts.get(name, 0) <= 0:
            raise ValueError(f"{name!r} is not in the failed hosts")
        self._counts[name] -= 1
        if not self._counts[name]:
            del self._counts[name]
            self.discard(name)


class StrategyModule(LinearStrategyModule):
    """Linear; host_status tasks are answered here instead of in a forked worker."""

    def run(self, iterator: Any, play_context: Any) -> Any:
        """Linear's run, with the play's failed hosts in a HostNames set (constant-time ``in``)."""
        play = iterator._play
        play._removed_hosts = HostNames(play._removed_hosts)
        return super().run(iterator, play_context)

    def __init__(self, tqm: Any) -> None:
        super().__init__(tqm)
        # task uuid -> whether its hosts are answered in the controller (decided once per task)
        self._in_controller: Dict[str, bool] = {}
        self._result_tasks: Dict[str, Any] = {}

    def _queue_task(self, host: Any, task: Any, task_vars: Dict[str, Any], play_context: Any) -> None:
        """Answer a host_status task here; queue every other task to a worker as linear does."""
        result = self._controller_result(host, task, task_vars)
        if result is None:
            super()._queue_task(host, task, task_vars, play_context)
            return
        # The entry a worker's task leaves for the result processing (which pops it), and the same callbacks.
        self._queued_task_cache[(host.name, task._uuid)] = {
            "host": host,
            "task": task,
            "task_vars": task_vars,
            "play_context": play_context,
        }
        self._tqm.send_callback("v2_runner_on_start", host, task)
        raw = _RawTaskResult(host=host, task=self._result_task(task), return_data=result, task_fields={})
        with self._results_lock:
            self._results.append(raw)
        self._pending_results += 1

    def _result_task(self, task: Any) -> Any:
        """The task a result carries: a copy without delegation, like the copy a worker's result gets.

        Nothing was delegated (nothing ran anywhere), and a worker's copy carries the templated delegate_to, not
        the template the callbacks would otherwise print. One copy per task serves all its hosts.
        """
        if task._uuid not in self._result_tasks:
            copy = task.copy(exclude_parent=True, exclude_tasks=True)
            copy._parent = task._parent
            copy.delegate_to = None
            self._result_tasks[task._uuid] = copy
        return self._result_tasks[task._uuid]

    def _controller_result(self, host: Any, task: Any, task_vars: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """The task's result for the host, or None when a worker must run it."""
        if not self._answers(task):
            return None
        # pylint: disable-next=broad-exception-caught
        try:  # anything unexpected goes to a worker, where Ansible reports it in its own words
            context: Dict[str, Any] = {}  # what a worker adds to a skip (false_condition)
            if task.when and not task._resolve_conditional(task.when, task_vars, result_context=context):
                return {"changed": False, "skipped": True, "skip_reason": "Conditional result was False", **context}
            templar = TemplateEngine(loader=self._loader, variables=task_vars)
            args = templar.template(task.args)
            no_log = templar.template(task.no_log)
            if set(args) - set(ARGUMENT_SPEC) or not isinstance(no_log, (bool, type(None))):
                return None
            name = args.get("statuses_var")
            statuses = task_vars[name] if name is not None else None
            result = host_status_result(host.name, args.get("status"), statuses, args.get("msg") or "failed")
        except Exception as exc:  # noqa: BLE001 - see above
            display.debug(f"host_status for {host.name} goes to a worker: {type(exc).__name__}")
            return None
        result.setdefault("failed", False)  # as a worker's TaskExecutor sets it
        result["_ansible_no_log"] = bool(no_log)
        return result

    def _answers(self, task: Any) -> bool:
        """Whether the task's hosts are answered in the controller: host_status, without worker-only keywords."""
        if task._uuid not in self._in_controller:
            answers = TemplateEngine is not None and not isinstance(task, Handler)
            answers = answers and not any(getattr(task, keyword, None) for keyword in _WORKER_KEYWORDS)
            # ignore_errors as a template is a worker's to evaluate (the result processing reads it as it is)
            answers = answers and isinstance(task.ignore_errors, (bool, type(None)))
            if answers:
                action = action_loader.get(task.action, class_only=True, collection_list=task.collections)
                answers = bool(getattr(action, "ANSWERED_IN_CONTROLLER", False))
            self._in_controller[task._uuid] = answers
        return self._in_controller[task._uuid]
