"""Scheduler ports: the job store (operations.md §3.1), process heartbeats (§8) and the launchers a fire uses to
start a session or a pipeline run."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from whalefall.domain.errors import InvalidStateError, Problem
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus, SessionTrigger

PIPELINE_JOB_KIND = "pipeline"
FIRE_JOB_TASK = "whalefall.scheduler.fire"
"""The scheduler's in-process task: start a claimed fire's session or pipeline run (never sent to workers)."""


class FireOutcome(StrEnum):
    """`job_fires.outcome`."""

    FIRED = "fired"
    SKIPPED_RUNNING = "skipped_running"
    MISFIRE_SKIPPED = "misfire_skipped"


class JobRunningError(InvalidStateError):
    """Run-now while the job's previous run is active (HTTP 409 JOB_RUNNING, context names the run)."""

    code = "JOB_RUNNING"
    default_message = "The job's previous run is still active"

    def __init__(self, *, session_id: str | None = None, pipeline_run_id: str | None = None) -> None:
        context = {"session_id": session_id} if session_id else {"pipeline_run_id": pipeline_run_id}
        super().__init__(problems=[Problem(None, "job_running", self.default_message, context)], context=context)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRecord:
    """One `scheduled_jobs` row. `kind` is a session kind or `pipeline` (then `target` names the pipeline)."""

    id: str
    kind: str
    target: str | None
    name: str
    description: str | None
    cron: str
    timezone: str
    enabled: bool
    params: Mapping[str, object]
    is_builtin: bool
    revision: int
    updated_at: datetime
    updated_by: int | None
    schedule_changed_at: datetime
    next_fire_at: datetime | None = None
    last_fire_at: datetime | None = None
    last_session_id: str | None = None
    last_pipeline_run_id: str | None = None
    last_misfire_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FireRecord:
    """One `job_fires` row: the unique (job_id, scheduled_for) makes each instant fire at most once."""

    job_id: str
    scheduled_for: datetime
    fired_at: datetime
    leader_id: str
    outcome: FireOutcome
    session_id: str | None = None
    pipeline_run_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobChange:
    """A new schedule state for a job (`save`); None fields are left as they are."""

    cron: str | None = None
    timezone: str | None = None
    params: Mapping[str, object] | None = None
    enabled: bool | None = None
    schedule_changed: bool = False
    next_fire_at: datetime | None = None


class JobStore(Protocol):
    """Jobs and their fires in the metadata store, written through the caller's unit of work."""

    @abstractmethod
    async def list_jobs(self) -> list[JobRecord]:
        """Every job, by id."""

    @abstractmethod
    async def get(self, job_id: str) -> JobRecord | None: ...

    @abstractmethod
    async def insert_missing(self, jobs: Sequence[JobRecord]) -> list[str]:
        """Insert the jobs whose id is absent (never overwrites); returns the ids inserted."""

    @abstractmethod
    async def adopt_default_timezone(self, job_ids: Sequence[str], timezone: str, *, now: datetime) -> None:
        """Set `timezone` on the listed built-in jobs that were never edited (revision 1)."""

    @abstractmethod
    async def update(self, job_id: str, change: JobChange, *, expected_revision: int | None, by: int | None,
                     now: datetime) -> JobRecord | None:
        """Apply the change (revision += 1, updated_at/by) when `expected_revision` is current (None = any);
        None when the revision did not match. `schedule_changed` stamps `schedule_changed_at = now`."""

    @abstractmethod
    async def delete(self, job_id: str) -> None: ...

    @abstractmethod
    async def claim_fire(self, fire: FireRecord) -> bool:
        """Insert the fire row and stamp the job's `last_fire_at` (or `last_misfire_at` for a misfire); False,
        with nothing written, when the (job_id, scheduled_for) row already exists."""

    @abstractmethod
    async def settle_fire(self, job_id: str, scheduled_for: datetime, *, outcome: FireOutcome,
                          session_id: str | None = None, pipeline_run_id: str | None = None) -> None:
        """Record what the fire started (or `skipped_running` with the blocking run) on the row and the job."""

    @abstractmethod
    async def record_manual_run(self, job_id: str, *, session_id: str | None = None,
                                pipeline_run_id: str | None = None) -> None:
        """Remember a run-now's run as the job's last run (so `running` and the 409 see it)."""

    @abstractmethod
    async def set_next_fire(self, job_id: str, next_fire_at: datetime | None) -> None:
        """Informational `next_fire_at` (the source recomputes it; never a revision change)."""

    @abstractmethod
    async def fires(self, job_id: str, *, limit: int) -> list[FireRecord]:
        """The most recent fires, newest scheduled_for first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """One `process_heartbeats` row."""

    process_id: str
    kind: str
    host: str
    pid: int
    version: str
    started_at: datetime
    last_seen_at: datetime
    running_tasks: int = 0
    is_leader: bool = False
    leader_since: datetime | None = None


class HeartbeatStore(Protocol):
    """Process liveness rows (written every 15 s)."""

    @abstractmethod
    async def beat(self, heartbeat: Heartbeat) -> None:
        """Upsert the process's row."""

    @abstractmethod
    async def list_kind(self, kind: str, *, seen_since: datetime) -> list[Heartbeat]:
        """Rows of the kind seen at or after the instant, leader first."""

    @abstractmethod
    async def get(self, process_id: str) -> Heartbeat | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchRequest:
    """A session to open for a fire, a run-now or a pipeline step; `params` are the kind's validated params."""

    kind: SessionKind
    trigger: SessionTrigger
    params: Mapping[str, object] = field(default_factory=dict)
    created_by: int | None = None
    origin_request_id: str | None = None
    job_id: str | None = None
    pipeline_run_id: str | None = None
    step_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchedSession:
    """The session receipt of api.md §1.13."""

    session_id: str
    kind: SessionKind
    scope: str
    status: SessionStatus
    record_count: int


