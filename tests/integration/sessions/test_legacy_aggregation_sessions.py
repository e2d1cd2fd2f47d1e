"""Capacity aggregation as session work on both stores (operations.md §12 defects 3, 4 and 6): the real
AggregateCapacity and aggregation store under the real runner, with a failure or a cancel injected into one period."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text

from tests.fakes.sessions import MappingRecordWorks
from tests.integration.sessions.harness import Harness, quick_config
from whalefall.adapters.persistence.capacity.aggregation import SqlAlchemyAggregationStore
from whalefall.application.capacity.aggregate_capacity import AggregateCapacity
from whalefall.application.capacity.config import CapacityConfig
from whalefall.application.ports.capacity import AggregationCounts, AggregationRun, AggregationStore
from whalefall.application.ports.sessions import NewRecord
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.sessions.run_record import RunOutcome, RunRecord
from whalefall.domain.capacity import PeriodType
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger

AGG = SessionKind.CAPACITY_AGGREGATION
Hook = Callable[[AggregationRun], Awaitable[None]]


class InjectedAggregationFailure(Exception):
    """Stands for a database error raised by one period type's aggregation statements."""


@dataclass
class HookedStore(AggregationStore):
    """The real aggregation store with `hook` run first for the windows of `period`."""

    real: SqlAlchemyAggregationStore
    period: PeriodType
    hook: Hook

    async def aggregate(self, run: AggregationRun) -> AggregationCounts:
        if run.windows[0].period is self.period:
            await self.hook(run)
        return await self.real.aggregate(run)


async def _run(harness: Harness, record_id: int, period: PeriodType, hook: Hook) -> RunOutcome:
    """Like `Harness.run`, but the work shares the runner's unit of work, as in the worker's request scope."""
    async with harness.unit() as (store, uow):
        aggregation = HookedStore(SqlAlchemyAggregationStore(uow), period, hook)
        work = AggregateCapacity(store=aggregation, clock=harness.clock, uow=uow, config=CapacityConfig())
        runner = RunRecord(store, uow, harness.transactions, MappingRecordWorks({AGG: work}), harness.clock,
                           "test:1:w1agg", quick_config(), harness.finalised, harness.finisher, harness.claimer,
                           harness.cancel_watch)
        return await runner.execute(record_id)


async def _open(harness: Harness, periods: list[PeriodType]) -> tuple[str, list[int]]:
    async with harness.unit() as (store, uow):
        view = await OpenSession(store, store, harness.queue, uow, harness.clock).execute(OpenSessionInput(
            kind=AGG, scope=SessionScope.FLEET, trigger=SessionTrigger.MANUAL,
            records=[NewRecord(item_type="period", item_key=p.value) for p in periods]))
    return view.id, [r.id for r in await harness.records(view.id)]


async def test_defect_6_a_failing_period_type_fails_its_record_and_the_session_is_partial(harness: Harness) -> None:
    """Operations defect 6: an injected failure for the weekly aggregation makes that record `failed` with its error
    code, the other period types complete, and the session ends `partial` (not `completed`)."""

    async def explode(_run: AggregationRun) -> None:
        raise InjectedAggregationFailure("weekly aggregation statement failed")

    session_id, records = await _open(harness, [PeriodType.DAILY, PeriodType.WEEKLY, PeriodType.MONTHLY])
    outcomes = [await _run(harness, record_id, PeriodType.WEEKLY, explode) for record_id in records]

    assert outcomes == [RunOutcome.COMPLETED, RunOutcome.FAILED, RunOutcome.COMPLETED]
    stored = {r.item_key: r for r in await harness.records(session_id)}
    assert stored["weekly"].status is RecordStatus.FAILED and stored["weekly"].error_code is not None
    assert stored["weekly"].finished_at is not None
    assert {stored["daily"].status, stored["monthly"].status} == {RecordStatus.COMPLETED}
    final = await harness.session(session_id)
    assert final.status is SessionStatus.PARTIAL and final.failed == 1


