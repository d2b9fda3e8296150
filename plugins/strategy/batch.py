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
  - A M(netops.nautobot_backup.host_status) task that reads nothing that can differ between hosts is answered for
    all its hosts at once, with the variables of its first host. That is a task with no template in its arguments,
    a plain C(no_log), a plain C(run_once) or one variable (C({{ name }}) or C({{ name | default(true) }})), and a
    condition of bare variable names only, whose variables and C(statuses_var) are each one fact set once for every
    host (C(set_fact) with C(run_once)) or an extra var without a template. Linear would gather every host's
    variables and template the condition for each host, about 2 ms a host. Other tasks are answered host by host.
  - Ansible's implicit end-of-role task (the C(role_complete) meta task after every role) runs for all its hosts
    at once. Linear gathers every host's variables for it and uses none of them, about 3 ms a host after a role
    imported for a whole fleet.
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

import re
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible import constants as C
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

# A template of one bare variable, as run_once may be for a task answered for all its hosts at once.
_BARE_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*default\((?:true|false)\)\s*)?\}\}")
# Task keywords that only a worker's TaskExecutor applies: such a task runs in a worker.
_WORKER_KEYWORDS = ("loop", "loop_with", "until", "changed_when", "failed_when", "notify", "async_val")


def _ends_a_role(task: Any) -> bool:
    """Whether the task is the implicit meta task that marks a role complete for a host.

    Linear runs it for each host through _execute_meta, which reads neither its condition nor any variable.
    """
    if isinstance(task, Handler) or not getattr(task, "implicit", False):
        return False
    return task.action in C._ACTION_META and task._get_meta() == "role_complete"


