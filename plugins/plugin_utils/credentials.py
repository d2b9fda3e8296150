# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""The command-line credentials of a play, read on the controller by the device actions.

Ansible folds the task host's own connection variables (``ansible_password`` ...) into the
action's play context, so in a batch action (one task for every host) the first host's
password hides the one given with ``--ask-pass`` (an AWX Machine credential). The play context
the strategy built from the command line is still on the worker process that runs the task
(``ansible.executor.process.worker.current_worker``, ansible-core 2.19); it is read here, in
one place, and module_utils.retrieval.cli_credentials falls back to the task's own play context
when it is not there.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from ansible.playbook.play_context import PlayContext

from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import cli_credentials

try:
    from ansible.executor.process import worker as _worker
except ImportError:  # pragma: no cover - a future ansible-core may move it; the fallback then applies
    _worker = None


def play_level_context() -> Any:
    """The play's PlayContext before any host's variables were folded in, or None when it cannot be found."""
    current = getattr(_worker, "current_worker", None)
    context = getattr(current, "_play_context", None)
    return context if isinstance(context, PlayContext) else None


def command_line_credentials(task: Any, play_context: Any, task_vars: Mapping[str, Any]) -> Dict[str, Any]:
    """-u / --ask-pass / --ask-become-pass / --private-key for every host of the task without its own variable."""
    return cli_credentials(play_context, task_vars, play_level_context(), getattr(task, "remote_user", None))
