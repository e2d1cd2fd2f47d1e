"""Partition maintenance on PostgreSQL (capacity.md §8, defects 19, 20, 21)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text

from tests.fakes.identity import FixedClock
from tests.integration.capacity.helpers import add_instance, insert_samples
from tests.integration.partitions.conftest import FROZEN_TODAY
from whalefall.adapters.persistence.capacity.writes import SqlAlchemyCapacityWriter
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.partitions import PostgresPartitionManager
from whalefall.adapters.persistence.tables.capacity import PARTITION_KEYS
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.capacity.config import CapacityConfig, default_partition_policy
from whalefall.application.capacity.write_daily_samples import WriteDailySamples
from whalefall.application.partitions.maintain_partitions import ApplyPartitionPlan, PartitionConfig, PlanPartitions
from whalefall.application.ports.capacity import DailyCollection
from whalefall.application.ports.partitions import PartitionKeyOutOfRangeError
from whalefall.application.shared.actor import Actor
from whalefall.domain.capacity import DatabaseSample
from whalefall.domain.partitions import PartitionedTable, PartitionPolicy, plan_partitions

pytestmark = pytest.mark.postgres
ADMIN = Actor.system("test")


def _clock(day: date) -> FixedClock:
    return FixedClock(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))


def _config(policy: PartitionPolicy | None = None, keys: dict[str, str] | None = None) -> PartitionConfig:
    return PartitionConfig(zone=ZoneInfo("UTC"), policy=policy or default_partition_policy(),
                           keys=keys or PARTITION_KEYS)


async def _rows(database: Database, sql: str, **params: Any) -> list[Any]:
    async with database.connect() as connection:
        return list((await connection.execute(text(sql), params)).all())


async def _write_day(database: Database, instance: int, day: date) -> None:
    uow = SqlAlchemyUnitOfWork(database)
    try:
        await WriteDailySamples(SqlAlchemyCapacityWriter(uow), _clock(FROZEN_TODAY), uow, CapacityConfig()).execute(
            DailyCollection(instance_id=instance, collected_on=day, collected_at=datetime(2027, 5, 19, tzinfo=UTC),
                            databases=(DatabaseSample(instance, "shop", day, 123),)))
    finally:
        await uow.close()


async def test_fresh_install_accepts_the_next_three_months_and_rejects_the_horizon(pg: Database) -> None:
    """Defect 19: no manual step before the first insert; far-future keys are refused before reaching DEFAULT."""
    instance = await add_instance(pg, "fresh")
    for day in (date(2027, 5, 19), date(2027, 6, 1), date(2027, 7, 15), date(2027, 8, 31)):
        await _write_day(pg, instance, day)
    placed = await _rows(pg, "SELECT tableoid::regclass::text, collected_on FROM database_size_samples "
                             "ORDER BY collected_on")
    assert [p[0] for p in placed] == ["database_size_samples_2027_05", "database_size_samples_2027_06",
                                      "database_size_samples_2027_07", "database_size_samples_2027_08"]
    with pytest.raises(PartitionKeyOutOfRangeError) as caught:
        await _write_day(pg, instance, date(2027, 9, 1))
    assert caught.value.code == "PARTITION_KEY_OUT_OF_RANGE"
    assert await _rows(pg, "SELECT count(*) FROM database_size_samples_default") == [(0,)]


async def test_apply_then_replan_is_empty(pg: Database) -> None:
    manager = PostgresPartitionManager(pg, keys=PARTITION_KEYS)
    later = date(2027, 6, 2)
    outcome = await ApplyPartitionPlan(manager, _clock(later), _config()).execute(ADMIN)
    assert outcome.plan is not None
    assert {(o.action, o.name) for o in outcome.report.outcomes} == {
        ("create", f"{t}_2027_09") for t in PARTITION_KEYS}
    assert all(o.ok for o in outcome.report.outcomes)
    replanned = await PlanPartitions(manager, _clock(later), _config()).execute(ADMIN)
    assert replanned.plan is not None and replanned.plan.is_empty


async def test_retention_drops_by_real_bounds_not_names(pg: Database) -> None:
    async with pg.connect() as connection:
        await connection.execute(text(
            "CREATE TABLE instance_size_samples_2099_01 PARTITION OF instance_size_samples "
            "FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')"))
        await connection.execute(text(
            "CREATE TABLE instance_size_samples_2024_02 PARTITION OF instance_size_samples "
            "FOR VALUES FROM ('2024-02-01') TO ('2024-02-15')"))
        await connection.commit()
    manager = PostgresPartitionManager(pg, keys=PARTITION_KEYS)
    plan = (await PlanPartitions(manager, _clock(FROZEN_TODAY), _config()).execute(ADMIN)).plan
    assert plan is not None
    assert [(d.name, d.lower, d.upper) for d in plan.drop] == [
        ("instance_size_samples_2099_01", date(2024, 1, 1), date(2024, 2, 1))]
    assert [i.partition.name for i in plan.ignored] == ["instance_size_samples_2024_02"]
    outcome = await ApplyPartitionPlan(manager, _clock(FROZEN_TODAY), _config()).execute(ADMIN)
    assert [(o.action, o.ok) for o in outcome.report.outcomes] == [("drop", True)]
    names = {p.name for p in await manager.existing()}
    assert "instance_size_samples_2099_01" not in names and "instance_size_samples_2024_02" in names


async def test_default_rows_move_into_a_created_month(pg: Database) -> None:
    instance = await add_instance(pg, "mover")
    await insert_samples(pg, [DatabaseSample(instance, "shop", date(2027, 10, 5), 77),
                              DatabaseSample(instance, "shop", date(2028, 3, 1), 88)], [])
    assert await _rows(pg, "SELECT count(*) FROM database_size_samples_default") == [(2,)]
    manager = PostgresPartitionManager(pg, keys={"database_size_samples": "collected_on"})
    policy = PartitionPolicy(tables=(PartitionedTable("database_size_samples", 24),), premake_months=3)
    outcome = await ApplyPartitionPlan(manager, _clock(date(2027, 7, 1)),
                                       _config(policy, {"database_size_samples": "collected_on"})).execute(ADMIN)
    moved = {o.name: o.moved_rows for o in outcome.report.outcomes}
    assert moved == {"database_size_samples_2027_09": 0, "database_size_samples_2027_10": 1}
    assert outcome.report.default_rows == {"database_size_samples": 1}
    placed = await _rows(pg, "SELECT tableoid::regclass::text, size_bytes FROM database_size_samples "
                             "ORDER BY collected_on")
    assert placed == [("database_size_samples_2027_10", 77), ("database_size_samples_default", 88)]
    indexes = await _rows(pg, "SELECT indexname FROM pg_indexes WHERE tablename = 'database_size_samples_2027_10'")
    assert len(indexes) == 2  # primary key and collected_on index attached from the parent


async def test_quoted_mixed_case_schema_and_parent(pg: Database) -> None:
    """Defect 20: identifiers are quoted by the dialect, never formatted in."""
    schema, parent = 'Odd"Schema', 'Mixed"Parent'
    async with pg.connect() as connection:
        await connection.execute(text('CREATE SCHEMA "Odd""Schema"'))
        await connection.execute(text('CREATE TABLE "Odd""Schema"."Mixed""Parent" (d date NOT NULL, v int) '
                                      "PARTITION BY RANGE (d)"))
        await connection.execute(text(
            'CREATE TABLE "Odd""Schema"."Mixed""Parent_2020_01" PARTITION OF "Odd""Schema"."Mixed""Parent" '
            "FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')"))
        await connection.commit()
    manager = PostgresPartitionManager(pg, keys={parent: "d"}, schema=schema)
    policy = PartitionPolicy(tables=(PartitionedTable(parent, 12),), premake_months=1)
    plan = plan_partitions(await manager.existing(), FROZEN_TODAY, policy)
    report = await manager.apply(plan)
    assert all(o.ok for o in report.outcomes), report
    names = sorted(p.name for p in await manager.existing())
    assert names == ['Mixed"Parent_2027_05', 'Mixed"Parent_2027_06', 'Mixed"Parent_default']
    assert plan_partitions(await manager.existing(), FROZEN_TODAY, policy).is_empty
    async with pg.connect() as connection:
        await connection.execute(text('INSERT INTO "Odd""Schema"."Mixed""Parent" VALUES (\'2027-06-03\', 1)'))
        await connection.commit()
    assert await _rows(pg, 'SELECT tableoid::regclass::text FROM "Odd""Schema"."Mixed""Parent"') == [
        ('"Odd""Schema"."Mixed""Parent_2027_06"',)]


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


async def test_listing_counts_only_default_children(pg: Database) -> None:
    """Defect 21: estimates from reltuples; the one exact count per table is its DEFAULT child."""
    manager = PostgresPartitionManager(pg, keys=PARTITION_KEYS)
    with _statements(pg) as seen:
        details = await manager.details()
    counts = [s for s in seen if "count(" in s.lower()]
    assert len(counts) == 4 and all("_default" in s for s in counts)
    assert {d.table for d in details if d.is_default and d.exact_rows == 0} == set(PARTITION_KEYS)
    assert all(d.exact_rows is None for d in details if not d.is_default)
