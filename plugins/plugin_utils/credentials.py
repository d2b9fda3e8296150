# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""The command-line credentials of a play, read on the controller by the device actions.

Ansible folds the task host's own connection variables (``ansible_password`` ...) into the
action's play context, so in a batch action (one task for every host) the first host's
password hides the one given with ``--ask-pass`` (an AWX Machine credential). The play context
the strategy built from the command line is still on the worker process that runs the task
(``ansible.executor.process.worker.current_worker``, ansible-core 2.19); it is read here, in
one place, and cli_credentials falls back to the task's own play context when it is not there.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from ansible.playbook.play_context import PlayContext

from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.device_requests import CONNECTION_VARS

try:
    from ansible.executor.process import worker as _worker
except ImportError:  # pragma: no cover - a future ansible-core may move it; the fallback then applies
    _worker = None


def play_level_context() -> Any:
    """The play's PlayContext before any host's variables were folded in, or None when it cannot be found."""
    current = getattr(_worker, "current_worker", None)
    context = getattr(current, "_play_context", None)
    return context if isinstance(context, PlayContext) else None


# The credentials that can also come from the command line (-u, --ask-pass, --ask-become-pass):
# that is how AWX hands a Machine credential to a job.
CLI_CREDENTIALS = ("username", "password", "secret", "key_file")


def cli_credentials(
    play_context: Any,
    task_vars: Mapping[str, Any],
    play_level: Any = None,
    remote_user: Optional[str] = None,
) -> Dict[str, Any]:
    """The command-line credentials (-u, --ask-pass, --ask-become-pass, --private-key) for connection_settings().

    connection_settings() gives them to each host that has no variable of its own for that
    setting, so they are resolved once for the play and decided per host.

    ``play_level`` is the play's PlayContext as the strategy built it from the command line,
    before Ansible folded the task host's own connection variables into it (an action plugin finds
    it on its worker process: play_level_context()). Its ``password``, ``become_pass`` and
    ``private_key_file`` are the command-line values, and ``remote_user`` (the play's
    ``remote_user`` keyword, else -u) is the user, whatever the first host of a batch sets itself.

    Without it, ``play_context`` (the task's, with the task host's variables folded in) is all
    there is: a setting that the task's own host sets in its inventory variables
    (``hostvars[inventory_hostname]``) is then left out, so one host's password is never handed
    to another host of a batch, at the cost of that command-line value.
    """
    attributes = {"username": "remote_user", "password": "password", "secret": "become_pass",
                  "key_file": "private_key_file"}
    found: Dict[str, Any] = {}
    if play_level is not None:
        for key in CLI_CREDENTIALS:
            value = getattr(play_level, attributes[key], None)
            if key == "username" and remote_user not in (None, ""):
                value = remote_user
            if value not in (None, ""):
                found[key] = value
        return found
    own_vars = (task_vars.get("hostvars") or {}).get(task_vars.get("inventory_hostname")) or {}
    for key in CLI_CREDENTIALS:
        if any(own_vars.get(var) not in (None, "") for var in CONNECTION_VARS[key]):
            continue
        value = getattr(play_context, attributes[key], None)
        if value not in (None, ""):
            found[key] = value
    return found


def command_line_credentials(task: Any, play_context: Any, task_vars: Mapping[str, Any]) -> Dict[str, Any]:
    """-u / --ask-pass / --ask-become-pass / --private-key for every host of the task without its own variable."""
    return cli_credentials(play_context, task_vars, play_level_context(), getattr(task, "remote_user", None))
