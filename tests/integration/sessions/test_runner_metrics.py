"""RunRecord counts its terminal transitions, durations and retries (operations.md §9) on both dialects."""

from __future__ import annotations

from tests.fakes.sessions import MappingRecordWorks, ScriptedWork
from tests.integration.sessions.harness import Harness, quick_config
from whalefall.adapters.observability.metrics import MetricsRegistry, RegistryRecordMetrics
from whalefall.application.ports.connectors import ConnectorError
from whalefall.application.sessions.reap import ReaperConfig, ReapSessions
from whalefall.application.sessions.run_record import RunOutcome, RunRecord
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.domain.sessions.backoff import ErrorClass
from whalefall.domain.sessions.sessions import SessionKind

SYNC = SessionKind.ACCOUNTS_SYNC


async def run(harness: Harness, registry: MetricsRegistry, record_id: int, work: RecordWork,
              kind: SessionKind = SYNC) -> RunOutcome:
    async with harness.unit() as (store, uow):
        runner = RunRecord(store, uow, harness.transactions, MappingRecordWorks({kind: work}), harness.clock,
                           "test:1:w3", quick_config(), harness.finalised, harness.finisher, harness.claimer,
                           harness.cancel_watch, RegistryRecordMetrics(registry))
        return await runner.execute(record_id)


async def test_a_completed_record_is_counted_once_with_its_engine_duration(harness: Harness) -> None:
    registry = MetricsRegistry()
    instance = await harness.add_instance("wf_w3_alpha")
    session = await harness.open(SYNC, instance_ids=[instance])
    [record] = await harness.records(session.id)
    assert await run(harness, registry, record.id, ScriptedWork()) is RunOutcome.COMPLETED
    assert await run(harness, registry, record.id, ScriptedWork()) is RunOutcome.IGNORED
    text = registry.render()
    assert 'whalefall_records_finished_total{kind="accounts_sync",status="completed",error_class="none"} 1.0' in text
    assert 'whalefall_record_duration_seconds_count{kind="accounts_sync",db_type="postgresql"} 1.0' in text
    assert "whalefall_retries_total{" not in text


async def test_retries_and_the_final_failure_are_counted_by_error_class(harness: Harness) -> None:
    registry = MetricsRegistry()
    flaky_instance, dead_instance = await harness.add_instance("wf_w3_flaky"), await harness.add_instance("wf_w3_dead")
    session = await harness.open(SYNC, instance_ids=[flaky_instance, dead_instance])
    flaky_record, dead_record = await harness.records(session.id)
    failures = [ConnectorError(ErrorClass.TIMEOUT)]

    async def flaky(context: RecordContext) -> RecordResult:
        if failures:
            raise failures.pop()
        await context.fence()
        return RecordResult()

    async def refused(_context: RecordContext) -> RecordResult:
        raise ConnectorError(ErrorClass.AUTH_FAILED, "login failed")

    assert await run(harness, registry, flaky_record.id, ScriptedWork(flaky)) is RunOutcome.COMPLETED
    assert await run(harness, registry, dead_record.id, ScriptedWork(refused)) is RunOutcome.FAILED
    text = registry.render()
    assert 'whalefall_retries_total{kind="accounts_sync",error_class="TIMEOUT"} 1.0' in text
    assert 'error_class="AUTH_FAILED"} 1.0' in text
    assert ('whalefall_records_finished_total{kind="accounts_sync",status="failed",error_class="AUTH_FAILED"} 1.0'
            in text)
    assert 'whalefall_retries_total{kind="accounts_sync",error_class="AUTH_FAILED"}' not in text, \
        "AUTH_FAILED is not retried"
    assert 'whalefall_record_duration_seconds_count{kind="accounts_sync",db_type="postgresql"} 2.0' in text


async def test_skips_at_claim_count_without_duration_and_fleet_items_have_no_engine(harness: Harness) -> None:
    registry = MetricsRegistry()
    inactive = await harness.add_instance("wf_w3_inactive", active=False)
    session = await harness.open(SYNC, instance_ids=[inactive])
    [record] = await harness.records(session.id)
    assert await run(harness, registry, record.id, ScriptedWork()) is RunOutcome.SKIPPED
    fleet = await harness.open(SessionKind.CAPACITY_AGGREGATION, items=1)
    [item] = await harness.records(fleet.id)
    assert await run(harness, registry, item.id, ScriptedWork(), SessionKind.CAPACITY_AGGREGATION) \
        is RunOutcome.COMPLETED
    text = registry.render()
    assert 'whalefall_records_finished_total{kind="accounts_sync",status="skipped",error_class="none"} 1.0' in text
    assert 'whalefall_record_duration_seconds_count{kind="accounts_sync"' not in text
    assert 'whalefall_record_duration_seconds_count{kind="capacity_aggregation",db_type="none"} 1.0' in text


async def test_records_failed_by_the_reaper_are_counted_once(harness: Harness) -> None:
    registry = MetricsRegistry()
    session = await harness.open(items=1)
    [record] = await harness.records(session.id)
    async with harness.unit() as (store, uow):
        await store.claim(record.id, worker_id="killed", lease_ttl_s=60, now=harness.clock.now())
        await uow.commit()
    harness.clock.advance(75)
    for expected_lost in (1, 0):  # a second pass finds nothing more to fail
        async with harness.unit() as (store, uow):
            outcome = await ReapSessions(store, harness.queue, uow, harness.clock, ReaperConfig(),
                                         metrics=RegistryRecordMetrics(registry)).execute()
        assert outcome.workers_lost == expected_lost
    text = registry.render()
    assert 'whalefall_records_finished_total{kind="connection_test",status="failed",error_class="none"} 1.0' in text
    assert "whalefall_record_duration_seconds_count{" not in text, "the reaper does not know how long it ran"
