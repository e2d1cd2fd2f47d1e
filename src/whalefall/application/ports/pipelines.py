"""Pipeline ports: definitions, runs and step runs (operations.md §4.4) and the advance queue."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import InvalidStateError, Problem
from whalefall.domain.pipelines import RunStatus, StepStatus


class PipelineRunningError(InvalidStateError):
    """A run of the pipeline is already running (HTTP 409 PIPELINE_RUNNING, context.pipeline_run_id)."""

    code = "PIPELINE_RUNNING"
    default_message = "A run of this pipeline is already running"

    def __init__(self, pipeline_run_id: str | None) -> None:
        context = {"pipeline_run_id": pipeline_run_id}
        super().__init__(problems=[Problem(None, "pipeline_running", self.default_message, context)],
                         context=context)
        self.pipeline_run_id = pipeline_run_id


@dataclass(frozen=True, slots=True, kw_only=True)
class DefinitionRecord:
    """A stored definition: the document (operations §4.1) plus bookkeeping."""

    name: str
    revision: int
    document: Mapping[str, Any]
    is_builtin: bool
    created_at: datetime
    created_by: int | None
    updated_at: datetime
    updated_by: int | None


class PipelineDefinitionStore(Protocol):
    """`pipeline_definitions`, through the caller's unit of work."""

    @abstractmethod
    async def list_definitions(self, *, is_builtin: bool | None, page: PageRequest) -> Page[DefinitionRecord]: ...

    @abstractmethod
    async def get(self, name: str) -> DefinitionRecord | None: ...

    @abstractmethod
    async def insert(self, record: DefinitionRecord) -> bool:
        """False when the name is taken (nothing written)."""

    @abstractmethod
    async def replace(self, name: str, document: Mapping[str, Any], *, expected_revision: int | None,
                      by: int | None, now: datetime) -> DefinitionRecord | None:
        """revision += 1 when `expected_revision` is current (None = any); None on a stale revision."""

    @abstractmethod
    async def delete(self, name: str) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRunRecord:
    step_name: str
    level: int
    status: StepStatus
    degraded: bool = False
    session_id: str | None = None
    blocked_by: str | None = None
    reused_from: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """A pipeline run with the definition snapshot it started with; `steps` may be empty in list views."""

    id: str
    pipeline: str
    definition_revision: int
    definition: Mapping[str, Any]
    trigger: str
    job_id: str | None
    created_by: int | None
    status: RunStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested_at: datetime | None
    rerun_of: str | None
    error_code: str | None
    error_message: str | None
    steps: tuple[StepRunRecord, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunQuery:
    pipelines: frozenset[str] = frozenset()
    statuses: frozenset[RunStatus] = frozenset()
    trigger: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepChange:
    """A conditional step transition: applied only while the step has status `from_status`."""

    step_name: str
    from_status: StepStatus
    status: StepStatus
    degraded: bool | None = None
    session_id: str | None = None
    blocked_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None


class PipelineRunStore(Protocol):
    """`pipeline_runs` and `pipeline_step_runs`, through the caller's unit of work."""

    @abstractmethod
    async def create(self, run: RunRecord) -> None:
        """Insert the run (status running) and its step runs; PipelineRunningError when one already runs."""

    @abstractmethod
    async def get(self, run_id: str, *, for_update: bool = False) -> RunRecord | None:
        """The run with its steps; `for_update` takes the run row lock (PostgreSQL FOR UPDATE; SQLite's write
        lock is already held by the transaction)."""

    @abstractmethod
    async def running_run(self, pipeline: str) -> str | None: ...

    @abstractmethod
    async def list_runs(self, query: RunQuery, page: PageRequest) -> Page[RunRecord]: ...

    @abstractmethod
    async def update_steps(self, run_id: str, changes: Sequence[StepChange]) -> int:
        """Apply each conditional change; returns how many matched."""

    @abstractmethod
    async def finish(self, run_id: str, status: RunStatus, *, now: datetime) -> bool:
        """running → terminal; False when it was already terminal."""

    @abstractmethod
    async def request_cancel(self, run_id: str, *, by: int | None, now: datetime) -> bool:
        """Set cancel_requested_at/by on a running run; False when not running."""

    @abstractmethod
    async def discard(self, run_id: str) -> None:
        """Delete a run with its steps (compensation when its first advance could not be enqueued)."""

    @abstractmethod
    async def runs_of_session(self, session_id: str) -> list[str]:
        """Ids of running runs that have a step on the session (to advance when it finishes)."""

    @abstractmethod
    async def running_ids(self) -> list[str]:
        """Every running run (the reaper advances them)."""


class PipelineAdvanceQueue(Protocol):
    """Enqueues `whalefall.pipelines.advance(pipeline_run_id)`; raises QueueUnavailableError when it cannot."""

    @abstractmethod
    async def enqueue_advance(self, run_id: str, *, request_id: str | None = None) -> None: ...

    @abstractmethod
    async def ping(self) -> bool:
        """True when the broker answers."""
