# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of netops.nautobot_backup.git_commit_push: prepare the checkout, or commit and push a run's files.

Thin edge over module_utils/git_repo.py, on the controller (no module process): validate the
arguments, set up the credentials' environment for the network git commands, make one call
(``prepare`` or ``publish``) under a private umask, and turn GitRepoError into a failed result.
The run lock's owner is the ansible-playbook process (this worker's parent), so prepare and
publish, run by different forked workers, are one run. Every string that leaves this plugin is
scrubbed of the token.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

from ansible.module_utils.common.parameters import env_fallback
from ansible.plugins.action import ActionBase

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import MissingLibraryError, require
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import file_modes, private_umask
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_repo import (
    DEFAULT_AUTHOR_EMAIL,
    DEFAULT_AUTHOR_NAME,
    DEFAULT_BRANCH,
    DEFAULT_MESSAGE,
    DEFAULT_PUSH_RETRIES,
    DEFAULT_TIMEOUT,
    DEFAULT_USERNAME,
    BackupRepository,
    GitAuth,
    GitRunner,
    redact_url,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import GitCommitStatus, GitStatus
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import as_stamp
from ansible_collections.netops.nautobot_backup.plugins.module_utils.report import backed_up_files
from ansible_collections.netops.nautobot_backup.plugins.module_utils.run_lock import DEFAULT_LOCK_TIMEOUT, RunLock
from ansible_collections.netops.nautobot_backup.plugins.module_utils.scrub import Scrubber

# Documented in plugins/modules/git_commit_push.py (a unit test keeps the two in step). 'message' is a
# reserved name for AnsibleModule, so the spec lives here, where the action plugin validates it.
ARGUMENT_SPEC: Dict[str, Any] = {
    "repo_dir": {"type": "path", "required": True},
    "repo_url": {"type": "str", "required": True},
    "branch": {"type": "str", "default": DEFAULT_BRANCH},
    "mode": {"type": "str", "choices": ["prepare", "publish"], "default": "publish"},
    "username": {"type": "str", "fallback": (env_fallback, ["NB_BACKUP_GIT_USERNAME"])},
    "token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["NB_BACKUP_GIT_TOKEN"])},
    "ssh_key_file": {"type": "path", "no_log": False, "fallback": (env_fallback, ["NB_BACKUP_GIT_SSH_KEY_FILE"])},
    "files": {"type": "list", "elements": "str", "default": []},
    "device_results": {"type": "raw"},
    "removed_files": {"type": "list", "elements": "str", "default": []},
    "message": {"type": "str", "default": DEFAULT_MESSAGE},
    "message_vars": {"type": "dict", "default": {}},
    "author_name": {"type": "str", "default": DEFAULT_AUTHOR_NAME},
    "author_email": {"type": "str", "default": DEFAULT_AUTHOR_EMAIL},
    "push_retries": {"type": "int", "default": DEFAULT_PUSH_RETRIES},
    "timestamp": {"type": "raw"},
    "timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
    "lock_timeout": {"type": "float", "default": DEFAULT_LOCK_TIMEOUT},
    "file_mode": {"type": "raw", "default": "0600"},
}


class ActionModule(ActionBase):
    """Clone/sync the backup checkout (mode=prepare) or commit and push the run's files (mode=publish)."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Optional[str] = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Validate the arguments, run the requested step, and report GitStatus / GitCommitStatus."""
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        scrub = Scrubber([args.get("token")])
        result["changed"] = False
        publish = args["mode"] == "publish"
        git_status = GitStatus(
            repository_path=args["repo_dir"], repository_url=redact_url(args["repo_url"] or ""), branch=args["branch"]
        )
        check_mode = bool(self._task.check_mode)
        lock: Optional[RunLock] = None
        repo: Optional[BackupRepository] = None
        try:
            for library in ("pydantic", "gitpython"):
                require(library)
            _file_mode, dir_mode = file_modes(args["file_mode"])
            auth = GitAuth(
                username=args.get("username") or DEFAULT_USERNAME,
                token=args.get("token"),
                ssh_key_file=args.get("ssh_key_file"),
            )
            with private_umask(dir_mode), auth.environment() as env:
                runner = GitRunner(network_env=env, timeout=args["timeout"], secrets=[args.get("token")])
                if not check_mode:
                    lock = RunLock(args["repo_dir"], os.getppid(), timeout=args["lock_timeout"], dir_mode=dir_mode)
                repo = BackupRepository(
                    runner,
                    args["repo_dir"],
                    args["repo_url"],
                    args["branch"],
                    author_name=args["author_name"],
                    author_email=args["author_email"],
                    run_lock=lock,
                    dir_mode=dir_mode,
                )
                if publish:
                    return self._publish(result, repo, args, scrub)
                git_status, changed = repo.prepare(check_mode=check_mode)
        except (MissingLibraryError, NautobotBackupError) as exc:
            message = scrub(str(exc))
            result.update(failed=True, msg=message, git_status=git_status.to_dict())
            if publish:
                result["git_commit_status"] = GitCommitStatus(error=message).to_dict()
            self._lock_result(result, repo, lock)
            return result
        finally:
            if publish and lock is not None:
                lock.release()  # the end of the run, whatever happened (a no-op when publish released it)
        result["changed"] = changed
        result["git_status"] = git_status.to_dict()
        self._lock_result(result, repo, lock)
        verb = "would be" if check_mode else "was"
        result["msg"] = f"{git_status.repository_path} {verb} {git_status.operation} on branch {git_status.branch}"
        return result

    @staticmethod
    def _lock_result(result: Dict[str, Any], repo: Optional[BackupRepository], lock: Optional[RunLock]) -> None:
        """Add what was recovered from killed runs and whom this run waited for; warn when it waited."""
        result["recovered"] = list(repo.recovered) if repo is not None else []
        if lock is None:
            return
        waited_for = repo.lock_waited_for if repo is not None else None
        result["run_lock"] = {
            "path": str(lock.path),
            "waited": round(repo.lock_waited, 1) if repo is not None else 0.0,
            "waited_for": waited_for,
        }
        if waited_for:
            result.setdefault("warnings", []).append(
                f"waited {result['run_lock']['waited']:g} s for another run on the checkout ({waited_for}) to finish"
            )

    def _publish(
        self, result: Dict[str, Any], repo: BackupRepository, args: Dict[str, Any], scrub: Scrubber
    ) -> Dict[str, Any]:
        """Stage, commit and push; a push that fails for good fails the task with the status kept."""
        check_mode = bool(self._task.check_mode)
        stamp = as_stamp(args.get("timestamp"))
        message_vars: Dict[str, Any] = dict(stamp)
        files = list(args["files"])
        if args.get("device_results") is not None:
            try:
                result_files, counts = backed_up_files(args["device_results"])
            except TypeError as exc:
                raise NautobotBackupError(f"device_results: {exc}") from exc
            files.extend(result_files)
            message_vars.update(counts)
        message_vars.update(args["message_vars"] or {})
        outcome = repo.publish(
            files=files,
            removed_files=args["removed_files"],
            message=args["message"],
            message_vars=message_vars,
            push_retries=args["push_retries"],
            check_mode=check_mode,
        )
        status = outcome.status
        if status.error:
            status.error = scrub(status.error)
        result["changed"] = outcome.changed or bool(repo.recovered)
        result["git_status"] = repo.status(True, "opened").to_dict()
        result["git_commit_status"] = status.to_dict()
        result["changed_files"] = outcome.changed_files
        if status.error:
            result["failed"] = True
            result["msg"] = status.error
        elif check_mode:
            result["msg"] = f"{status.files_changed} file(s) would be committed" + (
                "; commits would be pushed" if outcome.would_push else ""
            )
        elif status.committed:
            result["msg"] = f"committed {status.files_changed} file(s) as {status.commit_hash} and pushed"
        elif status.pushed:
            result["msg"] = f"no change to commit; pushed earlier unpushed commits up to {status.commit_hash}"
        else:
            result["msg"] = "no change to commit, nothing to push"
        self._lock_result(result, repo, repo.run_lock)
        return result