async def test_defect_6_the_only_period_type_failing_fails_the_session(harness: Harness) -> None:
    """Operations defect 6 (second half): when every record of the aggregation fails the session is `failed`."""

    async def explode(_run: AggregationRun) -> None:
        raise InjectedAggregationFailure("daily aggregation statement failed")

    session_id, [record] = await _open(harness, [PeriodType.DAILY])
    assert await _run(harness, record, PeriodType.DAILY, explode) is RunOutcome.FAILED
    assert (await harness.session(session_id)).status is SessionStatus.FAILED


async def test_defect_3_cancel_during_aggregation_ends_the_session_terminal(harness: Harness) -> None:
    """Operations defect 3: a cancel requested while the monthly aggregation statements run leaves the session
    `cancelled` (never `running`) and cancels the pending record. On PostgreSQL the cancel lands before the
    record's commit, so the record itself ends `cancelled`; SQLite serialises writers, so there the cancel waits for
    the aggregation's commit (record `completed`) and the session still ends `cancelled`."""
    session_id = ""
    cancelling: list[asyncio.Task[None]] = []

    async def cancel() -> None:
        async with harness.unit() as (store, uow):
            await store.request_cancel(session_id, by=None, now=harness.clock.now())
            await uow.commit()

    async def cancel_midway(_run: AggregationRun) -> None:
        cancelling.append(asyncio.create_task(cancel()))
        await asyncio.wait([cancelling[0]], timeout=1.0)

    session_id, [monthly, quarterly] = await _open(harness, [PeriodType.MONTHLY, PeriodType.QUARTERLY])
    outcome = await _run(harness, monthly, PeriodType.MONTHLY, cancel_midway)
    await cancelling[0]

    postgres = harness.database.engine.dialect.name == "postgresql"
    assert outcome is (RunOutcome.CANCELLED if postgres else RunOutcome.COMPLETED)
    assert await _run(harness, quarterly, PeriodType.MONTHLY, cancel_midway) is RunOutcome.IGNORED
    statuses = {r.item_key: r.status for r in await harness.records(session_id)}
    assert statuses == {"monthly": RecordStatus.CANCELLED if postgres else RecordStatus.COMPLETED,
                        "quarterly": RecordStatus.CANCELLED}
    final = await harness.session(session_id)
    assert final.status is SessionStatus.CANCELLED and final.finished_at is not None


async def test_defect_4_the_session_stays_running_until_the_last_data_commit(harness: Harness) -> None:
    """Operations defect 4: while the last record's aggregation statements run (fenced, not yet committed) the
    session is still `running` with that record open (observed from another connection on PostgreSQL); it turns
    terminal only after that record's commit, and not after the first of two records."""
    session_id = ""
    seen: list[tuple[str, int]] = []

    postgres = harness.database.engine.dialect.name == "postgresql"

    async def look(_run: AggregationRun) -> None:
        if not postgres:  # SQLite locks the file for the record's write transaction: nobody can look inside
            return
        async with harness.database.connect() as connection:
            status = (await connection.execute(text("SELECT status FROM sync_sessions WHERE id = :s"),
                                               {"s": session_id})).scalar_one()
            running = (await connection.execute(text(
                "SELECT count(*) FROM sync_records WHERE session_id = :s AND status = 'running'"),
                {"s": session_id})).scalar_one()
        seen.append((status, running))

    session_id, [daily, weekly] = await _open(harness, [PeriodType.DAILY, PeriodType.WEEKLY])
    assert await _run(harness, daily, PeriodType.WEEKLY, look) is RunOutcome.COMPLETED
    assert (await harness.session(session_id)).status is SessionStatus.RUNNING  # weekly still pending
    assert await _run(harness, weekly, PeriodType.WEEKLY, look) is RunOutcome.COMPLETED
    assert seen == ([("running", 1)] if postgres else [])
    assert (await harness.session(session_id)).status is SessionStatus.COMPLETED