class SessionLauncher(Protocol):
    """Opens sessions the way the API does: session and records in one transaction, committed, then enqueued.

    Commits on its own; callers commit their own writes before calling it. Raises FleetLockHeldError
    (JOB_RUNNING) when a fleet session of the kind runs and QueueUnavailableError when nothing could be enqueued.
    """

    @abstractmethod
    async def launch(self, request: LaunchRequest) -> LaunchedSession: ...

    @abstractmethod
    async def status(self, session_id: str) -> SessionStatus | None:
        """A session's status (None when unknown)."""

    @abstractmethod
    async def running_for_job(self, job_id: str) -> str | None:
        """The id of a running session created for the job, if any."""

    @abstractmethod
    async def cancel(self, session_id: str, *, by: int | None) -> None:
        """Request cancellation (§1.7); a terminal session is left alone."""

    @abstractmethod
    def params_problems(self, kind: SessionKind, params: Mapping[str, object]) -> Sequence[Problem]:
        """Problems of `params` for the kind, fields relative to the params (`period_types[0]`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchedRun:
    """The pipeline receipt of api.md §1.13."""

    pipeline_run_id: str
    pipeline: str
    status: str


class PipelineLauncher(Protocol):
    """Starts pipeline runs for the scheduler (the pipelines slice implements it; the container wires it)."""

    @abstractmethod
    async def start_run(self, pipeline: str, *, trigger: str, created_by: int | None, job_id: str | None,
                        request_id: str | None) -> LaunchedRun:
        """Create the run (committed) and enqueue its first advance. Raises PipelineRunningError (409) when a
        run of the pipeline is running, NotFoundError for an unknown pipeline."""

    @abstractmethod
    async def running_run(self, pipeline: str) -> str | None:
        """The id of the pipeline's running run, if any."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DueFire:
    """One instant a job should fire at (in the past = at once); the schedule source hands it to taskiq."""

    job_id: str
    scheduled_for: datetime

    @property
    def key(self) -> str:
        return f"{self.job_id}@{self.scheduled_for.isoformat()}"


class ScheduleFeed(Protocol):
    """What the schedule source needs from the scheduler process: leadership and the fire logic."""

    @abstractmethod
    def is_leader(self) -> bool:
        """True only while this process holds a live leader lease (checked again right before each send)."""

    @abstractmethod
    async def due(self) -> list[DueFire]:
        """The next instant of every enabled job (misfires already written as `misfire_skipped` fires)."""

    @abstractmethod
    async def claim(self, fire: DueFire) -> bool:
        """Insert the instant's `job_fires` row; False when it already exists (another leader fired it)."""
