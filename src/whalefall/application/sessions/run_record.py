"""RunRecord: the generic runner behind the `whalefall.records.run` task (operations §1.3–1.8, §2.1).

Transactions of one run, each short and separate: the claim, heartbeats (a fresh connection each), the kind's
fence + data (the task's own unit of work, shared with the kind work), and the terminal record transition. Claims
and terminal transitions go through the process's `RecordClaimer` and `RecordFinisher`, which group-commit the
concurrent tasks' transitions (one transaction and one session-row update per session for many records): per
record, the conditional updates of operations §1.3 are unchanged, only the transaction is shared.

A task never holds one pooled connection while it waits for another (N tasks doing so on a pool of N connections
deadlock): the task's unit of work is released before the terminal transition, before retry waits and when the
task is cancelled. Kind work must not keep a transaction of the task's unit of work open across remote I/O (on
SQLite every transaction holds the store's write lock): read, commit or roll back, then connect.
`check_cancel()` before the fence reads through a fresh read-only connection (`SessionTransactions.read`, which
does not queue behind writers); after the fence it reads inside the data transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol, TypeVar

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import ConnectorError
from whalefall.application.ports.metrics import NO_RECORD_METRICS, RecordMetrics
from whalefall.application.ports.sessions import RecordFinish, RecordView, SessionStore, SessionView
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.batching import CancelWatch, RecordClaimer, RecordFinisher
from whalefall.application.sessions.claims import Claimed, ClaimRequest, SkippedAtClaim
from whalefall.application.sessions.finalised import NO_LISTENERS, SessionFinalisedListeners
from whalefall.application.sessions.transactions import SessionTransaction, SessionTransactions
from whalefall.application.sessions.transitions import FinishRequest
from whalefall.application.sessions.work import (
    LeaseLostError,
    RecordCancelledError,
    RecordContext,
    RecordResult,
    RecordWork,
)
from whalefall.domain.sessions.backoff import ErrorClass, RetryPolicy
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import TERMINAL_SESSION_STATUSES, SessionKind, retries_connector_errors

logger = logging.getLogger(__name__)
T = TypeVar("T")

INTERNAL_CODE: Final = "INTERNAL"
DEADLINE_CODE: Final = "DEADLINE_EXCEEDED"
UNSUPPORTED_KIND_CODE: Final = "UNSUPPORTED_KIND"


class RecordWorks(Protocol):
    """The kind → RecordWork registry, filled by the worker entrypoint (cross-slice orchestration)."""

    @abstractmethod
    async def for_kind(self, kind: SessionKind) -> RecordWork | None:
        """The work of the kind, built for this task; None when no work is registered for the kind."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerConfig:
    """Settings `sessions.*`, `retry.*` and `connector.instance_deadline_s`. `random` draws the jitter (None = no
    jitter); `sleep` waits between attempts (tests inject a recorder)."""

    lease_ttl_s: float = 60
    heartbeat_interval_s: float = 15
    instance_deadline_s: float = 900
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    random: Callable[[], float] | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class RunOutcome(StrEnum):
    """What one delivery of a record id did."""

    IGNORED = "ignored"            # terminal, unknown, running elsewhere or cancel-requested: acknowledged, no work
    SKIPPED = "skipped"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LEASE_LOST = "lease_lost"      # another owner (the reaper) took over: nothing written


_OUTCOME_OF: Final = {RecordStatus.COMPLETED: RunOutcome.COMPLETED, RecordStatus.FAILED: RunOutcome.FAILED,
                      RecordStatus.SKIPPED: RunOutcome.SKIPPED, RecordStatus.CANCELLED: RunOutcome.CANCELLED}


@dataclass(slots=True)
class _Lease:
    record: RecordView
    session: SessionView
    lost: bool = False
    cancel_seen: bool = False
    fenced: bool = False
    db_type: str | None = None
    started: float = 0.0  # monotonic, at the claim: the record's duration runs from claim to terminal transition


