# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Result models shared by every module, role and report.

One schema for every result: a device backup (``DeviceBackupInfo``), the Git steps
(``GitStatus``, ``GitCommitStatus``), the credential used (``CredentialInfo``, which
cannot hold a password), the Nautobot write-back (``TimestampUpdateStatus``), the
whole run (``BackupRunResult``) and its lean form for set_stats (``RunArtifact``). Models forbid
unknown fields, so a typo or a stray secret is an error instead of a silent extra key in a report.
"""

from __future__ import annotations

from typing import Annotated, Any, Dict, List, Literal, Optional, Union

from ansible_collections.netops.nautobot_backup.plugins.module_utils._deps import has_library
from ansible_collections.netops.nautobot_backup.plugins.module_utils.errors import FAILURE_CLASSES

if has_library("pydantic"):
    from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator
else:  # pragma: no cover - exercised only without pydantic; callers use _deps.require first
    BaseModel = object  # type: ignore[assignment,misc]

    def ConfigDict(**kwargs: Any) -> Dict[str, Any]:  # type: ignore[no-redef]  # noqa: N802
        """Stand-in so this file imports without pydantic."""
        return dict(kwargs)

    def model_validator(**_kwargs: Any):  # type: ignore[no-redef]
        """Stand-in so this file imports without pydantic."""
        return lambda func: func

    def AfterValidator(func: Any) -> Any:  # type: ignore[no-redef]  # noqa: N802
        """Stand-in so this file imports without pydantic."""
        return func


def _known_class(value: str) -> str:
    """A failure class must be one of errors.FAILURE_CLASSES (the one list of them)."""
    if value not in FAILURE_CLASSES:
        raise ValueError(f"unknown failure class {value!r}; the classes are {', '.join(FAILURE_CLASSES)}")
    return value


FailureClass = Annotated[str, AfterValidator(_known_class)]
TriggeredBy = Literal["schedule", "manual"]


class _Model(BaseModel):
    """Base for all result models: strict about field names, JSON-ready dumps."""

    model_config = ConfigDict(extra="forbid")

    def to_dict(self) -> Dict[str, Any]:
        """Return the model as JSON-compatible builtins (for module results and reports)."""
        return self.model_dump(mode="json")


class DeviceBackupInfo(_Model):
    """Outcome of backing up one device."""

    device_id: Optional[str] = None
    device_name: Optional[str] = None
    device_ip: Optional[str] = None
    platform: Optional[str] = None
    location: Optional[str] = None  # the Nautobot location's name (the backup repository's front page counts by it)
    nautobot_fetch_success: bool = False
    ssh_connection_success: bool = False
    running_config_success: bool = False
    startup_config_success: bool = False
    startup_config_reason: Optional[str] = None
    running_config_bytes: int = 0
    startup_config_bytes: int = 0
    running_config_file: Optional[str] = None
    startup_config_file: Optional[str] = None
    # The device's pinned SSH host key file in the checkout (.known_hosts/<name>), committed with its configs.
    host_key_file: Optional[str] = None
    unsaved_changes: Optional[bool] = None
    changed: bool = False
    error: Optional[str] = None
    error_class: Optional[FailureClass] = None

    @model_validator(mode="after")
    def _error_has_class(self) -> DeviceBackupInfo:
        """A failed device always says why, in words and as a class."""
        if self.error and self.error_class is None:
            self.error_class = "other"
        if self.error_class and not self.error:
            raise ValueError(f"error_class '{self.error_class}' given without an error message")
        return self

    @property
    def failed(self) -> bool:
        """A device failed when its running config was not backed up."""
        return bool(self.error) or not self.running_config_success


class GitStatus(_Model):
    """State of the local checkout after the prepare step."""

    repository_existed: bool = False
    operation: Optional[str] = None
    repository_path: Optional[str] = None
    repository_url: Optional[str] = None
    branch: Optional[str] = None


class GitCommitStatus(_Model):
    """Outcome of the commit and push step."""

    committed: bool = False
    pushed: bool = False
    commit_hash: Optional[str] = None
    files_changed: int = 0
    error: Optional[str] = None

    @property
    def failed(self) -> bool:
        """The publish step failed when it reported an error or committed without pushing."""
        return bool(self.error) or (self.committed and not self.pushed)


class CredentialInfo(_Model):
    """Which credential a run used. Deliberately has no field that could hold a secret."""

    credential_id: Optional[Union[int, str]] = None
    credential_name: Optional[str] = None
    username: Optional[str] = None


class TimestampUpdateStatus(_Model):
    """Outcome of writing the backup date back to Nautobot."""

    enabled: bool = False
    custom_field_name: Optional[str] = None
    updated_count: int = 0
    failed_count: int = 0
    errors: List[str] = []


class BackupRunResult(_Model):
    """The whole run, every device's full record, as written to the JSON report file.

    The set_stats artifact is the lean ``RunArtifact`` built from it (report.run_artifact).

    ``success``, ``devices_backed_up`` and ``devices_failed`` are derived from the
    other fields, so they can never disagree with them: a run with any failed device,
    or whose publish step failed, is not a success.
    """

    success: bool = False
    devices_backed_up: int = 0
    devices_failed: int = 0
    backed_up_devices: List[DeviceBackupInfo] = []
    failed_devices: List[DeviceBackupInfo] = []
    git_status: GitStatus = GitStatus()
    git_commit_status: GitCommitStatus = GitCommitStatus()
    credential_info: CredentialInfo = CredentialInfo()
    timestamp_update_status: TimestampUpdateStatus = TimestampUpdateStatus()
    repository: Optional[str] = None
    commit_date: Optional[str] = None
    triggered_by: TriggeredBy = "manual"
    executed_by: Optional[str] = None
    run_id: Optional[str] = None  # the Run-Id trailer of the run's commit

    @model_validator(mode="after")
    def _derive_counts_and_success(self) -> BackupRunResult:
        """Recompute the derived fields from the device lists and the Git outcome."""
        misplaced = [d.device_name for d in self.backed_up_devices if d.failed]
        if misplaced:
            raise ValueError(f"failed devices listed as backed up: {', '.join(map(str, misplaced))}")
        self.devices_backed_up = len(self.backed_up_devices)
        self.devices_failed = len(self.failed_devices)
        self.success = self.devices_failed == 0 and not self.git_commit_status.failed
        return self

    @classmethod
    def from_devices(cls, devices: List[DeviceBackupInfo], **fields: Any) -> BackupRunResult:
        """Build a run result, splitting device results into backed-up and failed."""
        return cls(
            backed_up_devices=[d for d in devices if not d.failed],
            failed_devices=[d for d in devices if d.failed],
            **fields,
        )


class RunCounts(_Model):
    """How many devices a run had: ok (backed up, unchanged), changed (backed up, changed), failed, per class."""

    devices: int = 0
    ok: int = 0
    changed: int = 0
    failed: int = 0
    failed_by_class: Dict[str, int] = {}


class FailedDeviceBrief(_Model):
    """One failed device in the artifact: its name, class and (bounded, already scrubbed) message."""

    device: str
    error_class: FailureClass
    error: str


class GitBrief(_Model):
    """The publish step in the artifact: the new commit (if any), whether it was pushed, and why not."""

    commit: Optional[str] = None
    pushed: bool = False
    files_changed: int = 0
    error: Optional[str] = None


class WritebackBrief(_Model):
    """The Nautobot write-back in the artifact: counts and the first few errors."""

    enabled: bool = False
    updated: int = 0
    failed: int = 0
    errors: List[str] = []


class RunArtifact(_Model):
    """The lean run result published with set_stats (the AWX job artifact ``backup_run``).

    Counts for every device, but names only a bounded number of failed and changed devices
    (``failed_more`` / ``changed_more`` count the rest), so its size does not grow with the
    fleet; every device's full record is in the JSON report file at ``report_path``.
    """

    success: bool = False
    counts: RunCounts = RunCounts()
    failed: List[FailedDeviceBrief] = []
    failed_more: int = 0
    changed: List[str] = []
    changed_more: int = 0
    git: GitBrief = GitBrief()
    writeback: WritebackBrief = WritebackBrief()
    report_path: Optional[str] = None
    repository: Optional[str] = None
    timestamp: Optional[str] = None


class CommandOutput(_Model):
    """One command a job ran on a device and what the device printed."""

    command: str
    output: str


class InterfaceQueueDrops(_Model):
    """Input and output queue drops of one interface (check_queues)."""

    interface: str
    input_drops: int = 0
    output_drops: int = 0
    over_threshold: bool = False


class DeviceJobInfo(_Model):
    """Outcome of one device in a run_commands or check_queues job."""

    job_type: str
    device_id: Optional[str] = None
    device_name: Optional[str] = None
    platform: Optional[str] = None
    commands: List[str] = []
    outputs: List[CommandOutput] = []
    output_file: Optional[str] = None
    interfaces: Optional[List[InterfaceQueueDrops]] = None
    drop_threshold: Optional[int] = None
    flagged_interfaces: List[str] = []
    changed: bool = False
    success: bool = False
    error: Optional[str] = None
    error_class: Optional[FailureClass] = None

    @model_validator(mode="after")
    def _error_has_class(self) -> DeviceJobInfo:
        """A failed device always says why; a device with an error never counts as a success."""
        if self.error and self.error_class is None:
            self.error_class = "other"
        if self.error_class and not self.error:
            raise ValueError(f"error_class '{self.error_class}' given without an error message")
        self.success = self.error is None
        return self
