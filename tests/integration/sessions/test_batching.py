"""Group-committed claims, finishes and cancel reads under concurrency: counters stay a recount, the session is
finalised exactly once, a bad request never fails or half-writes its batch, and claims of one batch keep the
one-running-record-per-instance rule (operations §1.3-1.4)."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import text

from tests.fakes.sessions import ScriptedWork
from tests.integration.sessions.harness import Harness
from tests.integration.sessions.test_finalised_listeners import listen
from whalefall.application.ports.sessions import RecordFinish, SessionView
from whalefall.application.sessions.batching import RecordClaimer, RecordFinisher
from whalefall.application.sessions.claims import Claimed, ClaimRequest, SkippedAtClaim
from whalefall.application.sessions.run_record import RunOutcome
from whalefall.application.sessions.transitions import FinishReceipt, FinishRequest
from whalefall.application.sessions.work import RecordContext, RecordResult
from whalefall.domain.errors import InvalidStateError
from whalefall.domain.sessions.records import RecordErrorCode, RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus

RECORDS = 40


async def recount(harness: Harness, session_id: str) -> Counter[str]:
    async with harness.database.connect() as connection:
        rows = await connection.execute(text("SELECT status FROM sync_records WHERE session_id = :s"),
                                        {"s": session_id})
        return Counter(str(row[0]) for row in rows)


def counters_of(view: SessionView) -> dict[str, int]:
    return {"pending": view.pending, "running": view.running, "completed": view.succeeded,
            "failed": view.failed, "skipped": view.skipped, "cancelled": view.cancelled}


async def _yield_then_complete(_context: RecordContext) -> RecordResult:
    await asyncio.sleep(0)
    return RecordResult(counters={"items": 1})


async def test_concurrent_runs_share_transactions_and_finalise_once(harness: Harness) -> None:
    seen = listen(harness)
    session = await harness.open(items=RECORDS)
    records = await harness.records(session.id)
    outcomes = await asyncio.gather(*(harness.run(r.id, ScriptedWork(_yield_then_complete), worker_id=f"w:{n}")
                                      for n, r in enumerate(records)))
    assert outcomes == [RunOutcome.COMPLETED] * RECORDS
    final = await harness.session(session.id)
    assert (final.status, final.total, final.succeeded) == (SessionStatus.COMPLETED, RECORDS, RECORDS)
    assert [s.id for s in seen.sessions] == [session.id], "finalised and notified exactly once"
    assert harness.claimer is not None and harness.finisher is not None
    assert harness.claimer.flushes < RECORDS and harness.finisher.flushes < RECORDS, "transitions were batched"


async def test_counters_equal_a_recount_when_cancel_races_with_batched_finishes(harness: Harness) -> None:
    session = await harness.open(items=RECORDS)
    records = await harness.records(session.id)
    started = asyncio.Event()

    async def slow(_context: RecordContext) -> RecordResult:
        started.set()
        await asyncio.sleep(0.05)
        return RecordResult()

    runs = [asyncio.create_task(harness.run(r.id, ScriptedWork(slow), worker_id=f"w:{n}"))
            for n, r in enumerate(records[: RECORDS // 2])]
    await started.wait()
    async with harness.unit() as (store, uow):
        await store.request_cancel(session.id, by=None, now=harness.clock.now())
        await uow.commit()
    await asyncio.gather(*runs)
    late = await asyncio.gather(*(harness.run(r.id, ScriptedWork()) for r in records[RECORDS // 2:]))
    assert set(late) == {RunOutcome.IGNORED}, "claims refuse records of a cancel-requested session"
    final = await harness.session(session.id)
    counts = await recount(harness, session.id)
    assert final.status is SessionStatus.CANCELLED
    assert counters_of(final) == {k: counts.get(k, 0) for k in counters_of(final)}
    assert final.total == sum(counts.values()) == RECORDS


async def test_a_bad_request_fails_alone_and_its_batch_is_written(harness: Harness) -> None:
    session = await harness.open(items=3)
    records = await harness.records(session.id)
    async with harness.unit() as (store, uow):
        for record in records:
            await store.claim(record.id, worker_id="w", lease_ttl_s=60, now=harness.clock.now())
        await uow.commit()
    finisher = RecordFinisher(harness.transactions, harness.clock)
    done = FinishRequest(record_id=records[0].id, worker_id="w", outcome=RecordFinish(status=RecordStatus.COMPLETED))
    # pending → completed is not a §1.3 transition: that request fails, the batch is retried one by one.
    bad = FinishRequest(record_id=records[1].id, from_status=RecordStatus.PENDING,
                        outcome=RecordFinish(status=RecordStatus.COMPLETED))
    stale = FinishRequest(record_id=records[2].id, worker_id="someone-else",
                          outcome=RecordFinish(status=RecordStatus.FAILED))
    results = await asyncio.gather(*(finisher.finish(r) for r in (done, bad, stale)), return_exceptions=True)
    assert results[0] == FinishReceipt(changed=True, finalised=False, session_id=session.id)
    assert isinstance(results[1], InvalidStateError)
    assert results[2] == FinishReceipt(changed=False)
    statuses = [(await harness.record(r.id)).status for r in records]
    assert statuses == [RecordStatus.COMPLETED, RecordStatus.RUNNING, RecordStatus.RUNNING]
    view = await harness.session(session.id)
    assert (view.running, view.succeeded, view.status) == (2, 1, SessionStatus.RUNNING)


async def test_one_claim_batch_keeps_one_running_record_per_instance_and_ignores_repeats(harness: Harness) -> None:
    instance = await harness.add_instance("shared")
    first = await harness.open(SessionKind.CONNECTION_TEST, instance_ids=[instance], scope=SessionScope.TARGETED)
    second = await harness.open(SessionKind.CONNECTION_TEST, instance_ids=[instance], scope=SessionScope.TARGETED)
    [a], [b] = await harness.records(first.id), await harness.records(second.id)
    claimer = RecordClaimer(harness.transactions, harness.clock)
    requests = [ClaimRequest(record_id=r, worker_id="w", lease_ttl_s=60) for r in (a.id, b.id, a.id)]
    outcomes = await asyncio.gather(*(claimer.claim(r) for r in requests))
    assert claimer.flushes == 1
    assert isinstance(outcomes[0], Claimed) and outcomes[2] is None
    assert outcomes[1] == SkippedAtClaim(second.id, finalised=True)
    skipped = await harness.record(b.id)
    assert (skipped.status, skipped.error_code, skipped.details) == (
        RecordStatus.SKIPPED, RecordErrorCode.ALREADY_RUNNING.value, {"session_id": first.id})
    assert (await harness.session(first.id)).running == 1
    assert (await harness.session(second.id)).status is SessionStatus.COMPLETED