@dataclass(frozen=True, slots=True)
class RunRecord:
    """Claim one record and run the work of its session kind, always ending in a terminal transition.

    Claim (one transaction): unknown, terminal or foreign-leased records and cancel-requested sessions are ignored;
    a deleted instance → `skipped` INSTANCE_DELETED, an inactive one → `skipped` INSTANCE_INACTIVE (not for
    `connection_test`), another running record of the kind for the instance → `skipped` ALREADY_RUNNING with its
    session id in details. Work: a heartbeat extends the lease every interval (lease lost → the work is cancelled
    and nothing is written); each attempt is bounded by the instance deadline (→ `failed` TIMEOUT /
    DEADLINE_EXCEEDED); retryable ConnectorErrors of retrying kinds are retried with backoff inside the task,
    checking for cancellation before each retry and during the waits; RecordCancelledError → `cancelled`; any other
    exception → `failed` INTERNAL. The terminal transition is written in a `finally`, whatever was raised; a
    task cancelled from outside (worker shutdown) releases the record to `pending` instead and re-raises.

    Metrics (operations.md §9): every terminal transition this runner writes (skips at claim included) counts
    `whalefall_records_finished_total`; records that ran also observe `whalefall_record_duration_seconds`, and each
    retry after a connector error counts `whalefall_retries_total`. A stale transition (matched no row) counts
    nothing.
    """

    store: SessionStore
    uow: UnitOfWork
    transactions: SessionTransactions
    works: RecordWorks
    clock: Clock
    worker_id: str
    config: RunnerConfig
    finalised: SessionFinalisedListeners = NO_LISTENERS
    finisher: RecordFinisher | None = None
    claimer: RecordClaimer | None = None
    cancel_watch: CancelWatch | None = None
    metrics: RecordMetrics = NO_RECORD_METRICS

    async def execute(self, record_id: int) -> RunOutcome:
        claimed = await self._claim(record_id)
        if isinstance(claimed, RunOutcome):
            return claimed
        lease = claimed
        finish: RecordFinish | None = None
        try:
            finish = await self._supervise(lease)
        except asyncio.CancelledError:
            await _shielded(self._release(lease))
            raise
        except Exception as exc:  # the runner's own failures still end the record
            logger.exception("session.record_crashed", extra={"record_id": record_id})
            finish = _internal(exc)
        finally:
            if finish is not None:
                await _shielded(self._finish(lease, finish))
        return RunOutcome.LEASE_LOST if finish is None else _OUTCOME_OF[finish.status]

    async def _claim(self, record_id: int) -> _Lease | RunOutcome:
        """Through the process's claimer (a private one without it). A task cancelled while its claim is being
        written waits for it and releases the record it got, so shutdown never strands a running record."""
        claimer = self.claimer or RecordClaimer(self.transactions, self.clock)
        pending = asyncio.ensure_future(claimer.claim(ClaimRequest(
            record_id=record_id, worker_id=self.worker_id, lease_ttl_s=self.config.lease_ttl_s)))
        try:
            outcome = await asyncio.shield(pending)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                got = await pending
                if isinstance(got, Claimed):
                    await self._release(_Lease(got.record, got.session, db_type=got.db_type))
            raise
        if isinstance(outcome, SkippedAtClaim):  # that may have been the session's last open record
            if outcome.kind is not None:
                self.metrics.record_finished(kind=outcome.kind.value, status=RecordStatus.SKIPPED.value,
                                             error_class=None, db_type=None, duration_s=None)
            if outcome.finalised:
                await self._notify_finalised(outcome.session_id)
            return RunOutcome.SKIPPED
        if outcome is None:
            return RunOutcome.IGNORED
        return _Lease(outcome.record, outcome.session, db_type=outcome.db_type, started=time.monotonic())

    async def _supervise(self, lease: _Lease) -> RecordFinish | None:
        work_task = asyncio.create_task(self._attempts(lease))
        beat = asyncio.create_task(self._heartbeat(lease, work_task))
        try:
            return await work_task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if lease.lost and (current is None or current.cancelling() == 0):
                return None
            raise
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _attempts(self, lease: _Lease) -> RecordFinish | None:
        work = await self.works.for_kind(lease.session.kind)
        if work is None:
            return RecordFinish(status=RecordStatus.FAILED, error_code=UNSUPPORTED_KIND_CODE,
                                error_class=ErrorClass.INTERNAL.value,
                                error_message=f"no work is registered for kind {lease.session.kind}")
        while True:
            try:
                return await self._attempt(work, lease)
            except ConnectorError as exc:
                await self.uow.release()
                logger.info("session.attempt_failed", extra={
                    "record_id": lease.record.id, "attempt": lease.record.attempt, "error_class": exc.error_class})
                retry = (self.config.retry.after_failure(exc.error_class, lease.record.attempt, self.config.random)
                         if retries_connector_errors(lease.session.kind) else None)
                if retry is None or not retry.retry or retry.delay_s is None:
                    return RecordFinish(status=RecordStatus.FAILED, error_code=exc.error_code,
                                        error_class=str(exc.error_class), error_message=exc.message)
                self.metrics.record_retried(kind=lease.session.kind.value, error_class=str(exc.error_class))
            try:
                await self._check_cancel(lease)
                await self._backoff(lease, retry.delay_s)
            except RecordCancelledError:
                return RecordFinish(status=RecordStatus.CANCELLED, error_code=RecordCancelledError.code)
            renewed = await self._in_transaction(lambda tx: tx.store.start_attempt(
                lease.record.id, worker_id=self.worker_id, lease_ttl_s=self.config.lease_ttl_s,
                now=self.clock.now()))
            if renewed is None:
                lease.lost = True
                return None
            lease.record = renewed

    async def _attempt(self, work: RecordWork, lease: _Lease) -> RecordFinish | None:
        lease.fenced = False
        context = RecordContext(record=lease.record, session=lease.session, worker_id=self.worker_id,
                                fence=lambda: self._fence(lease), check_cancel=lambda: self._check_cancel(lease))
        try:
            async with asyncio.timeout(self.config.instance_deadline_s):
                result = await work.run(context)
        except RecordCancelledError:
            return RecordFinish(status=RecordStatus.CANCELLED, error_code=RecordCancelledError.code)
        except LeaseLostError:
            lease.lost = True
            return None
        except TimeoutError:
            return RecordFinish(status=RecordStatus.FAILED, error_code=DEADLINE_CODE,
                                error_class=ErrorClass.TIMEOUT.value,
                                error_message=f"the attempt exceeded {self.config.instance_deadline_s:g} s")
        except ConnectorError:
            raise
        except Exception as exc:
            logger.exception("session.work_failed", extra={"record_id": lease.record.id})
            return _internal(exc)
        return _finish_of(result)

    async def _fence(self, lease: _Lease) -> None:
        if not await self.store.extend_lease(lease.record.id, worker_id=self.worker_id,
                                             lease_ttl_s=self.config.lease_ttl_s, now=self.clock.now()):
            lease.lost = True
            raise LeaseLostError()
        lease.fenced = True

    async def _check_cancel(self, lease: _Lease) -> None:
        if not lease.cancel_seen:
            if lease.fenced:
                session = await self.store.get(lease.session.id)
                lease.cancel_seen = session is None or session.cancel_requested_at is not None
            elif self.cancel_watch is not None:
                lease.cancel_seen = await self.cancel_watch.cancel_requested(lease.session.id)
            else:
                async with self.transactions.read() as tx:
                    flags = await tx.store.cancel_requested([lease.session.id])
                lease.cancel_seen = flags.get(lease.session.id, True)
        if lease.cancel_seen:
            raise RecordCancelledError()

    async def _backoff(self, lease: _Lease, delay_s: float) -> None:
        """Wait `delay_s` (one call of the configured sleep), checking for cancellation every heartbeat interval
        meanwhile and once more at the end."""
        sleeper = asyncio.ensure_future(self.config.sleep(delay_s))
        try:
            while not sleeper.done():
                done, _pending = await asyncio.wait({sleeper}, timeout=self.config.heartbeat_interval_s)
                if not done:
                    await self._check_cancel(lease)
            sleeper.result()
        finally:
            sleeper.cancel()
        await self._check_cancel(lease)

    async def _heartbeat(self, lease: _Lease, work_task: asyncio.Task[Any]) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_interval_s)
            try:
                async with self.transactions.begin() as tx:
                    kept = await tx.store.extend_lease(lease.record.id, worker_id=self.worker_id,
                                                       lease_ttl_s=self.config.lease_ttl_s, now=self.clock.now())
                    session = await tx.store.get(lease.session.id)
            except Exception:
                logger.warning("session.heartbeat_failed", extra={"record_id": lease.record.id}, exc_info=True)
                continue
            if session is None or session.cancel_requested_at is not None:
                lease.cancel_seen = True
            if not kept:
                logger.warning("session.lease_lost", extra={"record_id": lease.record.id})
                lease.lost = True
                work_task.cancel()
                return

    async def _finish(self, lease: _Lease, finish: RecordFinish) -> None:
        """The task's own connection goes back to the pool first (it may also be unusable after a failed data
        commit): a task must never hold one pooled connection while it waits for another, or a saturated pool
        deadlocks. Listeners are notified only when this very transition finalised the session."""
        with contextlib.suppress(Exception):
            await self.uow.release()
        request = FinishRequest(record_id=lease.record.id, outcome=finish, worker_id=self.worker_id)
        receipt = None
        if self.finisher is not None:
            try:
                receipt = await self.finisher.finish(request)
            except Exception:  # one more try on its own (e.g. a transient store error hit the batch)
                logger.warning("session.finish_retry", extra={"record_id": lease.record.id}, exc_info=True)
        if receipt is None:
            receipt = (await self._in_transaction(lambda tx: tx.store.finish_many([request],
                                                                                   now=self.clock.now())))[0]
        if receipt.changed:
            self.metrics.record_finished(kind=lease.session.kind.value, status=finish.status.value,
                                         error_class=finish.error_class, db_type=lease.db_type,
                                         duration_s=time.monotonic() - lease.started)
        if receipt.finalised:
            await self._notify_finalised(lease.record.session_id)

    async def _notify_finalised(self, session_id: str) -> None:
        """The committed session is read on a fresh connection that is given back before the listeners run (they
        open their own transactions: holding the read's connection meanwhile could exhaust the pool)."""
        if not self.finalised.listeners:
            return
        session = await self._in_read(lambda tx: tx.store.get(session_id))
        if session is not None and session.status in TERMINAL_SESSION_STATUSES:
            await self.finalised.notify(session)

    async def _release(self, lease: _Lease) -> None:
        with contextlib.suppress(Exception):
            await self.uow.release()
        await self._in_transaction(lambda tx: tx.store.release(
            lease.record.id, worker_id=self.worker_id, now=self.clock.now()))

    async def _in_transaction(self, action: Callable[[SessionTransaction], Coroutine[Any, Any, T]]) -> T:
        async with self.transactions.begin() as tx:
            return await action(tx)

    async def _in_read(self, action: Callable[[SessionTransaction], Coroutine[Any, Any, T]]) -> T:
        async with self.transactions.read() as tx:
            return await action(tx)


def _finish_of(result: RecordResult) -> RecordFinish:
    if result.skipped_code:
        return RecordFinish(status=RecordStatus.SKIPPED, error_code=result.skipped_code, counters=result.counters,
                            warnings=result.warnings, details=result.details)
    return RecordFinish(status=RecordStatus.COMPLETED, counters=result.counters, warnings=result.warnings,
                        details=result.details, error_items=result.error_items)


def _internal(exc: BaseException) -> RecordFinish:
    # Exception text can carry driver messages with secrets; the type name is stored, the traceback is logged.
    return RecordFinish(status=RecordStatus.FAILED, error_code=INTERNAL_CODE, error_class=ErrorClass.INTERNAL.value,
                        error_message=f"unexpected {type(exc).__name__}")


async def _shielded(action: Awaitable[None]) -> None:
    """Run a final write even while the task is being cancelled; its own failure is logged, never raised."""
    try:
        await asyncio.shield(action)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("session.final_write_failed")

