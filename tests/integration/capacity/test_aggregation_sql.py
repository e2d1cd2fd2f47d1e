"""Set-based aggregation against the spec's worked examples, idempotency and statement counts (§6, §12, §13)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import event

from tests.integration.capacity.helpers import (
    add_instance,
    aggregate,
    insert_samples,
    raw_rows,
    stored_databases,
    stored_instances,
)
from whalefall.adapters.persistence.engine import Database
from whalefall.domain.capacity import DatabaseSample, InstanceSample, PeriodType, Trend, Window, period_window

WEEK = Window(PeriodType.WEEKLY, date(2027, 5, 10), date(2027, 5, 16))
TODAY = date(2027, 5, 19)


def _days(start: date, count: int) -> list[date]:
    return [start + timedelta(days=k) for k in range(count)]


async def test_e3_database_weekly_stats(database: Database) -> None:
    instance = await add_instance(database, "e3")
    current = [8_000_000_000, 8_200_000_000, 8_300_000_000, 8_350_000_000, 8_500_000_000, 8_600_000_000,
               8_810_000_000]
    previous = [7_800_000_000, 7_900_000_000, 7_950_000_000, 8_000_000_000, 8_050_000_000, 8_100_000_000,
                8_150_000_000]
    samples = [DatabaseSample(instance, "shop", day, size) for day, size in zip(_days(WEEK.start, 7), current,
                                                                                strict=True)]
    samples += [DatabaseSample(instance, "shop", day, size) for day, size in
                zip(_days(WEEK.start - timedelta(days=7), 7), previous, strict=True)]
    await insert_samples(database, samples, [])
    counts = await aggregate(database, [WEEK], today=TODAY)
    assert (counts.database_rows, counts.instance_rows) == (1, 0)
    [row] = await stored_databases(database)
    assert (row.sample_count, row.avg_bytes, row.min_bytes, row.max_bytes, row.last_bytes) == (
        7, 8_394_285_714, 8_000_000_000, 8_810_000_000, 8_810_000_000)
    assert (row.prev_avg_bytes, row.change_bytes, row.change_percent, row.trend) == (
        7_992_857_143, 401_428_571, Decimal("5.02"), Trend.GROWING)
    assert row.is_partial is False


async def test_e7_instance_weekly_stats_with_a_gap(database: Database) -> None:
    instance = await add_instance(database, "e7", created_at=datetime(2026, 2, 1, 9, tzinfo=UTC))
    rows = [(date(2027, 5, 10), 40_000_000_000, 12, 0), (date(2027, 5, 11), 40_250_000_000, 12, 0),
            (date(2027, 5, 12), 40_500_000_000, 13, 0), (date(2027, 5, 14), 41_000_000_000, 13, 0),
            (date(2027, 5, 15), 41_100_000_000, 13, 1), (date(2027, 5, 16), 41_350_000_000, 14, 0)]
    previous = [38_900_000_000, 39_000_000_000, 39_100_000_000, 39_300_000_000, 39_400_000_000, 39_600_000_000,
                39_800_000_000]
    samples = [InstanceSample(instance, day, total, count, missing) for day, total, count, missing in rows]
    samples += [InstanceSample(instance, day, total, 12) for day, total in
                zip(_days(date(2027, 5, 3), 7), previous, strict=True)]
    await insert_samples(database, [], samples)
    await aggregate(database, [WEEK], today=TODAY)
    [row] = [r for r in await stored_instances(database) if r.window == WEEK]
    assert row.sample_count == 6
    assert (row.avg_total_bytes, row.min_total_bytes, row.max_total_bytes, row.last_total_bytes) == (
        40_700_000_000, 40_000_000_000, 41_350_000_000, 41_350_000_000)
    assert (row.avg_database_count, row.min_database_count, row.max_database_count, row.last_database_count) == (
        Decimal("12.83"), 12, 14, 14)
    assert (row.prev_avg_total_bytes, row.change_bytes, row.change_percent, row.trend) == (
        39_300_000_000, 1_400_000_000, Decimal("3.56"), Trend.STABLE)
    assert (row.prev_last_database_count, row.database_count_delta) == (12, 2)
    assert (row.expected_days, row.covered_days, row.is_complete) == (7, 5, False)


async def test_e6_new_database_without_baseline(database: Database) -> None:
    instance = await add_instance(database, "e6")
    await insert_samples(database, [DatabaseSample(instance, "new", day, size) for day, size in
                                    zip(_days(date(2027, 5, 14), 3), [4096, 4096, 8192], strict=True)], [])
    await aggregate(database, [WEEK], today=TODAY)
    [row] = await stored_databases(database)
    assert (row.avg_bytes, row.min_bytes, row.max_bytes, row.last_bytes) == (5461, 4096, 8192, 8192)
    assert (row.prev_avg_bytes, row.change_bytes, row.change_percent, row.trend) == (None, None, None, Trend.UNKNOWN)


async def test_baseline_falls_back_to_the_stored_non_partial_row(database: Database) -> None:
    instance = await add_instance(database, "fallback")
    previous = Window(PeriodType.WEEKLY, date(2027, 5, 3), date(2027, 5, 9))
    await insert_samples(database, [DatabaseSample(instance, "db", date(2027, 5, 5), 10_000)], [])
    await aggregate(database, [previous], today=TODAY)
    async with database.connect() as connection:  # retention removed the previous week's raw samples
        from sqlalchemy import text
        await connection.execute(text("DELETE FROM database_size_samples"))
        await connection.commit()
    await insert_samples(database, [DatabaseSample(instance, "db", date(2027, 5, 12), 10_501)], [])
    await aggregate(database, [WEEK], today=TODAY)
    row = next(r for r in await stored_databases(database) if r.window == WEEK)
    assert (row.prev_avg_bytes, row.change_bytes, row.change_percent, row.trend) == (
        10_000, 501, Decimal("5.01"), Trend.GROWING)


def _volatile(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("computed_at", "session_id")}


async def test_running_twice_yields_identical_rows(database: Database) -> None:
    """Defect 6: no skip path; a recomputation rewrites identical rows except computed_at/session_id."""
    instance = await add_instance(database, "twice")
    days = _days(date(2027, 4, 20), 30)
    await insert_samples(database, [DatabaseSample(instance, "a", d, 1000 + 7 * k) for k, d in enumerate(days)],
                         [InstanceSample(instance, d, 1000 + 7 * k, 1) for k, d in enumerate(days)])
    windows = [period_window(p, date(2027, 5, 10)) for p in PeriodType]
    await aggregate(database, windows, today=TODAY, session_id="first")
    first = (await raw_rows(database, "database_size_aggregations"), await raw_rows(database,
                                                                                  "instance_size_aggregations"))
    await aggregate(database, windows, today=TODAY, session_id="second",
                    computed_at=datetime(2031, 1, 1, tzinfo=UTC))
    second = (await raw_rows(database, "database_size_aggregations"), await raw_rows(database,
                                                                                   "instance_size_aggregations"))
    for before, after in zip(first, second, strict=True):
        assert sorted(map(str, map(_volatile, before))) == sorted(map(str, map(_volatile, after)))
        assert {r["session_id"] for r in after} == {"second"}
    assert len(first[0]) == 5 and len(first[1]) == 5


@contextmanager
def _statements(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", listener)


async def test_statement_count_does_not_depend_on_fleet_size(database: Database) -> None:
    """Defect 7: the same number of statements for 1 instance × 1 database and 6 instances × 5 databases."""
    windows = [period_window(p, date(2027, 5, 10)) for p in PeriodType]
    days = _days(date(2027, 5, 1), 15)
    counts = []
    for size, names in ((1, ["a"]), (6, ["a", "b", "c", "d", "e"])):
        ids = [await add_instance(database, f"fleet-{size}-{k}") for k in range(size)]
        await insert_samples(database, [DatabaseSample(i, n, d, 100) for i in ids for n in names for d in days],
                             [InstanceSample(i, d, 100 * len(names), len(names)) for i in ids for d in days])
        with _statements(database) as seen:
            await aggregate(database, windows, today=TODAY)
        counts.append(len([s for s in seen if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]))
    # tracking starts + one upsert per level (+ changes() per level on SQLite, + local work_mem on PostgreSQL)
    assert counts[0] == counts[1] == (5 if database.is_sqlite else 4)
