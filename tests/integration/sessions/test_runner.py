"""RunRecord on both dialects: claim rules, retries (O2), cancellation, fencing, lease loss, every failure class."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest

from tests.fakes.sessions import ScriptedWork
from tests.integration.sessions.harness import Harness, SleepRecorder, quick_config
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.connectors import ConnectorError
from whalefall.application.sessions.run_record import RunOutcome
from whalefall.application.sessions.work import RecordContext, RecordResult
from whalefall.domain.sessions.backoff import ErrorClass
from whalefall.domain.sessions.records import RecordErrorCode, RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus

SYNC = SessionKind.ACCOUNTS_SYNC


async def wait_running(harness: Harness, record_id: int) -> None:
    for _ in range(500):
        if (await harness.record(record_id)).status is RecordStatus.RUNNING:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the record was never claimed")


async def test_a_record_completes_and_the_session_with_it(harness: Harness) -> None:
    instance = await harness.add_instance("alpha")
    session = await harness.open(SYNC, instance_ids=[instance])
    [record] = await harness.records(session.id)
    assert harness.queue.enqueued == [record.id]
    assert await harness.run(record.id, ScriptedWork(), SYNC) is RunOutcome.COMPLETED
    stored = await harness.record(record.id)
    assert (stored.status, stored.attempt, stored.counters) == (RecordStatus.COMPLETED, 1, {"items": 1})
    final = await harness.session(session.id)
    assert final.status is SessionStatus.COMPLETED and final.started_at is not None
    assert await harness.run(record.id, ScriptedWork(), SYNC) is RunOutcome.IGNORED


async def test_unknown_and_duplicate_deliveries_are_ignored(harness: Harness) -> None:
    work = ScriptedWork()
    assert await harness.run(999_999, work) is RunOutcome.IGNORED
    assert work.calls == []


@pytest.mark.parametrize(("active", "deleted", "kind", "expected"), [
    (False, False, SYNC, RecordErrorCode.INSTANCE_INACTIVE),
    (True, True, SYNC, RecordErrorCode.INSTANCE_DELETED),
    (False, False, SessionKind.CONNECTION_TEST, None),
])
async def test_claim_skips_by_instance_state(harness: Harness, active: bool, deleted: bool, kind: SessionKind,
                                             expected: RecordErrorCode | None) -> None:
    instance = await harness.add_instance("beta", active=active, deleted=deleted)
    session = await harness.open(kind, instance_ids=[instance])
    [record] = await harness.records(session.id)
    work = ScriptedWork()
    outcome = await harness.run(record.id, work, kind)
    stored = await harness.record(record.id)
    if expected is None:
        assert outcome is RunOutcome.COMPLETED and work.calls == [str(instance)]
    else:
        assert outcome is RunOutcome.SKIPPED and work.calls == []
        assert (stored.status, stored.error_code) == (RecordStatus.SKIPPED, expected.value)
        assert (await harness.session(session.id)).status is SessionStatus.COMPLETED


async def test_targeted_record_is_skipped_while_the_fleet_run_holds_the_instance(harness: Harness) -> None:
    instance = await harness.add_instance("gamma")
    fleet = await harness.open(SYNC, instance_ids=[instance], scope=SessionScope.FLEET)
    [fleet_record] = await harness.records(fleet.id)
    async with harness.unit() as (store, uow):
        await store.claim(fleet_record.id, worker_id="other", lease_ttl_s=60, now=harness.clock.now())
        await uow.commit()
    targeted = await harness.open(SYNC, instance_ids=[instance])
    [record] = await harness.records(targeted.id)
    assert await harness.run(record.id, ScriptedWork(), SYNC) is RunOutcome.SKIPPED
    stored = await harness.record(record.id)
    assert stored.error_code == RecordErrorCode.ALREADY_RUNNING.value
    assert stored.details == {"session_id": fleet.id}


async def test_cancel_marks_pending_cancelled_and_no_worker_starts_them(harness: Harness) -> None:
    session = await harness.open(items=3)
    first, *rest = await harness.records(session.id)
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(context: RecordContext) -> RecordResult:
        started.set()
        await release.wait()
        await context.check_cancel()
        return RecordResult()

    running = asyncio.create_task(harness.run(first.id, ScriptedWork(slow)))
    await started.wait()
    async with harness.unit() as (store, uow):
        view = await store.request_cancel(session.id, by=None, now=harness.clock.now())
        await uow.commit()
    assert (view.status, view.cancelled, view.running) == (SessionStatus.RUNNING, 2, 1)
    work = ScriptedWork()
    for record in rest:
        assert await harness.run(record.id, work) is RunOutcome.IGNORED
    assert work.calls == []
    release.set()
    assert await running is RunOutcome.CANCELLED
    final = await harness.session(session.id)
    assert (final.status, final.cancelled) == (SessionStatus.CANCELLED, 3)


async def test_auth_failed_is_not_retried(harness: Harness) -> None:
    instance = await harness.add_instance("delta")
    session = await harness.open(SYNC, instance_ids=[instance])
    [record] = await harness.records(session.id)

    async def refuse(_context: RecordContext) -> RecordResult:
        raise ConnectorError(ErrorClass.AUTH_FAILED, "login failed")

    config = quick_config()
    assert await harness.run(record.id, ScriptedWork(refuse), SYNC, config=config) is RunOutcome.FAILED
    stored = await harness.record(record.id)
    assert (stored.attempt, stored.error_class, stored.error_code) == (1, "AUTH_FAILED", "AUTH_FAILED")
    assert isinstance(config.sleep, SleepRecorder) and config.sleep.delays == []


@pytest.mark.parametrize(("max_attempts", "delays"), [(3, [5, 10]), (5, [5, 10, 20, 40])])
async def test_unreachable_is_retried_with_the_o2_delays(harness: Harness, max_attempts: int,
                                                         delays: list[float]) -> None:
    instance = await harness.add_instance("epsilon")
    session = await harness.open(SYNC, instance_ids=[instance])
    [record] = await harness.records(session.id)

    async def unreachable(_context: RecordContext) -> RecordResult:
        raise ConnectorError(ErrorClass.UNREACHABLE, "no route to host")

    from whalefall.domain.sessions.backoff import RetryPolicy

    config = quick_config(retry=RetryPolicy(max_attempts=max_attempts, base_delay_s=5, factor=2, max_delay_s=60))
    work = ScriptedWork(unreachable)
    assert await harness.run(record.id, work, SYNC, config=config) is RunOutcome.FAILED
    assert isinstance(config.sleep, SleepRecorder) and config.sleep.delays == delays
    stored = await harness.record(record.id)
    assert (stored.attempt, stored.error_class, len(work.calls)) == (max_attempts, "UNREACHABLE", max_attempts)


async def test_a_transient_failure_then_success_completes(harness: Harness) -> None:
    instance = await harness.add_instance("zeta")
    session = await harness.open(SYNC, instance_ids=[instance])
    [record] = await harness.records(session.id)
    failures = [ConnectorError(ErrorClass.TIMEOUT)]

    async def flaky(context: RecordContext) -> RecordResult:
        if failures:
            raise failures.pop()
        await context.fence()
        return RecordResult()

    assert await harness.run(record.id, ScriptedWork(flaky), SYNC) is RunOutcome.COMPLETED
    assert (await harness.record(record.id)).attempt == 2


async def test_kinds_without_transient_retries_fail_at_once(harness: Harness) -> None:
    session = await harness.open(SessionKind.CONNECTION_TEST, items=1)
    [record] = await harness.records(session.id)

    async def unreachable(_context: RecordContext) -> RecordResult:
        raise ConnectorError(ErrorClass.UNREACHABLE)

    assert await harness.run(record.id, ScriptedWork(unreachable)) is RunOutcome.FAILED
    assert (await harness.record(record.id)).attempt == 1


async def test_cancel_during_backoff_ends_cancelled(harness: Harness) -> None:
    instance = await harness.add_instance("eta")
    session = await harness.open(SYNC, instance_ids=[instance])
    [record] = await harness.records(session.id)

    async def unreachable(_context: RecordContext) -> RecordResult:
        raise ConnectorError(ErrorClass.UNREACHABLE)

    async def sleep_then_cancel(_seconds: float) -> None:
        async with harness.unit() as (store, uow):
            await store.request_cancel(session.id, by=None, now=harness.clock.now())
            await uow.commit()

    work = ScriptedWork(unreachable)
    outcome = await harness.run(record.id, work, SYNC, config=quick_config(sleep=sleep_then_cancel))
    assert outcome is RunOutcome.CANCELLED and len(work.calls) == 1
    assert (await harness.session(session.id)).status is SessionStatus.CANCELLED


class DriverError(Exception):
    """Looks like a DBAPI error escaping a connector that forgot to translate it."""


async def _fence_then_commit_fails(context: RecordContext) -> RecordResult:
    await context.fence()
    with mock.patch.object(SqlAlchemyUnitOfWork, "commit", side_effect=DriverError("commit failed")):
        raise DriverError("commit failed")


@pytest.mark.parametrize("failure", ["driver", "attribute", "timeout", "deadline", "commit"])
async def test_every_exception_class_fails_the_record_and_the_batch_goes_on(harness: Harness, failure: str) -> None:
    session = await harness.open(items=2)
    broken, healthy = await harness.records(session.id)

    async def explode(context: RecordContext) -> RecordResult:
        if context.record.id != broken.id:
            return RecordResult()
        if failure == "driver":
            raise DriverError("server closed the connection unexpectedly")
        if failure == "attribute":
            return None.missing  # type: ignore[attr-defined,no-any-return]
        if failure == "timeout":
            raise TimeoutError
        if failure == "deadline":
            await asyncio.sleep(5)
        return await _fence_then_commit_fails(context)

    work = ScriptedWork(explode)
    config = quick_config(instance_deadline_s=0.2)
    assert await harness.run(broken.id, work, config=config) is RunOutcome.FAILED
    assert await harness.run(healthy.id, work, config=config) is RunOutcome.COMPLETED
    stored = await harness.record(broken.id)
    assert stored.status is RecordStatus.FAILED and stored.finished_at is not None
    assert stored.error_code in ("INTERNAL", "DEADLINE_EXCEEDED")
    assert (await harness.session(session.id)).status is SessionStatus.PARTIAL


async def test_a_worker_that_lost_its_lease_cannot_commit(harness: Harness) -> None:
    session = await harness.open(items=1)
    [record] = await harness.records(session.id)
    reaped = asyncio.Event()
    fenced: list[bool] = []

    async def frozen(context: RecordContext) -> RecordResult:
        await reaped.wait()
        await context.fence()
        fenced.append(True)
        return RecordResult()

    running = asyncio.create_task(harness.run(record.id, ScriptedWork(frozen)))
    await wait_running(harness, record.id)
    harness.clock.advance(120)
    assert (await harness.reap()).workers_lost == 1
    reaped.set()
    assert await running is RunOutcome.LEASE_LOST
    assert fenced == []
    stored = await harness.record(record.id)
    assert (stored.status, stored.error_code) == (RecordStatus.FAILED, RecordErrorCode.WORKER_LOST.value)


async def test_heartbeat_notices_a_lost_lease_and_stops_the_work(harness: Harness) -> None:
    session = await harness.open(items=1)
    [record] = await harness.records(session.id)
    stopped = asyncio.Event()

    async def endless(_context: RecordContext) -> RecordResult:
        try:
            await asyncio.sleep(30)
        finally:
            stopped.set()
        return RecordResult()

    running = asyncio.create_task(harness.run(record.id, ScriptedWork(endless),
                                              config=quick_config(heartbeat_interval_s=0.05)))
    await wait_running(harness, record.id)
    await harness.execute("UPDATE sync_records SET lease_owner = 'thief' WHERE id = :i", i=record.id)
    assert await asyncio.wait_for(running, 5) is RunOutcome.LEASE_LOST
    assert stopped.is_set()
    assert (await harness.record(record.id)).status is RecordStatus.RUNNING


async def test_shutdown_cancellation_releases_the_record(harness: Harness) -> None:
    session = await harness.open(items=1)
    [record] = await harness.records(session.id)

    async def endless(_context: RecordContext) -> RecordResult:
        await asyncio.sleep(30)
        return RecordResult()

    running = asyncio.create_task(harness.run(record.id, ScriptedWork(endless)))
    await wait_running(harness, record.id)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    stored = await harness.record(record.id)
    assert (stored.status, stored.attempt, stored.lease_owner) == (RecordStatus.PENDING, 1, None)
    assert (await harness.session(session.id)).pending == 1
