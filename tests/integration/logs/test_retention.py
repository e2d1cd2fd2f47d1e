"""Retention of unified logs and audit events (operations.md §1.9, defect 10): only older rows, in batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from whalefall.adapters.persistence.audit import SqlAlchemyAuditPurger
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.logs import SqlAlchemyLogPurger, SqlAlchemyLogWriter
from whalefall.adapters.persistence.tables.audit import audit_events
from whalefall.adapters.persistence.tables.logs import unified_logs
from whalefall.application.audit.purge_audit_events import PurgeExpiredAuditEvents
from whalefall.application.logs.purge_logs import MAX_BATCH, PurgeExpiredLogs
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.logs import ExpiredRowPurger

NOW = datetime(2027, 5, 19, 3, 0, tzinfo=UTC)


class FixedClock(Clock):
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


class RecordingPurger(ExpiredRowPurger):
    """Wraps the real purger and keeps the limit and result of every batch."""

    def __init__(self, inner: ExpiredRowPurger) -> None:
        self.inner = inner
        self.batches: list[tuple[int, int]] = []

    async def delete_batch(self, cutoff: datetime, limit: int) -> int:
        deleted = await self.inner.delete_batch(cutoff, limit)
        self.batches.append((limit, deleted))
        return deleted


async def seed_logs(database: Database, ages_days: list[float]) -> None:
    await SqlAlchemyLogWriter(database).write_batch([
        {"ts": (NOW - timedelta(days=age)).isoformat(), "level": "INFO", "logger": "whalefall.x", "module": "system",
         "event": "test.retention", "message": f"{age}", "process": "worker", "host": "h", "pid": 1,
         "context": {}} for age in ages_days])


async def remaining(database: Database, table: str) -> list[str]:
    async with database.connect() as connection:
        if table == "logs":
            rows = await connection.execute(select(unified_logs.c.message).order_by(unified_logs.c.id))
        else:
            rows = await connection.execute(select(audit_events.c.action).order_by(audit_events.c.id))
        return [str(row[0]) for row in rows]


async def test_log_retention_deletes_only_older_rows_in_batches(database: Database) -> None:
    await seed_logs(database, [40, 31, 30.5, 29.9, 1, 35, 60, 0])
    purger = RecordingPurger(SqlAlchemyLogPurger(database))
    outcome = await PurgeExpiredLogs(purger, FixedClock(NOW), days=30, batch_size=2).execute()
    assert outcome.deleted == 5 and outcome.complete
    assert purger.batches == [(2, 2), (2, 2), (2, 1)]
    assert await remaining(database, "logs") == ["29.9", "1", "0"]
    again = await PurgeExpiredLogs(purger, FixedClock(NOW), days=30).execute()
    assert again.deleted == 0


async def test_batches_never_exceed_5000_rows(database: Database) -> None:
    await seed_logs(database, [90.0] * 3)
    purger = RecordingPurger(SqlAlchemyLogPurger(database))
    await PurgeExpiredLogs(purger, FixedClock(NOW), days=30, batch_size=50_000).execute()
    assert {limit for limit, _ in purger.batches} == {MAX_BATCH}


async def test_the_runtime_bound_stops_between_batches(database: Database) -> None:
    await seed_logs(database, [90.0] * 5)
    clock = FixedClock(NOW)

    class SlowPurger(RecordingPurger):
        async def delete_batch(self, cutoff: datetime, limit: int) -> int:
            clock.at += timedelta(seconds=10)
            return await super().delete_batch(cutoff, limit)

    outcome = await PurgeExpiredLogs(SlowPurger(SqlAlchemyLogPurger(database)), clock, days=30, batch_size=2,
                                     max_runtime_s=15).execute()
    assert (outcome.deleted, outcome.complete) == (4, False)


async def seed_audit(database: Database, ages_days: list[int]) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(insert(audit_events).values([
            {"ts": NOW - timedelta(days=age), "actor_type": "system", "actor_id": None, "actor_name": "system",
             "action": f"age.{age}", "outcome": "success", "changes": {}, "details": {}} for age in ages_days]))


async def test_audit_retention_keeps_recent_events_and_zero_keeps_all(database: Database) -> None:
    await seed_audit(database, [400, 366, 364, 10])
    kept = await PurgeExpiredAuditEvents(SqlAlchemyAuditPurger(database), FixedClock(NOW), days=0).execute()
    assert kept.deleted == 0
    assert len(await remaining(database, "audit")) == 4
    purger = RecordingPurger(SqlAlchemyAuditPurger(database))
    outcome = await PurgeExpiredAuditEvents(purger, FixedClock(NOW), days=365, batch_size=1).execute()
    assert outcome.deleted == 2 and purger.batches == [(1, 1), (1, 1), (1, 0)]
    assert await remaining(database, "audit") == ["age.364", "age.10"]
    async with database.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(audit_events))).scalar_one() == 2
