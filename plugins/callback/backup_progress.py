# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback plugin: one progress line per device as its backup finishes, and a periodic line with rate and ETA."""

from __future__ import annotations

DOCUMENTATION = r"""
name: backup_progress
type: aggregate
short_description: Print "[i/N] device ... ok|failed (class)" as each device backup finishes
version_added: 0.1.0
description:
  - For every C(netops.nautobot_backup.device_config_backup) result, prints a line with the count of finished
    devices out of the play's hosts, the device name, and "ok (changed)", "ok (unchanged)" or
    "failed (<error class>)" with the error.
  - 'About every O(interval) seconds it also prints a line with the devices done out of the total, the rate, the
    estimated time left and the running ok/changed/failed counts, for example
    "progress: 120/500 devices in 40s, 3.0 devices/s, ETA 2m07s; 115 ok (5 changed), 5 failed".'
  - Works beside any stdout callback. Enable it in C(ansible.cfg) (C(callbacks_enabled)) or with
    E(ANSIBLE_CALLBACKS_ENABLED); the collection's C(ansible.cfg) does.
  - In batch mode (C(netops.nautobot_backup.device_config_backup_batch), the default of C(playbooks/backup.yml))
    the same lines are printed by the batch task itself as each device finishes, with or without this callback;
    this callback then prints nothing for the batch task (the batch task prints the periodic line itself, see its
    C(progress_interval) option).
requirements:
  - enable in configuration
options:
  interval:
    description:
      - Seconds between two periodic progress lines. The line is printed with the next device result once the
        interval has passed since the previous line. V(0) turns it off.
    type: float
    default: 10
    env:
      - name: NAUTOBOT_BACKUP_PROGRESS_INTERVAL
    ini:
      - section: callback_backup_progress
        key: interval
"""

from typing import Any

from ansible.plugins.callback import CallbackBase

from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.results import ProgressTicker, progress_line

_ACTIONS = {"netops.nautobot_backup.device_config_backup", "device_config_backup"}


class CallbackModule(CallbackBase):
    """Count finished device backups and print one line each."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "netops.nautobot_backup.backup_progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._total = 0
        self._done = 0
        self._ticker = ProgressTicker(0, 0)

    def v2_playbook_on_play_start(self, play: Any) -> None:
        """Remember how many hosts the play targets."""
        self._done = 0
        try:
            inventory = play.get_variable_manager()._inventory  # pylint: disable=protected-access
            self._total = len(inventory.get_hosts(play.hosts))
        except (AttributeError, TypeError):
            self._total = 0

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        """The backup task starts: the periodic line's clock and counts start here."""
        if getattr(task, "action", None) in _ACTIONS:
            self._ticker = ProgressTicker(self._total, float(self.get_option("interval") or 0))

    def v2_runner_on_ok(self, result: Any) -> None:
        """A device finished: ok, changed or not."""
        if self._is_backup(result):
            self._line(result, result._result)  # pylint: disable=protected-access

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        """A device finished with a failure, even when the play ignores it."""
        if self._is_backup(result):
            self._line(result, {"failed": True, **result._result})  # pylint: disable=protected-access

    def v2_runner_on_unreachable(self, result: Any) -> None:
        """Unreachable (only for a connection-based task; the action plugin classifies itself)."""
        if self._is_backup(result):
            self._line(result, {"failed": True, "error_class": "unreachable", "msg": "unreachable"})

    @staticmethod
    def _is_backup(result: Any) -> bool:
        """Tell whether a result comes from device_config_backup."""
        return getattr(result._task, "action", None) in _ACTIONS  # pylint: disable=protected-access

    def _line(self, result: Any, data: Any) -> None:
        """Print one progress line (plugin_utils.results imports no netmiko, so every playbook may load it)."""
        self._done += 1
        name = result._host.get_name()  # pylint: disable=protected-access
        self._display.display(progress_line(self._done, self._total, name, data))
        periodic = self._ticker.record(data)
        if periodic:
            self._display.display(periodic)
