"""Fakes for the scheduler and pipelines: a session launcher whose sessions tests finish by hand, a recording
advance queue."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from whalefall.application.errors import QueueUnavailableError
from whalefall.application.ports.pipelines import PipelineAdvanceQueue
from whalefall.application.ports.scheduler import LaunchedSession, LaunchRequest, SessionLauncher
from whalefall.application.ports.sessions import FleetLockHeldError
from whalefall.application.scheduler.launcher import kind_params_problems
from whalefall.domain.errors import Problem
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, is_fleet_locked


@dataclass
class FakeSession:
    id: str
    request: LaunchRequest
    status: SessionStatus = SessionStatus.RUNNING
    cancel_requested: bool = False


@dataclass
class FakeSessionLauncher(SessionLauncher):
    """Sessions live in memory; the fleet lock is enforced per kind like the real partial unique index. Tests end a
    session with `finish(id, status)` (or by kind with `finish_kind`)."""

    sessions: dict[str, FakeSession] = field(default_factory=dict)
    queue_down: bool = False

    def launched(self, kind: SessionKind | None = None) -> list[FakeSession]:
        return [s for s in self.sessions.values() if kind is None or s.request.kind is kind]

    async def launch(self, request: LaunchRequest) -> LaunchedSession:
        if self.queue_down:
            raise QueueUnavailableError()
        if is_fleet_locked(request.kind, SessionScope.FLEET):
            for other in self.sessions.values():
                if other.request.kind is request.kind and other.status is SessionStatus.RUNNING:
                    raise FleetLockHeldError(other.id)
        session = FakeSession(id=str(uuid.uuid4()), request=request)
        self.sessions[session.id] = session
        return LaunchedSession(session_id=session.id, kind=request.kind, scope="fleet", status=session.status,
                               record_count=1)

    def finish(self, session_id: str, status: SessionStatus) -> None:
        self.sessions[session_id].status = status

    def finish_kind(self, kind: SessionKind, status: SessionStatus) -> str:
        running = [s for s in self.launched(kind) if s.status is SessionStatus.RUNNING]
        assert len(running) == 1, running
        running[0].status = status
        return running[0].id

    async def status(self, session_id: str) -> SessionStatus | None:
        session = self.sessions.get(session_id)
        return session.status if session else None

    async def running_for_job(self, job_id: str) -> str | None:
        return next((s.id for s in self.sessions.values()
                     if s.request.job_id == job_id and s.status is SessionStatus.RUNNING), None)

    async def cancel(self, session_id: str, *, by: int | None) -> None:
        session = self.sessions.get(session_id)
        if session is not None and session.status is SessionStatus.RUNNING:
            session.cancel_requested = True
            session.status = SessionStatus.CANCELLED

    def params_problems(self, kind: SessionKind, params: Mapping[str, object]) -> Sequence[Problem]:
        return kind_params_problems(kind, params)


@dataclass
class RecordingAdvanceQueue(PipelineAdvanceQueue):
    """Keeps every run id whose advance was enqueued."""

    enqueued: list[str] = field(default_factory=list)
    available: bool = True

    async def enqueue_advance(self, run_id: str, *, request_id: str | None = None) -> None:
        if not self.available:
            raise QueueUnavailableError()
        self.enqueued.append(run_id)

    async def ping(self) -> bool:
        return self.available
