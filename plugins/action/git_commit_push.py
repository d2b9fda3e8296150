# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of netops.nautobot_backup.git_commit_push: prepare the checkout, or commit and push a run's files.

Thin edge over module_utils/git_repo.py (with git_remote.py and git_runner.py), on the controller
(no module process): validate the arguments, set up the credentials' environment for the network
git commands, make one call (``prepare`` or ``publish``) under a private umask, and turn
GitRepoError into a failed result.
The run lock's owner is the ansible-playbook process (this worker's parent), so prepare and
publish, run by different forked workers, are one run. Every string that leaves this plugin is
scrubbed of the token.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

from ansible_collections.netops.nautobot_backup.plugins.module_utils.clock import as_stamp
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import file_modes, private_umask
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_remote import (
    DEFAULT_USERNAME,
    GitAuth,
    redact_url,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_repo import BackupRepository
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_runner import GitRunner
from ansible_collections.netops.nautobot_backup.plugins.module_utils.jobs import run_context
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import GitCommitStatus, GitStatus
from ansible_collections.netops.nautobot_backup.plugins.module_utils.report import backed_up_files, file_owners
from ansible_collections.netops.nautobot_backup.plugins.module_utils.run_lock import RunLock
from ansible_collections.netops.nautobot_backup.plugins.module_utils.scrub import Scrubber
from ansible_collections.netops.nautobot_backup.plugins.module_utils.status_page import (
    PageResult,
    devices_of,
    update,
    write_page,
)
from ansible_collections.netops.nautobot_backup.plugins.modules.git_commit_push import ARGUMENT_SPEC
from ansible_collections.netops.nautobot_backup.plugins.plugin_utils.action import EngineAction, merge_specs


class ActionModule(EngineAction):
    """Clone/sync the backup checkout (mode=prepare) or commit and push the run's files (mode=publish)."""

    ARGUMENT_SPEC = merge_specs(ARGUMENT_SPEC)  # its ("env", [NAME]) fallbacks become env_fallback
    LIBRARIES = ("pydantic", "gitpython")

    def run_engine(self, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """Run the requested step, and report GitStatus / GitCommitStatus."""
        scrub = Scrubber([args.get("token")])
        result: Dict[str, Any] = {"changed": False}
        publish = args["mode"] == "publish"
        check_mode = self.check_mode
        lock: Optional[RunLock] = None
        repo: Optional[BackupRepository] = None
        try:
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
                    return self._publish(result, repo, args, scrub, task_vars)
                git_status, changed = repo.prepare(check_mode=check_mode)
        except NautobotBackupError as exc:
            return self._failed(exc, args, repo, lock)
        finally:
            if publish and lock is not None:
                lock.release()  # the end of the run, whatever happened (a no-op when publish released it)
        result["changed"] = changed
        result["git_status"] = git_status.to_dict()
        self._lock_result(result, repo, lock)
        verb = "would be" if check_mode else "was"
        result["msg"] = f"{git_status.repository_path} {verb} {git_status.operation} on branch {git_status.branch}"
        return result

    def failure(self, exc: BaseException, args: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
        """A missing library: the same failed result as any other error, before the checkout was touched."""
        return self._failed(exc, args, None, None)

    def _failed(
        self, exc: BaseException, args: Dict[str, Any], repo: Optional[BackupRepository], lock: Optional[RunLock]
    ) -> Dict[str, Any]:
        """Failed, with the scrubbed message, the checkout's status as given, and the lock's recoveries."""
        message = Scrubber([args.get("token")])(str(exc))
        git_status = GitStatus(
            repository_path=args["repo_dir"], repository_url=redact_url(args["repo_url"] or ""), branch=args["branch"]
        )
        result: Dict[str, Any] = {"changed": False, "failed": True, "msg": message, "git_status": git_status.to_dict()}
        if args["mode"] == "publish":
            result["git_commit_status"] = GitCommitStatus(error=message).to_dict()
        self._lock_result(result, repo, lock)
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
        self,
        result: Dict[str, Any],
        repo: BackupRepository,
        args: Dict[str, Any],
        scrub: Scrubber,
        task_vars: Dict[str, Any],
    ) -> Dict[str, Any]:
        """Stage, commit and push; a push that fails for good fails the task with the status kept."""
        check_mode = self.check_mode
        stamp = as_stamp(args.get("timestamp"))
        message_vars: Dict[str, Any] = dict(stamp)
        files = list(args["files"])
        owners: Optional[Dict[str, str]] = None
        if args.get("device_results") is not None:
            try:
                result_files, counts = backed_up_files(args["device_results"])
            except TypeError as exc:
                raise NautobotBackupError(f"device_results: {exc}") from exc
            files.extend(result_files)
            message_vars.update(counts)
            owners = file_owners(args["device_results"])
        page: Optional[PageResult] = None
        file_mode = file_modes(args["file_mode"])[0]
        if args["status_page"] and args.get("device_results") is not None and not check_mode:
            devices = devices_of(args["device_results"])
            page = update(Path(args["repo_dir"]), devices, stamp["date"], file_mode, scrub)
            files.extend(page.files)
        message_vars.update(args["message_vars"] or {})
        context = run_context(task_vars)
        trailers: Dict[str, Any] = {
            "Run-Id": args.get("run_id") or str(uuid.uuid4()),
            "Triggered-By": context["triggered_by"],
            "Executed-By": context["executed_by"],
            # AWX sets awx_job_id (older versions tower_job_id) on every job it launches.
            "AWX-Job-Id": task_vars.get("awx_job_id") or task_vars.get("tower_job_id"),
            "Devices-Backed-Up": message_vars.get("devices_backed_up"),
            "Devices-Failed": message_vars.get("devices_failed"),
        }
        trailers.update(args["trailers"] or {})

        def refresh(checkout: Path) -> List[str]:
            """After a replay onto a moved remote: the page again, from every record in the replayed tree."""
            again = write_page(checkout, file_mode)
            if page is not None:
                for warning in again.warnings:
                    if warning not in page.warnings:
                        page.warn(warning)
            return again.files

        outcome = repo.publish(
            files=files,
            removed_files=args["removed_files"],
            message=args["message"],
            message_vars=message_vars,
            push_retries=args["push_retries"],
            check_mode=check_mode,
            trailers=trailers,
            file_owners=owners,
            refresh=refresh if page is not None else None,
        )
        status = outcome.status
        if status.error:
            status.error = scrub(status.error)
        result["changed"] = outcome.changed or bool(repo.recovered)
        result["git_status"] = repo.status(True, "opened").to_dict()
        result["git_commit_status"] = status.to_dict()
        result["changed_files"] = outcome.changed_files
        if page is not None:
            records = [path for path in page.changed if path != page.page]
            result["status_page"] = {"records_changed": len(records), "page": page.page}
            if page.warnings:
                result.setdefault("warnings", []).extend(scrub(warning) for warning in page.warnings)
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
