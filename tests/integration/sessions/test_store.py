"""SqlAlchemySessionStore on both dialects: finalisation (O1), status constraints, fleet lock, stale transitions."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from tests.integration.sessions.harness import Harness
from whalefall.application.ports.sessions import FleetLockHeldError, RecordFinish
from whalefall.domain.sessions.records import RecordErrorCode, RecordStatus
from whalefall.domain.sessions.sessions import SessionFinishedError, SessionKind, SessionScope, SessionStatus

C, F, S, X = RecordStatus.COMPLETED, RecordStatus.FAILED, RecordStatus.SKIPPED, RecordStatus.CANCELLED

O1 = [
    pytest.param([C] * 5, False, SessionStatus.COMPLETED, (5, 0, 0, 0), id="5-completed"),
    pytest.param([C, C, C, F, S], False, SessionStatus.PARTIAL, (3, 1, 1, 0), id="partial"),
    pytest.param([F, F, S, S, S], False, SessionStatus.FAILED, (0, 2, 3, 0), id="failed"),
    pytest.param([S] * 4, False, SessionStatus.COMPLETED, (0, 0, 4, 0), id="skips-are-not-successes"),
    pytest.param([C, C, X, X, X], True, SessionStatus.CANCELLED, (2, 0, 0, 3), id="cancelled"),
    pytest.param([], False, SessionStatus.COMPLETED, (0, 0, 0, 0), id="no-records"),
]


@pytest.mark.parametrize(("ends", "cancel", "expected", "counts"), O1)
async def test_o1_finalisation(harness: Harness, ends: list[RecordStatus], cancel: bool, expected: SessionStatus,
                               counts: tuple[int, int, int, int]) -> None:
    session = await harness.open(items=len(ends))
    records = await harness.records(session.id)
    worked = [r for r, end in zip(records, ends, strict=True) if end is not X]
    async with harness.unit() as (store, uow):
        for record in worked:
            assert await store.claim(record.id, worker_id="w", lease_ttl_s=60, now=harness.clock.now())
        await uow.commit()
        if cancel:
            assert (await store.request_cancel(session.id, by=None, now=harness.clock.now())).cancelled == 3
            await uow.commit()
        for record, end in zip(records, ends, strict=True):
            if end is not X:
                assert (await harness.session(session.id)).status is SessionStatus.RUNNING
                assert await store.finish(record.id, RecordFinish(status=end), now=harness.clock.now(),
                                          worker_id="w")
                await uow.commit()
    final = await harness.session(session.id)
    assert final.status is expected
    assert (final.succeeded, final.failed, final.skipped, final.cancelled) == counts
    assert final.total == len(ends) == final.succeeded + final.failed + final.skipped + final.cancelled
    assert final.pending == final.running == 0
    assert final.finished_at is not None


async def test_every_record_status_is_storable_and_nothing_else(harness: Harness) -> None:
    session = await harness.open(items=len(RecordStatus))
    records = await harness.records(session.id)
    for record, status in zip(records, RecordStatus, strict=True):
        await harness.execute("UPDATE sync_records SET status = :s WHERE id = :i", s=status.value, i=record.id)
    assert {r.status for r in await harness.records(session.id)} == set(RecordStatus)
    with pytest.raises(IntegrityError):
        await harness.execute("UPDATE sync_records SET status = 'done' WHERE id = :i", i=records[0].id)
    for session_status in SessionStatus:
        await harness.execute("UPDATE sync_sessions SET status = :s WHERE id = :i", s=session_status.value,
                              i=session.id)
    with pytest.raises(IntegrityError):
        await harness.execute("UPDATE sync_sessions SET status = 'stuck' WHERE id = :i", i=session.id)


async def test_second_fleet_session_is_refused_with_the_running_id(harness: Harness) -> None:
    first = await harness.open(SessionKind.ACCOUNTS_SYNC, items=1, scope=SessionScope.FLEET)
    with pytest.raises(FleetLockHeldError) as raised:
        await harness.open(SessionKind.ACCOUNTS_SYNC, items=1, scope=SessionScope.FLEET)
    assert raised.value.session_id == first.id
    assert raised.value.context == {"session_id": first.id}
    await harness.open(SessionKind.ACCOUNTS_SYNC, items=1, scope=SessionScope.TARGETED)
    await harness.open(SessionKind.CAPACITY_COLLECTION, items=1, scope=SessionScope.FLEET)
    async with harness.unit() as (store, uow):
        await store.request_cancel(first.id, by=None, now=harness.clock.now())
        await uow.commit()
    await harness.open(SessionKind.ACCOUNTS_SYNC, items=1, scope=SessionScope.FLEET)


async def test_fleet_lock_holds_at_the_index(harness: Harness) -> None:
    first = await harness.open(SessionKind.ACCOUNTS_SYNC, items=1, scope=SessionScope.FLEET)
    second = await harness.open(SessionKind.ACCOUNTS_SYNC, items=1, scope=SessionScope.TARGETED)
    with pytest.raises(IntegrityError):
        await harness.execute("UPDATE sync_sessions SET scope = 'fleet' WHERE id = :i", i=second.id)
    assert first.status is SessionStatus.RUNNING


async def test_cancel_of_a_terminal_session_is_refused(harness: Harness) -> None:
    session = await harness.open(items=0)
    async with harness.unit() as (store, _uow):
        with pytest.raises(SessionFinishedError):
            await store.request_cancel(session.id, by=None, now=harness.clock.now())


async def test_late_completion_after_the_reaper_is_stale(harness: Harness) -> None:
    session = await harness.open(items=1)
    [record] = await harness.records(session.id)
    async with harness.unit() as (store, uow):
        await store.claim(record.id, worker_id="frozen", lease_ttl_s=60, now=harness.clock.now())
        await uow.commit()
    harness.clock.advance(75)
    outcome = await harness.reap()
    assert outcome.workers_lost == 1
    async with harness.unit() as (store, uow):
        assert not await store.finish(record.id, RecordFinish(status=C), now=harness.clock.now(), worker_id="frozen")
        assert not await store.extend_lease(record.id, worker_id="frozen", lease_ttl_s=60, now=harness.clock.now())
        await uow.commit()
    stored = await harness.record(record.id)
    assert stored.status is F and stored.error_code == RecordErrorCode.WORKER_LOST.value
    assert stored.details["lease_owner"] == "frozen"
    assert (await harness.session(session.id)).status is SessionStatus.FAILED


async def test_details_and_messages_are_bounded(harness: Harness) -> None:
    session = await harness.open(items=1)
    [record] = await harness.records(session.id)
    async with harness.unit() as (store, uow):
        await store.claim(record.id, worker_id="w", lease_ttl_s=60, now=harness.clock.now())
        await store.finish(record.id, RecordFinish(
            status=F, error_message="x" * 10_000, details={"blob": "y" * 70_000},
            warnings=[{"code": "W", "message": str(n)} for n in range(80)]), now=harness.clock.now())
        await uow.commit()
    stored = await harness.record(record.id)
    assert len(stored.error_message or "") == 4000
    assert stored.details["truncated"] is True
    assert len(stored.warnings) == 50 and stored.warnings[-1]["code"] == "WARNINGS_TRUNCATED"
