"""Retention (operations.md §1.9, legacy defect 10): only eligible rows go, in bounded batches, never a running
session nor a session of a running pipeline run; pipeline runs, job fires and heartbeats follow their own cutoffs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from tests.fakes.sessions import SettableClock
from tests.support.stores import Store
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.retention import (
    SqlAlchemyHeartbeatPurger,
    SqlAlchemyJobFirePurger,
    SqlAlchemyPipelineRunPurger,
    SqlAlchemySessionPurger,
    SqliteCapacityRowPurger,
)
from whalefall.adapters.persistence.tables.capacity import instance_size_samples
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.tables.operations import (
    job_fires,
    pipeline_runs,
    pipeline_step_runs,
    process_heartbeats,
    scheduled_jobs,
)
from whalefall.adapters.persistence.tables.sessions import sync_records, sync_sessions
from whalefall.application.sessions.retention import PurgeBeforeCutoffs, PurgeExpiredRows
from whalefall.domain.partitions import PartitionedTable
from whalefall.domain.partitions.planner import retention_cutoff

NOW = datetime(2027, 3, 1, 5, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=120)
RECENT = NOW - timedelta(days=10)


@pytest.fixture
async def database(store: Store) -> AsyncIterator[Database]:
    database = Database(store.url)
    try:
        yield database
    finally:
        await database.dispose()


async def add_session(database: Database, *, status: str, finished_at: datetime | None, records: int,
                      pipeline_run_id: str | None = None) -> str:
    session_id = str(uuid.uuid4())
    async with database.engine.begin() as connection:
        await connection.execute(insert(sync_sessions).values(
            id=session_id, kind="connection_test", scope="targeted", trigger="manual", status=status,
            created_at=OLD - timedelta(hours=1), finished_at=finished_at, params={}, summary={},
            pipeline_run_id=pipeline_run_id, total=records))
        if records:
            await connection.execute(insert(sync_records), [
                {"session_id": session_id, "item_type": "batch", "item_key": f"k{n}",
                 "status": "running" if status == "running" else "completed", "counters": {}, "warnings": [],
                 "details": {}} for n in range(records)])
    return session_id


async def add_run(database: Database, *, status: str, finished_at: datetime | None, steps: int = 2) -> str:
    run_id = str(uuid.uuid4())
    async with database.engine.begin() as connection:
        await connection.execute(insert(pipeline_runs).values(
            id=run_id, pipeline_name=f"wf-h7-{run_id[:8]}", definition_revision=1, definition={},
            trigger="manual", status=status, created_at=OLD - timedelta(hours=1), finished_at=finished_at))
        await connection.execute(insert(pipeline_step_runs), [
            {"run_id": run_id, "step_name": f"s{n}", "level": 0, "status": "completed", "degraded": False}
            for n in range(steps)])
    return run_id


async def ids(database: Database, column: Any) -> set[str]:
    async with database.engine.connect() as connection:
        return {str(v) for v in (await connection.execute(select(column))).scalars()}


async def count(database: Database, table: Any, *where: Any) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


class CountingPurger:
    """Wraps a purger to see every batch's size."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.batches: list[int] = []

    async def delete_batch(self, cutoff: datetime, limit: int) -> int:
        deleted: int = await self.inner.delete_batch(cutoff, limit)
        self.batches.append(deleted)
        return deleted


def purge(purger: Any, days: float, batch_size: int) -> PurgeExpiredRows:
    return PurgeExpiredRows(purger, SettableClock(NOW), days, batch_size=batch_size)


async def test_sessions_only_eligible_ones_in_batches_never_running(database: Database) -> None:
    expired = [await add_session(database, status="completed", finished_at=OLD, records=4) for _ in range(2)]
    recent = await add_session(database, status="failed", finished_at=RECENT, records=2)
    running = await add_session(database, status="running", finished_at=None, records=3)
    live_run = await add_run(database, status="running", finished_at=None)
    of_live_run = await add_session(database, status="completed", finished_at=OLD, records=1,
                                    pipeline_run_id=live_run)
    counting = CountingPurger(SqlAlchemySessionPurger(database))

    outcome = await purge(counting, 90, batch_size=3).execute()

    assert await ids(database, sync_sessions.c.id) == {recent, running, of_live_run}
    assert await count(database, sync_records) == 2 + 3 + 1, "only the expired sessions' records went"
    assert (outcome.deleted, outcome.complete) == (8 + 2, True)
    assert max(counting.batches) <= 3, "no statement deleted more than the batch size"
    assert counting.batches == [3, 3, 3, 1], "records first (bounded), the rest of a batch for the sessions"
    assert not {*expired} & await ids(database, sync_records.c.session_id)


