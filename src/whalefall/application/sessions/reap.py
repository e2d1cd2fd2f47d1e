"""ReapSessions and RedispatchPending: the reaper's idempotent steps (operations §1.6)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.metrics import NO_RECORD_METRICS, RecordMetrics
from whalefall.application.ports.sessions import RecordFinish, RecordView, SessionStore
from whalefall.application.ports.task_queue import TaskQueue
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.finalised import NO_LISTENERS, SessionFinalisedListeners
from whalefall.domain.sessions.records import RecordErrorCode, RecordStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaperConfig:
    """Settings `sessions.reaper_grace_s`, `sessions.stall_after_s`, `sessions.max_dispatches`."""

    grace_s: float = 10
    stall_after_s: float = 300
    max_dispatches: int = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class ReapOutcome:
    workers_lost: int = 0
    redispatched: int = 0
    not_dispatched: int = 0
    finalised: int = 0


@dataclass(frozen=True, slots=True)
class ReapSessions:
    """One reaper pass, each step idempotent and each transition in its own transaction:

    1. running records whose lease expired more than `grace_s` ago → `failed` WORKER_LOST (lease owner and last
       heartbeat in details); the session is finalised in the same transaction if it was the last open record;
    2. pending records of stalled sessions (no claim and no dispatch within `stall_after_s`) are re-enqueued
       (`dispatch_count += 1`); a record already dispatched `max_dispatches` times → `failed` NOT_DISPATCHED.
       An unreachable broker is logged and retried on the next pass;
    3. running sessions without pending or running records are finalised (a crash between steps).

    Records it fails are counted in `whalefall_records_finished_total` (status `failed`, no error class: the
    codes WORKER_LOST / NOT_DISPATCHED are the runtime's, not a connector class), without a duration.
    """

    store: SessionStore
    queue: TaskQueue
    uow: UnitOfWork
    clock: Clock
    config: ReaperConfig
    finalised: SessionFinalisedListeners = NO_LISTENERS
    metrics: RecordMetrics = NO_RECORD_METRICS

    async def execute(self) -> ReapOutcome:
        now = self.clock.now()
        lost = 0
        touched: set[str] = set()  # sessions a transition may have finalised
        for record in await self.store.expired_leases(before=now - timedelta(seconds=self.config.grace_s)):
            details = {"lease_owner": record.lease_owner,
                       "last_heartbeat_at": record.heartbeat_at.isoformat() if record.heartbeat_at else None}
            changed = await self.store.finish(record.id, RecordFinish(
                status=RecordStatus.FAILED, error_code=RecordErrorCode.WORKER_LOST.value,
                error_message="the worker stopped renewing its lease", details=details),
                now=now, worker_id=record.lease_owner)
            await self.uow.commit()
            lost += changed
            if changed:
                touched.add(record.session_id)
                self._count_failed(record)
        stalled = await self.store.stalled_pending(before=now - timedelta(seconds=self.config.stall_after_s))
        exhausted = [r for r in stalled if r.dispatch_count >= self.config.max_dispatches]
        for record in exhausted:
            failed = await self.store.finish(record.id, RecordFinish(
                status=RecordStatus.FAILED, error_code=RecordErrorCode.NOT_DISPATCHED.value,
                error_message=f"not picked up after {record.dispatch_count} dispatches",
                details={"dispatch_count": record.dispatch_count}), now=now, from_status=RecordStatus.PENDING)
            await self.uow.commit()
            touched.add(record.session_id)
            if failed:
                self._count_failed(record)
        redispatched = await _redispatch(self.store, self.queue, self.uow,
                                         [r for r in stalled if r.dispatch_count < self.config.max_dispatches], now)
        finalised = await self.store.finalise_idle_sessions(now=now)
        await self.uow.commit()
        for session_id in sorted(touched | set(finalised)):
            await self.finalised.notify_if_terminal(self.store, session_id)
        await self.uow.rollback()  # end the read transaction of the notifications
        return ReapOutcome(workers_lost=lost, redispatched=redispatched, not_dispatched=len(exhausted),
                           finalised=len(finalised))

    def _count_failed(self, record: RecordView) -> None:
        self.metrics.record_finished(kind=record.kind.value, status=RecordStatus.FAILED.value, error_class=None,
                                     db_type=None, duration_s=None)


@dataclass(frozen=True, slots=True)
class RedispatchPending:
    """Embedded start-up: the in-memory queue did not survive, so every pending record of a running session is
    enqueued again (`dispatch_count += 1`). Returns how many were enqueued."""

    store: SessionStore
    queue: TaskQueue
    uow: UnitOfWork
    clock: Clock

    async def execute(self) -> int:
        now = self.clock.now()
        return await _redispatch(self.store, self.queue, self.uow, await self.store.stalled_pending(before=now), now)


async def _redispatch(store: SessionStore, queue: TaskQueue, uow: UnitOfWork, records: list[RecordView],
                      now: datetime) -> int:
    if not records:
        return 0
    ids = [r.id for r in records]
    await store.mark_dispatched(ids, now=now)
    await uow.commit()
    try:
        await queue.enqueue_records(ids)
    except Exception:
        logger.warning("session.redispatch_failed", extra={"records": len(ids)}, exc_info=True)
        return 0
    return len(ids)
