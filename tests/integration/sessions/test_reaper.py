"""The reaper (operations §1.6) and OpenSession's queue guard on both dialects."""

from __future__ import annotations

import pytest

from tests.integration.sessions.harness import Harness
from whalefall.application.errors import QueueUnavailableError
from whalefall.application.sessions.reap import ReaperConfig
from whalefall.domain.sessions.records import RecordErrorCode, RecordStatus
from whalefall.domain.sessions.sessions import SessionStatus


async def test_a_killed_worker_is_declared_lost_and_the_session_ends(harness: Harness) -> None:
    session = await harness.open(items=2)
    first, second = await harness.records(session.id)
    async with harness.unit() as (store, uow):
        await store.claim(first.id, worker_id="killed", lease_ttl_s=60, now=harness.clock.now())
        await store.claim(second.id, worker_id="alive", lease_ttl_s=60, now=harness.clock.now())
        await uow.commit()
    harness.clock.advance(65)
    assert (await harness.reap()).workers_lost == 0, "still within the grace period"
    async with harness.unit() as (store, uow):
        assert await store.extend_lease(second.id, worker_id="alive", lease_ttl_s=60, now=harness.clock.now())
        await uow.commit()
    harness.clock.advance(10)
    assert (await harness.reap()).workers_lost == 1
    lost = await harness.record(first.id)
    assert (lost.status, lost.error_code) == (RecordStatus.FAILED, RecordErrorCode.WORKER_LOST.value)
    assert lost.details["last_heartbeat_at"] is not None
    harness.clock.advance(200)
    assert (await harness.reap()).workers_lost == 1
    final = await harness.session(session.id)
    assert (final.status, final.failed, final.running) == (SessionStatus.FAILED, 2, 0)


async def test_stalled_pending_records_are_redispatched_then_given_up(harness: Harness) -> None:
    session = await harness.open(items=2)
    ids = [r.id for r in await harness.records(session.id)]
    harness.queue.enqueued.clear()
    config = ReaperConfig(stall_after_s=300, max_dispatches=3)
    assert (await harness.reap(config)).redispatched == 0
    for expected_count in (2, 3):
        harness.clock.advance(301)
        assert (await harness.reap(config)).redispatched == 2
        assert [r.dispatch_count for r in await harness.records(session.id)] == [expected_count] * 2
    assert harness.queue.enqueued == ids * 2
    harness.clock.advance(301)
    outcome = await harness.reap(config)
    assert (outcome.not_dispatched, outcome.redispatched) == (2, 0)
    records = await harness.records(session.id)
    assert {(r.status, r.error_code) for r in records} == {(RecordStatus.FAILED, "NOT_DISPATCHED")}
    assert (await harness.session(session.id)).status is SessionStatus.FAILED


async def test_a_recent_claim_keeps_a_session_from_being_stalled(harness: Harness) -> None:
    session = await harness.open(items=2)
    first, _second = await harness.records(session.id)
    harness.clock.advance(250)
    async with harness.unit() as (store, uow):
        await store.claim(first.id, worker_id="w", lease_ttl_s=600, now=harness.clock.now())
        await uow.commit()
    harness.clock.advance(100)
    assert (await harness.reap()).redispatched == 0


async def test_idle_running_sessions_are_finalised(harness: Harness) -> None:
    session = await harness.open(items=1)
    [record] = await harness.records(session.id)
    await harness.execute("UPDATE sync_records SET status = 'completed' WHERE id = :i", i=record.id)
    assert (await harness.reap()).finalised == 1
    assert (await harness.session(session.id)).status is SessionStatus.COMPLETED
    assert (await harness.reap()).finalised == 0


async def test_an_unreachable_broker_creates_nothing(harness: Harness) -> None:
    harness.queue.available = False
    with pytest.raises(QueueUnavailableError):
        await harness.open(items=3)
    harness.queue.available = True
    harness.queue.fail_enqueue = True
    with pytest.raises(QueueUnavailableError):
        await harness.open(items=3)
    async with harness.database.connect() as connection:
        from sqlalchemy import text

        counts = [(await connection.execute(text(f"SELECT count(*) FROM {t}"))).scalar()
                  for t in ("sync_sessions", "sync_records")]
    assert counts == [0, 0]