async def test_a_session_running_for_longer_than_the_retention_is_kept(database: Database) -> None:
    """A running session has no finished_at; even if a stale row had one, status running protects it."""
    kept = await add_session(database, status="running", finished_at=OLD, records=1)
    outcome = await purge(SqlAlchemySessionPurger(database), 90, batch_size=5000).execute()
    assert outcome.deleted == 0
    assert await ids(database, sync_sessions.c.id) == {kept}


async def test_pipeline_runs_with_their_step_runs(database: Database) -> None:
    expired = await add_run(database, status="completed", finished_at=OLD, steps=3)
    recent = await add_run(database, status="partial", finished_at=RECENT)
    running = await add_run(database, status="running", finished_at=None)
    outcome = await purge(SqlAlchemyPipelineRunPurger(database), 90, batch_size=2).execute()
    assert await ids(database, pipeline_runs.c.id) == {recent, running}
    assert await count(database, pipeline_step_runs, pipeline_step_runs.c.run_id == expired) == 0
    assert await count(database, pipeline_step_runs) == 4
    assert (outcome.deleted, outcome.batches) == (4, 2)


async def test_job_fires_and_heartbeats_follow_their_cutoffs(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(insert(scheduled_jobs).values(
            id="wf_h7_job", kind="retention_cleanup", name="h7", description="", cron="0 5 * * *", timezone="UTC",
            enabled=True, params={}, is_builtin=False, revision=1, updated_at=NOW, schedule_changed_at=NOW))
        await connection.execute(insert(job_fires), [
            {"job_id": "wf_h7_job", "scheduled_for": at, "fired_at": at, "leader_id": "l", "outcome": "fired"}
            for at in (NOW - timedelta(days=31), NOW - timedelta(days=45), NOW - timedelta(days=29))])
        await connection.execute(insert(process_heartbeats), [
            {"process_id": pid, "kind": "worker", "host": "h", "pid": 1, "version": "1", "started_at": seen,
             "last_seen_at": seen, "running_tasks": 0, "is_leader": False}
            for pid, seen in (("gone", NOW - timedelta(hours=25)), ("alive", NOW - timedelta(seconds=10)))])
    fires = await purge(SqlAlchemyJobFirePurger(database), 30, batch_size=5000).execute()
    beats = await purge(SqlAlchemyHeartbeatPurger(database), 1, batch_size=5000).execute()
    assert (fires.deleted, beats.deleted) == (2, 1)
    assert await ids(database, process_heartbeats.c.process_id) == {"alive"}
    assert await count(database, job_fires) == 1


@pytest.mark.parametrize("days", [0, -1])
async def test_zero_days_keeps_everything(database: Database, days: int) -> None:
    await add_session(database, status="completed", finished_at=OLD, records=1)
    outcome = await purge(SqlAlchemySessionPurger(database), days, batch_size=10).execute()
    assert (outcome.deleted, outcome.complete) == (0, True)
    assert await count(database, sync_sessions) == 1


async def test_capacity_samples_on_sqlite_go_below_the_partition_cutoff(database: Database, store: Store) -> None:
    if store.kind != "sqlite":
        pytest.skip("PostgreSQL drops partitions instead (capacity.md §8.3)")
    async with database.engine.begin() as connection:
        await connection.execute(insert(instances).values(
            name="wf-h7-cap", db_type="postgresql", host="cap.example", port=5432, is_active=True,
            created_at=NOW, updated_at=NOW, revision=1))
        instance_id = (await connection.execute(select(instances.c.id))).scalar_one()
        await connection.execute(insert(instance_size_samples), [
            {"instance_id": instance_id, "collected_on": day, "collected_at": NOW, "total_bytes": 1,
             "database_count": 1, "missing_database_count": 0}
            for day in (date(2024, 12, 31), date(2025, 1, 31), date(2025, 3, 1), date(2027, 2, 1))])
    table = PartitionedTable("instance_size_samples", 24)  # today 2027-03-01 → cutoff 2025-03-01
    outcome = await PurgeBeforeCutoffs(
        [(SqliteCapacityRowPurger(database, table.name),
          lambda now: datetime.combine(retention_cutoff(now.date(), table), time(0), tzinfo=UTC))],
        SettableClock(NOW), batch_size=1).execute()
    assert (outcome.deleted, outcome.batches, outcome.complete) == (2, 2, True)
    async with database.engine.connect() as connection:
        kept = sorted((await connection.execute(select(instance_size_samples.c.collected_on))).scalars())
    assert kept == [date(2025, 3, 1), date(2027, 2, 1)]
