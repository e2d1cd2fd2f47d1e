"""Helpers of the capacity integration tests: instances, raw sample rows, one aggregation run, stored rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import delete, insert, select, text

from whalefall.adapters.persistence.capacity.aggregation import SqlAlchemyAggregationStore
from whalefall.adapters.persistence.capacity.reads import database_stats, instance_stats
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.capacity import (
    database_size_aggregations,
    database_size_samples,
    instance_size_aggregations,
    instance_size_samples,
)
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.capacity import AggregationCounts, AggregationRun
from whalefall.domain.capacity import (
    AggregationPolicy,
    DatabasePeriodStats,
    DatabaseSample,
    InstancePeriodStats,
    InstanceSample,
    Window,
)

STAMP = datetime(2030, 1, 1, tzinfo=UTC)
DEFAULT_POLICY = AggregationPolicy()


async def add_instance(database: Database, name: str, *, created_at: datetime = datetime(2020, 1, 1, tzinfo=UTC),
                       db_type: str = "postgresql", capacity_limit_bytes: int | None = None) -> int:
    async with database.connect() as connection:
        result = await connection.execute(insert(instances).values(
            name=name, db_type=db_type, host=f"{name}.example.com", port=5432, endpoint_database="",
            is_active=True, collect_table_sizes=False, capacity_limit_bytes=capacity_limit_bytes,
            created_at=created_at, updated_at=created_at, revision=1).returning(instances.c.id))
        instance_id = int(result.scalar_one())
        await connection.commit()
    return instance_id


async def insert_samples(database: Database, databases: Iterable[DatabaseSample],
                         instance_samples: Iterable[InstanceSample]) -> None:
    """Raw rows, written as given (the pure core treats both levels independently)."""
    db_rows = [{"instance_id": s.instance_id, "database_name": s.database_name, "collected_on": s.collected_on,
                "collected_at": STAMP, "size_bytes": s.size_bytes, "data_bytes": s.data_bytes,
                "log_bytes": s.log_bytes, "is_system": s.is_system} for s in databases]
    inst_rows = [{"instance_id": s.instance_id, "collected_on": s.collected_on, "collected_at": STAMP,
                  "total_bytes": s.total_bytes, "data_bytes": s.data_bytes, "log_bytes": s.log_bytes,
                  "database_count": s.database_count, "missing_database_count": s.missing_database_count}
                 for s in instance_samples]
    async with database.connect() as connection:
        if db_rows:
            await connection.execute(insert(database_size_samples), db_rows)
        if inst_rows:
            await connection.execute(insert(instance_size_samples), inst_rows)
        await connection.commit()


async def clear_capacity(database: Database) -> None:
    async with database.connect() as connection:
        for table in (database_size_aggregations, instance_size_aggregations, database_size_samples,
                      instance_size_samples, instances):
            await connection.execute(delete(table))
        await connection.commit()


async def aggregate(database: Database, windows: Iterable[Window], *, today: date, zone: tzinfo = UTC,
                    session_id: str | None = None, computed_at: datetime = STAMP,
                    policy: AggregationPolicy = DEFAULT_POLICY) -> AggregationCounts:
    uow = SqlAlchemyUnitOfWork(database)
    try:
        counts = await SqlAlchemyAggregationStore(uow).aggregate(AggregationRun(
            windows=tuple(windows), today=today, business_zone=zone, policy=policy, computed_at=computed_at,
            session_id=session_id))
        await uow.commit()
    finally:
        await uow.close()
    return counts


async def stored_databases(database: Database) -> list[DatabasePeriodStats]:
    async with database.connect() as connection:
        rows = (await connection.execute(select(database_size_aggregations).order_by(
            database_size_aggregations.c.period_start, database_size_aggregations.c.instance_id,
            database_size_aggregations.c.database_name))).mappings().all()
    return [database_stats(r) for r in rows]


async def stored_instances(database: Database) -> list[InstancePeriodStats]:
    async with database.connect() as connection:
        rows = (await connection.execute(select(instance_size_aggregations).order_by(
            instance_size_aggregations.c.period_start, instance_size_aggregations.c.instance_id))).mappings().all()
    return [instance_stats(r) for r in rows]


async def raw_rows(database: Database, table: str) -> list[dict[str, Any]]:
    async with database.connect() as connection:
        result = await connection.execute(text(f"SELECT * FROM {table}"))
        return [dict(r) for r in result.mappings()]
