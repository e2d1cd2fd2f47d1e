"""OpenSession: create a session with its records in one transaction, commit, then enqueue (operations §1.4)."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from whalefall.application.errors import QueueUnavailableError
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.sessions import NewRecord, SessionStore, SessionView
from whalefall.application.ports.task_queue import TaskQueue
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.paging import PageRequest, SortKey
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionTrigger

logger = logging.getLogger(__name__)
_ID_BATCH: Final = 1000


class SessionDiscard(Protocol):
    """Compensation for a session whose messages could not be enqueued: delete it with its records."""

    @abstractmethod
    async def discard(self, session_id: str) -> None:
        """Delete the session and (cascading) its records in the caller's transaction; unknown ids are a no-op."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenSessionInput:
    """A resolved, frozen list of work items; permission checks and selection belong to the calling use case."""

    kind: SessionKind
    scope: SessionScope
    trigger: SessionTrigger
    records: Sequence[NewRecord]
    created_by: int | None = None
    origin_request_id: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    job_id: str | None = None
    pipeline_run_id: str | None = None
    step_name: str | None = None


@dataclass(frozen=True, slots=True)
class OpenSession:
    """Start a run of one kind. Rules:

    - the broker is pinged first: unreachable → `QueueUnavailableError` (503 `QUEUE_UNAVAILABLE`), nothing created;
    - the session (`running`, or `completed` at once without records) and its `pending` records are created and
      committed in one transaction; a running fleet session of the kind → `FleetLockHeldError` (409 `JOB_RUNNING`);
    - only then is one `whalefall.records.run` message enqueued per record. If enqueueing still fails, the session
      is deleted again (compensation, since it was already committed) and `QueueUnavailableError` is raised, so a
      failed answer never leaves rows behind. Messages that did go out find no record and are ignored.

    Enqueueing after commit (rather than inside the transaction) guarantees a worker never receives a message for
    a record it cannot see yet.
    """

    store: SessionStore
    discard: SessionDiscard
    queue: TaskQueue
    uow: UnitOfWork
    clock: Clock

    async def execute(self, data: OpenSessionInput) -> SessionView:
        if not await self.queue.ping():
            raise QueueUnavailableError()
        session = await self.store.create(
            kind=data.kind, scope=data.scope, trigger=data.trigger, created_by=data.created_by,
            origin_request_id=data.origin_request_id, params=data.params, records=data.records,
            now=self.clock.now(), job_id=data.job_id, pipeline_run_id=data.pipeline_run_id,
            step_name=data.step_name)
        record_ids = await self._pending_ids(session.id, session.total)
        await self.uow.commit()
        if not record_ids:
            return session
        try:
            await self.queue.enqueue_records(record_ids, request_id=data.origin_request_id)
        except Exception as exc:
            logger.warning("session.enqueue_failed", extra={"session_id": session.id, "error": type(exc).__name__})
            await self.uow.rollback()
            await self.discard.discard(session.id)
            await self.uow.commit()
            raise QueueUnavailableError() from exc
        return session

    async def _pending_ids(self, session_id: str, total: int) -> list[int]:
        ids: list[int] = []
        for page in range(1, total // _ID_BATCH + 2):
            batch = await self.store.list_records(session_id, PageRequest(page, _ID_BATCH, (SortKey("id"),)),
                                                  statuses=frozenset({RecordStatus.PENDING}))
            ids.extend(record.id for record in batch.items)
            if len(batch.items) < _ID_BATCH:
                break
        return ids
