# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Back up one device: paths, fetch, clean, validate, sanitize, write. One call, one result.

The order is what makes it safe: every path is rendered and confined, and the running (and startup) config is
fetched, cleaned, validated, sanitized and checked against the shrink guard before anything is written. So a
bad template, an unreachable device, an invalid output or a half configuration never replaces the previous
good file.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ansible_collections.netops.nautobot_backup.plugins.module_utils.backup_commands import (
    PlatformCommands,
    platform_commands,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.cleaning import clean_output, unsaved_changes
from ansible_collections.netops.nautobot_backup.plugins.module_utils.command_lines import check_command_line
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import NautobotBackupError
from ansible_collections.netops.nautobot_backup.plugins.module_utils.files import (
    DEFAULT_DIR_MODE,
    DEFAULT_FILE_MODE,
    make_dirs,
    read_text,
    write_if_changed,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.models import DeviceBackupInfo
from ansible_collections.netops.nautobot_backup.plugins.module_utils.paths import confine, device_paths
from ansible_collections.netops.nautobot_backup.plugins.module_utils.process_pool import (
    run_sharded,
    stop_on_signals,
    stop_requested,
    stop_signals_blocked,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.retrieval import (
    ConnectionSettings,
    FetchedConfigs,
    fetch_configs,
    unexpected_error_message,
)
from ansible_collections.netops.nautobot_backup.plugins.module_utils.sanitize import sanitize_config
from ansible_collections.netops.nautobot_backup.plugins.module_utils.validation import (
    InvalidOutputError,
    validate_config,
)


class WriteError(NautobotBackupError):
    """A backup file could not be written."""


class SuspiciousShrinkError(NautobotBackupError):
    """The running config has far fewer lines than the last good backup: it is not written (the shrink guard)."""

    failure_class = "suspicious_shrink"


# Default share of the last good backup's non-empty lines a new running config must keep (0 turns the guard off).
DEFAULT_SHRINK_THRESHOLD = 0.5


def shrink_threshold(value: Any) -> float:
    """The shrink guard's threshold as a float from 0 to 1; a NautobotBackupError for anything else."""
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        threshold = -1.0
    if isinstance(value, bool) or not 0 <= threshold <= 1:
        raise NautobotBackupError(f"shrink_threshold must be a number from 0 to 1, got {str(value)[:40]!r}")
    return threshold


def config_lines(text: Optional[str]) -> int:
    """The number of non-empty lines of a configuration (blank lines do not count)."""
    return sum(1 for line in (text or "").splitlines() if line.strip())


def shrink_refusal(previous: Optional[str], new: str, threshold: float, allow: bool = False) -> Optional[str]:
    """Why ``new`` must not replace ``previous`` (a config cut short), or None when it may.

    The guard trips when ``new`` has fewer than ``threshold`` times the non-empty lines of ``previous``.
    It never trips on a first backup (no previous file, or an empty one), with ``threshold`` 0, or when
    ``allow`` says the shrink is known and intended.
    """
    before = config_lines(previous)
    if allow or threshold <= 0 or before == 0:
        return None
    after = config_lines(new)
    if after >= threshold * before:
        return None
    return (
        f"the running config has {after} non-empty lines, fewer than {threshold:.0%} of the {before} "
        "of the last backup"
    )


def default_rejected_dir(repo_dir: Path) -> Path:
    """Where rejected configs go by default: ``.<checkout name>.rejected`` beside the checkout (outside the repo)."""
    repo = Path(os.path.abspath(repo_dir))
    return repo.parent / f".{repo.name}.rejected"


def keep_rejected(directory: Path, device: str, stamp: Mapping[str, str], content: str) -> Path:
    """Write a rejected config to ``<directory>/<device>.<timestamp>.running-config`` (0600 in a 0700 directory)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", device).lstrip(".") or "device"
    make_dirs(directory, DEFAULT_DIR_MODE)
    os.chmod(directory, DEFAULT_DIR_MODE)
    path = directory / f"{safe}.{stamp.get('timestamp', 'now')}.running-config"
    write_if_changed(path, content, mode=DEFAULT_FILE_MODE, dir_mode=DEFAULT_DIR_MODE)
    return path


@dataclass
class BackupRequest:
    """Everything needed to back up one device."""

    device_name: str
    settings: ConnectionSettings
    repo_dir: Path
    stamp: Mapping[str, str]
    facts: Mapping[str, Any] = field(default_factory=dict)
    device_id: Optional[str] = None
    platform: Optional[str] = None
    location: Optional[str] = None
    running_template: Optional[str] = None
    startup_template: Optional[str] = None
    backup_startup: bool = True
    sanitize: bool = False
    sanitize_patterns: Sequence[str] = ()
    command_overrides: Optional[Mapping[str, Any]] = None
    # In diff mode, show the configurations' content: only when asked, or when sanitize removed their secrets.
    show_diff: bool = False
    # Mode of the backup files (files.file_modes: 0600 by default, 0640 for group read); directories follow.
    file_mode: int = DEFAULT_FILE_MODE
    # The shrink guard: share of the last backup's non-empty lines to keep (0: off); allow_shrink lets one through.
    shrink_threshold: float = DEFAULT_SHRINK_THRESHOLD
    allow_shrink: bool = False
    # Where a refused running config is kept (None: default_rejected_dir(repo_dir)).
    rejected_dir: Optional[Path] = None


@dataclass
class BackupOutcome:
    """The device result plus, in diff mode, the diffs of the files."""

    info: DeviceBackupInfo
    diffs: List[Dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready builtins (how a forked backup process sends it over its pipe)."""
        return {"info": self.info.to_dict(), "diffs": self.diffs}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BackupOutcome:
        """The outcome that to_dict() described."""
        return cls(info=DeviceBackupInfo(**data["info"]), diffs=list(data["diffs"]))


Fetcher = Callable[[ConnectionSettings, str, Optional[str], bool], FetchedConfigs]
# Called (serialised) as each device of a batch finishes: (done, total, name, outcome).
ProgressHook = Callable[[int, int, str, BackupOutcome], None]


def failed_info(name: Optional[str], exc: BaseException) -> DeviceBackupInfo:
    """DeviceBackupInfo of a device that failed before its backup started (bad variables, missing library)."""
    return DeviceBackupInfo(device_name=name, error=str(exc), error_class=getattr(exc, "failure_class", "other"))


def backup_batch(
    requests: Mapping[str, Union[BackupRequest, DeviceBackupInfo]],
    workers: int = 50,
    check_mode: bool = False,
    want_diff: bool = False,
    progress: Optional[ProgressHook] = None,
    fetch: Optional[Fetcher] = None,
    processes: int = 1,
) -> Dict[str, BackupOutcome]:
    """Back up many devices in a thread pool; return each device's outcome, in request order.

    A value that is already a DeviceBackupInfo is a device that failed while its request was
    built; it is reported as is. Device failures never raise: they are data in the results.
    ``progress`` is called in the calling thread, once per device, as each one finishes.
    Only ``backup_device()`` runs in the pool threads; it keeps no process-global state.

    With ``processes`` > 1 the devices are dealt round-robin to that many forked child
    processes, each with its own pool of ``workers // processes`` threads (at least one; so
    at most ``workers`` sessions at once in all, unless there are more processes than
    workers); results come back over a pipe as JSON. That uses
    more than one CPU core, which one Python process cannot (the GIL). A child that dies
    takes only its unreported devices with it: they fail with class ``other``.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    results: Dict[str, BackupOutcome] = {}
    total = len(requests)

    def finished(name: str, outcome: BackupOutcome) -> None:
        results[name] = outcome
        if progress is not None:
            progress(len(results), total, name, outcome)

    def received(name: str, data: Mapping[str, Any]) -> None:
        finished(name, BackupOutcome.from_dict(data))

    todo: List[Tuple[str, BackupRequest]] = []
    for name, request in requests.items():
        if isinstance(request, DeviceBackupInfo):
            finished(name, BackupOutcome(info=request))
        else:
            todo.append((name, request))
    processes = min(processes, len(todo))
    if processes > 1 and hasattr(os, "fork"):
        shards = [todo[index::processes] for index in range(processes)]
        threads = max(1, workers // processes)
        run_sharded(shards, lambda shard: _run_shard(shard, threads, check_mode, want_diff, fetch), received, _lost)
    elif todo:
        # SIGTERM/SIGINT: no queued device starts, in-flight temporary files go (process_pool).
        with stop_on_signals():
            for name, outcome in _run_pool(todo, workers, check_mode, want_diff, fetch):
                finished(name, outcome)
    return {name: results[name] for name in requests}


def _run_pool(
    todo: Sequence[Tuple[str, BackupRequest]],
    workers: int,
    check_mode: bool,
    want_diff: bool,
    fetch: Optional[Fetcher],
) -> Iterator[Tuple[str, BackupOutcome]]:
    """Back up the devices in a thread pool of this process; yield (name, outcome) as each finishes."""
    with ThreadPoolExecutor(max_workers=min(workers, max(1, len(todo)))) as pool:
        with stop_signals_blocked():  # the pool starts its threads here: they never take a stop signal
            pending = {
                pool.submit(guarded_backup, request, check_mode, want_diff, fetch): name for name, request in todo
            }
        try:
            for future in as_completed(pending):
                yield pending[future], future.result()
        finally:
            # A stop (or a consumer that stops early) must not start the devices still queued.
            pool.shutdown(wait=False, cancel_futures=True)


def _run_shard(
    todo: Sequence[Tuple[str, BackupRequest]],
    workers: int,
    check_mode: bool,
    want_diff: bool,
    fetch: Optional[Fetcher],
) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """_run_pool() for one shard of a forked batch: each outcome as JSON-ready builtins."""
    for name, outcome in _run_pool(todo, workers, check_mode, want_diff, fetch):
        yield name, outcome.to_dict()


def _lost(name: str, request: BackupRequest, why: str) -> Dict[str, Any]:
    """The outcome (as builtins) of a device whose backup process ended before reporting it."""
    info = failed_info(name, NautobotBackupError(f"backup worker process {why} first"))
    info.device_ip = request.settings.host
    return BackupOutcome(info=info).to_dict()


def guarded_backup(
    request: BackupRequest, check_mode: bool = False, want_diff: bool = False, fetch: Optional[Fetcher] = None
) -> BackupOutcome:
    """backup_device() that never raises: an unexpected error (a bug) fails this device only, class ``other``.

    Its message gives the exception's type and where it was raised, never its text, which may
    quote the configuration being cleaned or sanitized.
    """
    if stop_requested():
        # The run is being cancelled: open no new session.
        return BackupOutcome(info=failed_info(request.device_name, NautobotBackupError("cancelled before it started")))
    try:
        return backup_device(request, check_mode=check_mode, want_diff=want_diff, fetch=fetch)
    except Exception as exc:  # noqa: BLE001 - one device's bug must not lose the other devices' results
        info = failed_info(request.device_name, NautobotBackupError(unexpected_error_message(exc)))
        info.device_ip = request.settings.host
        return BackupOutcome(info=info)


def backup_device(
    request: BackupRequest,
    check_mode: bool = False,
    want_diff: bool = False,
    fetch: Optional[Fetcher] = None,
) -> BackupOutcome:
    """Back up one device and describe the outcome; never raises for device-level failures."""
    info = DeviceBackupInfo(
        device_id=request.device_id,
        device_name=request.device_name,
        device_ip=request.settings.host,
        platform=request.platform or request.settings.device_type,
        location=request.location,
        nautobot_fetch_success=bool(request.facts),
    )
    outcome = BackupOutcome(info=info)
    try:
        # Run alone (per-host action, main thread): a SIGTERM/SIGINT removes the temp file in flight first.
        with stop_on_signals():
            _backup(request, outcome, check_mode, want_diff, fetch or fetch_configs)
    except NautobotBackupError as exc:
        info.error = request.settings.scrub(str(exc))
        info.error_class = exc.failure_class
        info.running_config_success = False
        info.changed = False
    return outcome


def _backup(request: BackupRequest, outcome: BackupOutcome, check_mode: bool, want_diff: bool, fetch: Fetcher) -> None:
    """The steps of a backup; raises NautobotBackupError on the first failure."""
    info = outcome.info
    commands = platform_commands(request.settings.device_type, request.command_overrides)
    # Overrides come from host variables: a line break in one would send a second command.
    check_command_line(commands.running, "the running-config command")
    if commands.startup:
        check_command_line(commands.startup, "the startup-config command")
    running_rel, startup_rel = device_paths(
        request.facts, request.device_name, request.stamp, request.running_template, request.startup_template
    )
    running_path = confine(request.repo_dir, running_rel, device=request.device_name)
    startup_path = confine(request.repo_dir, startup_rel, device=request.device_name)
    want_startup = request.backup_startup and commands.startup is not None

    fetched = fetch(request.settings, commands.running, commands.startup if want_startup else None, commands.enable)
    info.ssh_connection_success = True
    running = _checked(fetched.running, commands, commands.running, "running")
    startup: Optional[str] = None
    if not want_startup:
        info.startup_config_reason = commands.startup_missing_reason if request.backup_startup else "not requested"
    elif fetched.startup_error:
        info.startup_config_reason = fetched.startup_error
    else:
        try:
            startup = _checked(fetched.startup or "", commands, commands.startup or "", "startup")
        except InvalidOutputError as exc:
            info.startup_config_reason = str(exc)
    if startup is not None:
        info.unsaved_changes = unsaved_changes(running, startup, commands)
    if request.sanitize:
        device_type, patterns = request.settings.device_type, request.sanitize_patterns
        running = sanitize_config(running, device_type, patterns)
        startup = sanitize_config(startup, device_type, patterns) if startup is not None else None
    _guard_shrink(request, running_path, running, check_mode)

    changed = _write(running_path, running_rel, running, check_mode, want_diff, outcome, request)
    info.running_config_success = True
    info.running_config_bytes = len(running.encode("utf-8"))
    info.running_config_file = running_rel
    if startup is not None:
        changed = _write(startup_path, startup_rel, startup, check_mode, want_diff, outcome, request) or changed
        info.startup_config_success = True
        info.startup_config_bytes = len(startup.encode("utf-8"))
        info.startup_config_file = startup_rel
    if request.settings.host_keys is not None:  # a device seen for the first time gets its host key pinned
        info.host_key_file, pinned = request.settings.host_keys.save_pin(check_mode)
        changed = pinned or changed
    info.changed = changed


def _guard_shrink(request: BackupRequest, running_path: Path, running: str, check_mode: bool) -> None:
    """Raise SuspiciousShrinkError, keeping the (cleaned, sanitized) config outside the checkout, on a shrink.

    Only the running config is compared; when it is refused neither file of the device is written.
    """
    refusal = shrink_refusal(read_text(running_path), running, request.shrink_threshold, request.allow_shrink)
    if refusal is None:
        return
    hint = "set nautobot_backup_allow_shrink: true for this host if the shrink is intended"
    if check_mode:
        raise SuspiciousShrinkError(f"{refusal}; not written (check mode: the rejected config is not kept); {hint}")
    directory = request.rejected_dir or default_rejected_dir(request.repo_dir)
    try:
        kept = keep_rejected(directory, request.device_name, request.stamp, running)
    except OSError as exc:
        raise SuspiciousShrinkError(
            f"{refusal}; not written, and the rejected config could not be kept in {directory}: "
            f"{exc.strerror or exc}; {hint}"
        ) from exc
    raise SuspiciousShrinkError(f"{refusal}; not written, the rejected config is kept in {kept}; {hint}")


def _checked(raw: str, commands: PlatformCommands, command: str, kind: str) -> str:
    """Clean an output and validate it; raise InvalidOutputError when it is not a config."""
    text = clean_output(raw, commands, command=command)
    validate_config(text, commands, kind=kind, raw=raw)
    return text


def _write(
    path: Path,
    relative: str,
    content: str,
    check_mode: bool,
    want_diff: bool,
    outcome: BackupOutcome,
    request: BackupRequest,
) -> bool:
    """Write one file (unless check mode) and, in diff mode, record its diff; return whether it changed.

    A diff shows the configurations' content only when the request asks for it (``show_diff``) or
    sanitizes them (then the previous file is sanitized for the diff too, in case it was written
    before sanitize was on); otherwise it names the file and says that its content is not shown,
    since diff output goes to job logs (AWX "show changes") that carry no secrets.
    """
    content_diff = want_diff and (request.show_diff or request.sanitize)
    before = read_text(path) if content_diff else None
    try:
        changed = write_if_changed(path, content, check_mode=check_mode, mode=request.file_mode, root=request.repo_dir)
    except OSError as exc:
        raise WriteError(f"cannot write {relative}: {exc.strerror or exc}") from exc
    if changed and content_diff:
        if before and request.sanitize:
            before = sanitize_config(before, request.settings.device_type, request.sanitize_patterns)
        outcome.diffs.append(
            {"before": before or "", "after": content, "before_header": relative, "after_header": relative}
        )
    elif changed and want_diff:
        outcome.diffs.append({"prepared": f"{relative} changed (content not shown: set show_diff or sanitize)"})
    return changed
