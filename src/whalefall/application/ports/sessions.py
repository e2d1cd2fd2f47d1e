"""Sessions port: one model tracks all background work (operations.md §1). Writes go through the caller's unit of
work; every use case commits its own short transaction (claim, fence + data, finish)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import InvalidStateError, Problem
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger


class FleetLockHeldError(InvalidStateError):
    """A fleet session of this kind is running (HTTP 409 JOB_RUNNING; context.session_id names it)."""

    code = "JOB_RUNNING"
    default_message = "A fleet run of this kind is already running"

    def __init__(self, session_id: str) -> None:
        context = {"session_id": session_id}
        super().__init__(problems=[Problem(None, "job_running", self.default_message, context)], context=context)
        self.session_id = session_id


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRecord:
    """A unit of work frozen into the session at submission."""

    item_type: str
    item_key: str
    instance_id: int | None = None
    instance_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionView:
    id: str
    kind: SessionKind
    scope: SessionScope
    trigger: SessionTrigger
    status: SessionStatus
    job_id: str | None
    pipeline_run_id: str | None
    step_name: str | None
    created_by: int | None
    created_by_name: str | None
    origin_request_id: str | None
    params: Mapping[str, object]
    summary: Mapping[str, object]
    total: int
    pending: int
    running: int
    succeeded: int
    failed: int
    skipped: int
    cancelled: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested_at: datetime | None
    error_code: str | None
    error_message: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordView:
    id: int
    session_id: str
    kind: SessionKind
    item_type: str
    item_key: str
    instance_id: int | None
    instance_name: str | None
    status: RecordStatus
    attempt: int
    dispatch_count: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error_code: str | None
    error_class: str | None
    error_message: str | None
    counters: Mapping[str, object] = field(default_factory=dict)
    warnings: tuple[Mapping[str, object], ...] = ()
    details: Mapping[str, object] = field(default_factory=dict)
    error_items: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordFinish:
    """Terminal outcome of one record (status completed | failed | skipped | cancelled).

    `error_items` > 0 says "completed, but N items had errors" (classification: error rows and excluded rules); the
    record stays a success and its session ends `partial` (`final_status`). Only `completed` records may carry it.
    """

    status: RecordStatus
    error_code: str | None = None
    error_class: str | None = None
    error_message: str | None = None
    counters: Mapping[str, object] = field(default_factory=dict)
    warnings: Sequence[Mapping[str, object]] = ()
    details: Mapping[str, object] = field(default_factory=dict)
    error_items: int = 0

    def __post_init__(self) -> None:
        if self.error_items < 0:
            raise ValueError(f"error_items must be >= 0, not {self.error_items}")
        if self.error_items and self.status is not RecordStatus.COMPLETED:
            raise ValueError(f"only a completed record reports item errors, not a {self.status} one")


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionQuery:
    kinds: frozenset[SessionKind] = frozenset()
    statuses: frozenset[SessionStatus] = frozenset()
    trigger: SessionTrigger | None = None
    scope: SessionScope | None = None
    job_id: str | None = None
    pipeline_run_id: str | None = None
    created_by: int | None = None
    instance_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


class SessionStore(Protocol):
    """Sessions and records in the metadata store; every state change is a conditional update."""

    @abstractmethod
    async def create(self, *, kind: SessionKind, scope: SessionScope, trigger: SessionTrigger,
                     created_by: int | None, origin_request_id: str | None, params: Mapping[str, object],
                     records: Sequence[NewRecord], now: datetime, job_id: str | None = None,
                     pipeline_run_id: str | None = None, step_name: str | None = None) -> SessionView:
        """Session `running` with all records `pending`, in the caller's transaction; a second running fleet
        session of the kind raises FleetLockHeldError (partial unique index)."""

    @abstractmethod
    async def get(self, session_id: str, *, for_update: bool = False) -> SessionView | None: ...

    @abstractmethod
    async def get_record(self, record_id: int) -> RecordView | None: ...

    @abstractmethod
    async def claim(self, record_id: int, *, worker_id: str, lease_ttl_s: float, now: datetime) -> RecordView | None:
        """pending → running (attempt += 1, lease set) unless the session is cancel-requested; None when the record
        was not claimable (terminal, running elsewhere, cancelled)."""

    @abstractmethod
    async def extend_lease(self, record_id: int, *, worker_id: str, lease_ttl_s: float, now: datetime) -> bool:
        """Heartbeat and fencing: conditional on lease_owner and status running; False = lease lost."""

    @abstractmethod
    async def finish(self, record_id: int, outcome: RecordFinish, *, now: datetime,
                     worker_id: str | None = None, from_status: RecordStatus = RecordStatus.RUNNING) -> bool:
        """Record transition under the session row lock, counters recomputed from the records, session finalised
        when nothing is pending or running. False when the transition matched no row (stale)."""

    @abstractmethod
    async def release(self, record_id: int, *, worker_id: str, now: datetime) -> bool:
        """running → pending on graceful shutdown (attempt kept)."""

    @abstractmethod
    async def request_cancel(self, session_id: str, *, by: int | None, now: datetime) -> SessionView:
        """Set cancel_requested_at/by, pending records → cancelled, finalise when nothing runs."""

    @abstractmethod
    async def expired_leases(self, *, before: datetime) -> list[RecordView]:
        """Running records whose lease expired before the instant (reaper step 1)."""

    @abstractmethod
    async def stalled_pending(self, *, before: datetime) -> list[RecordView]:
        """Pending records of running sessions with no claim or creation since the instant (reaper step 2)."""

    @abstractmethod
    async def mark_dispatched(self, record_ids: Sequence[int], *, now: datetime) -> None:
        """dispatch_count += 1, last_dispatched_at = now."""

    @abstractmethod
    async def finalise_idle_sessions(self, *, now: datetime) -> list[str]:
        """Running sessions with no pending or running record → terminal (reaper step 3)."""

    @abstractmethod
    async def list_sessions(self, query: SessionQuery, page: PageRequest) -> Page[SessionView]: ...

    @abstractmethod
    async def list_records(self, session_id: str, page: PageRequest, *, statuses: frozenset[RecordStatus] = frozenset(),
                           error_classes: frozenset[str] = frozenset(),
                           instance_id: int | None = None) -> Page[RecordView]: ...