def _without_template(value: Any) -> bool:
    """Whether a value (an extra var) holds no template anywhere, so it is the same when templated for any host."""
    if isinstance(value, str):
        return TemplateEngine is not None and not TemplateEngine().is_template(value)
    if isinstance(value, dict):
        return all(_without_template(key) and _without_template(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return all(_without_template(item) for item in value)
    return True


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
        # (task uuid, run_once) -> the task copy results carry
        self._result_tasks: Dict[Tuple[str, bool], Any] = {}
        # task uuid -> every host's result and the task's run_once, for a task answered for all its hosts at once
        self._whole_results: Dict[str, Tuple[List[Tuple[Any, Dict[str, Any]]], bool]] = {}
        # the implicit end of a role and its hosts, run for all of them at its first host (_execute_meta)
        self._role_ends: Optional[Tuple[str, List[Any]]] = None

    def _get_next_task_lockstep(self, hosts: Any, iterator: Any) -> Any:
        """Linear's next (host, task) pairs; only the first pair for a task answered for all its hosts at once."""
        host_tasks = super()._get_next_task_lockstep(hosts, iterator)
        self._whole_results.clear()  # a task linear did not queue (--step: declined) leaves nothing behind
        self._role_ends = None
        if len(host_tasks) > 1:
            if _ends_a_role(host_tasks[0][1]):
                # Linear would gather each host's variables for it (about 3 ms a host) and use none of them.
                self._role_ends = (host_tasks[0][1]._uuid, [host for host, _task in host_tasks])
                return host_tasks[:1]
            results = self._whole_task(host_tasks, iterator)
            if results is not None:
                self._whole_results[host_tasks[0][1]._uuid] = results
                return host_tasks[:1]
        return host_tasks

    def _execute_meta(self, task: Any, play_context: Any, iterator: Any, target_host: Any) -> Any:
        """Linear's meta task; the implicit end of a role for all its hosts at once (it reads no variable)."""
        role_ends, self._role_ends = self._role_ends, None
        if role_ends is None or role_ends[0] != task._uuid:
            return super()._execute_meta(task, play_context, iterator, target_host)
        results = []
        for host in role_ends[1]:
            results.extend(super()._execute_meta(task, play_context, iterator, host))
        return results

    def _queue_task(self, host: Any, task: Any, task_vars: Dict[str, Any], play_context: Any) -> None:
        """Answer a host_status task here; queue every other task to a worker as linear does."""
        whole = self._whole_results.pop(task._uuid, None)
        if whole is not None:
            results, once = whole
            for each_host, result in results:
                self._answer(each_host, task, task_vars, play_context, result, once)
            return
        answer = self._controller_result(host, task, task_vars)
        if answer is None:
            super()._queue_task(host, task, task_vars, play_context)
            return
        self._answer(host, task, task_vars, play_context, *answer)

    def _answer(
        self,
        host: Any,
        task: Any,
        task_vars: Dict[str, Any],
        play_context: Any,
        result: Dict[str, Any],
        once: bool,
    ) -> None:
        """Hand the result to Ansible's result processing as a worker's result, with the same callbacks."""
        # The entry a worker's task leaves for the result processing (which pops it).
        self._queued_task_cache[(host.name, task._uuid)] = {
            "host": host,
            "task": task,
            "task_vars": task_vars,
            "play_context": play_context,
        }
        self._blocked_hosts[host.name] = True
        self._tqm.send_callback("v2_runner_on_start", host, task)
        raw = _RawTaskResult(host=host, task=self._result_task(task, once), return_data=result, task_fields={})
        with self._results_lock:
            self._results.append(raw)
        self._pending_results += 1

    def _whole_task(
        self, host_tasks: List[Tuple[Any, Any]], iterator: Any
    ) -> Optional[Tuple[List[Tuple[Any, Dict[str, Any]]], bool]]:
        """Every host's result and the task's run_once, for a task the same for all hosts but the name; else None.

        Linear gathers each host's variables and templates the task's condition and run_once for each host: about
        2 ms a host, most of a 10,000-host status task. A host_status task needs none of that per host when nothing
        it reads can differ between hosts: its arguments hold no template, no_log is a plain value, run_once a plain
        value or one variable (``"{{ name }}"``), its condition (with its blocks' and role's) is a list of bare
        variable names, and those names and statuses_var are each the same object for every host (a fact set once
        with run_once, or an extra var with no template). Then the first host's variables answer for all, and only
        the host name (the statuses key) differs.
        """
        hosts = [host for host, _task in host_tasks]
        task = host_tasks[0][1]
        if not self._answers(task) or task.debugger or C.ENABLE_TASK_DEBUGGER:
            return None
        if not isinstance(task.no_log, (bool, type(None))) or not isinstance(task.args, dict):
            return None
        if any(not isinstance(value, str) or TemplateEngine().is_template(value) for value in task.args.values()):
            return None
        names = list(task.when or [])
        if not all(isinstance(name, str) and name.isidentifier() for name in names):
            return None
        if task.args.get("statuses_var") is not None:
            names.append(task.args["statuses_var"])
        # run_once: a plain value, or one variable ("{{ name }}"); linear reads it for the first host only then
        once, once_name = task.run_once, None
        if isinstance(once, str):
            match = _BARE_VARIABLE.fullmatch(once)
            if match is None:
                return None
            once_name = match.group(1)
            names.append(once_name)
        elif once:
            return None
        if not all(self._same_for_every_host(name, task, hosts) for name in names):
            return None
        first = hosts[0]
        if once_name is not None and self._value_for_every_host(once_name, first):
            return None  # run once: linear queues the first host only
        task_vars = self._variable_manager.get_vars(
            play=iterator._play, host=first, task=task, _hosts=self._hosts_cache, _hosts_all=self._hosts_cache_all
        )
        self.add_tqm_variables(task_vars, play=iterator._play)
        evaluation = self._evaluate(first, task, task_vars)
        if evaluation is None:
            return None
        results = []
        for host in hosts:
            result = self._host_result(host, evaluation)
            if result is None:
                return None
            results.append((host, result))
        return results, evaluation["run_once"]

    def _same_for_every_host(self, name: str, task: Any, hosts: List[Any]) -> bool:
        """Whether the variable is one value for all hosts: an extra var, or the same object set as a fact on each.

        A fact (set_fact, register) outranks every variable that can differ by host (inventory, host facts,
        include_vars). Only role and include parameters and extra vars outrank it: a role or include parameter of
        that name, or an extra var that holds a template (templated for each host), is not one value.
        """
        manager = self._variable_manager
        extra_vars = getattr(manager, "_extra_vars", None) or {}
        if name in extra_vars:
            return _without_template(extra_vars[name])
        # pylint: disable-next=broad-exception-caught
        try:  # the parameters linear's get_vars adds above the facts
            params = dict(task.get_include_params())
            if task._role is not None:
                params.update(task._role.get_role_params(task.get_dep_chain()))
        except Exception:  # noqa: BLE001 - what cannot be read is not known to be one value
            return False
        if name in params:
            return False
        facts = getattr(manager, "_nonpersistent_fact_cache", None)
        if not isinstance(facts, dict):
            return False
        missing = object()
        first = facts.get(hosts[0].name, {}).get(name, missing)
        if first is missing:
            return False
        return all(facts.get(host.name, {}).get(name, missing) is first for host in hosts)

    def _value_for_every_host(self, name: str, host: Any) -> Any:
        """The value of a variable _same_for_every_host found the same for every host: the extra var or the fact."""
        extra_vars = getattr(self._variable_manager, "_extra_vars", None) or {}
        if name in extra_vars:
            return extra_vars[name]
        return self._variable_manager._nonpersistent_fact_cache[host.name][name]

    def _result_task(self, task: Any, once: bool) -> Any:
        """The task a result carries: a copy without delegation and with run_once evaluated, as a worker's copy.

        Nothing was delegated (nothing ran anywhere), and a worker's copy carries the templated delegate_to, not
        the template the callbacks would otherwise print. The result processing reads run_once from this copy (a
        run-once result is registered for every host and fails every host), so it must be the evaluated value, not
        its template. One copy per task and run_once value serves all its hosts.
        """
        key = (task._uuid, once)
        if key not in self._result_tasks:
            copy = task.copy(exclude_parent=True, exclude_tasks=True)
            copy._parent = task._parent
            copy.delegate_to = None
            copy.run_once = once
            self._result_tasks[key] = copy
        return self._result_tasks[key]

    def _controller_result(
        self, host: Any, task: Any, task_vars: Dict[str, Any]
    ) -> Optional[Tuple[Dict[str, Any], bool]]:
        """The task's result for the host and its run_once, or None when a worker must run it."""
        if not self._answers(task):
            return None
        evaluation = self._evaluate(host, task, task_vars)
        result = None if evaluation is None else self._host_result(host, evaluation)
        return None if result is None else (result, evaluation["run_once"])

    def _evaluate(self, host: Any, task: Any, task_vars: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """The task's condition, arguments and no_log with the host's variables; None when a worker must run it."""
        # pylint: disable-next=broad-exception-caught
        try:  # anything unexpected goes to a worker, where Ansible reports it in its own words
            templar = TemplateEngine(loader=self._loader, variables=task_vars)
            # The result processing reads run_once from the result's task (a worker's copy holds it templated).
            once = bool(templar.template(task.run_once) if isinstance(task.run_once, str) else task.run_once)
            context: Dict[str, Any] = {}  # what a worker adds to a skip (false_condition)
            if task.when and not task._resolve_conditional(task.when, task_vars, result_context=context):
                skip = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False", **context}
                return {"skip": skip, "run_once": once}
            args = templar.template(task.args)
            no_log = templar.template(task.no_log)
            if set(args) - set(ARGUMENT_SPEC) or not isinstance(no_log, (bool, type(None))):
                return None
            name = args.get("statuses_var")
            statuses = task_vars[name] if name is not None else None
        except Exception as exc:  # noqa: BLE001 - see above
            display.debug(f"host_status for {host.name} goes to a worker: {type(exc).__name__}")
            return None
        return {"args": args, "statuses": statuses, "no_log": bool(no_log), "run_once": once}

    @staticmethod
    def _host_result(host: Any, evaluation: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """One host's result from the task's evaluation; None (a worker's to run and report) for a bad status."""
        if "skip" in evaluation:
            return dict(evaluation["skip"])
        args = evaluation["args"]
        try:
            result = host_status_result(
                host.name, args.get("status"), evaluation["statuses"], args.get("msg") or "failed"
            )
        except ValueError as exc:
            display.debug(f"host_status for {host.name} goes to a worker: {exc}")
            return None
        result.setdefault("failed", False)  # as a worker's TaskExecutor sets it
        result["_ansible_no_log"] = evaluation["no_log"]
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
