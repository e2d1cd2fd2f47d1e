"""A daily backfill of more windows than `HASH_AGGREGATION_MAX_WINDOWS` (PostgreSQL then groups by sorting) equals
the pure reference row for row on both stores, gaps included: a day whose previous day has no sample gets no
in-statement baseline (`lag_start` is then not the previous window's start), and the stored-row fallback still
applies to the first window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.integration.capacity.helpers import (
    add_instance,
    aggregate,
    insert_samples,
    stored_databases,
    stored_instances,
)
from whalefall.adapters.persistence.capacity.aggregation import HASH_AGGREGATION_MAX_WINDOWS
from whalefall.adapters.persistence.engine import Database
from whalefall.domain.capacity import (
    AggregationPolicy,
    DatabasePeriodStats,
    DatabaseSample,
    InstancePeriodStats,
    InstanceSample,
    PeriodType,
    Window,
    period_window,
)
from whalefall.domain.capacity import aggregate as pure_aggregate

START = date(2027, 3, 1)
DAYS = HASH_AGGREGATION_MAX_WINDOWS + 6
TODAY = START + timedelta(days=DAYS + 3)


async def test_daily_backfill_with_gaps_equals_the_pure_reference(database: Database) -> None:
    first = await add_instance(database, "backfill-a")
    second = await add_instance(database, "backfill-b", created_at=datetime(2027, 3, 20, 10, tzinfo=UTC))
    days = [START + timedelta(days=k) for k in range(DAYS)]
    db_samples: list[DatabaseSample] = []
    inst_samples: list[InstanceSample] = []
    for k, day in enumerate(days):
        for instance, names in ((first, ("a", "b")), (second, ("a",))):
            if (k + instance) % 7 == 3:  # a gap: this instance was not collected that day
                continue
            for n, name in enumerate(names):
                size = 1_000_000 + 7_919 * k * (n + 1) + (k % 5) * 100_003
                db_samples.append(DatabaseSample(instance, name, day, size, None if k % 4 == 0 else size // 2,
                                                 size // 10 if k % 3 == 0 else None, k % 11 == 0))
            inst_samples.append(InstanceSample(instance, day, sum(s.size_bytes for s in db_samples[-len(names):]),
                                               len(names), 1 if k % 13 == 5 else 0))
    await insert_samples(database, db_samples, inst_samples)
    windows = [period_window(PeriodType.DAILY, day) for day in days]
    assert len(windows) > HASH_AGGREGATION_MAX_WINDOWS
    policy = AggregationPolicy()
    await aggregate(database, windows, today=TODAY, policy=policy)

    starts = {first: date(2020, 1, 1), second: date(2027, 3, 20)}
    expected_db: list[DatabasePeriodStats] = []
    expected_inst: list[InstancePeriodStats] = []
    for window in windows:
        result = pure_aggregate(window, db_samples, inst_samples, today=TODAY, previous_database_samples=db_samples,
                                previous_instance_samples=inst_samples, tracking_start=starts, policy=policy)
        expected_db += result.databases
        expected_inst += result.instances

    def db_key(r: DatabasePeriodStats) -> tuple[date, int, str]:
        return (r.window.start, r.instance_id, r.database_name)

    def inst_key(r: InstancePeriodStats) -> tuple[date, int]:
        return (r.window.start, r.instance_id)

    stored_db = await stored_databases(database)
    stored_inst = await stored_instances(database)
    assert sorted(stored_db, key=db_key) == sorted(expected_db, key=db_key)
    assert sorted(stored_inst, key=inst_key) == sorted(expected_inst, key=inst_key)
    # The data exercise every baseline path: in-statement previous day, none after a gap, none on the first day.
    baselines = {r.prev_avg_bytes is None for r in stored_db}
    assert baselines == {True, False}
    assert any(r.window == Window(PeriodType.DAILY, START, START) and r.prev_avg_bytes is None for r in stored_db)
    assert any(not r.is_complete for r in stored_inst) and any(r.is_complete for r in stored_inst)
