"""Benchmark of capacity.md §6: 5,000 databases × 365 daily samples, every period type's windows of the year
recomputed with the set-based aggregation. Prints ONE JSON object (seconds per period type and total, per store).

Target: PostgreSQL total ≤ 15 s. SQLite is reported without a target.

    uv run python bench/capacity_aggregation_bench.py [--skip-sqlite] [--skip-postgres] [--keep] [--reuse NAME]
        [--period daily ...]

PostgreSQL: a scratch database on WHALEFALL_TEST_PG_DSN (default postgres@127.0.0.1:5432), dropped afterwards unless
`--keep` (its name is then printed as `postgresql.database`); `--reuse NAME` aggregates an existing kept database
without generating samples again (its statistics tables are emptied first; it is never dropped). `--period` limits
the period types.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url

from whalefall.adapters.persistence.capacity.aggregation import SqlAlchemyAggregationStore
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.migrations.runner import upgrade
from whalefall.adapters.persistence.partitions import PostgresPartitionManager
from whalefall.adapters.persistence.tables.capacity import PARTITION_KEYS
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.capacity import AggregationRun
from whalefall.domain.capacity import AggregationPolicy, PeriodType, iter_windows
from whalefall.domain.partitions import PartitionedTable, PartitionPolicy, plan_partitions

INSTANCES = 100
DATABASES_PER_INSTANCE = 50
YEAR_START, YEAR_END = date(2025, 1, 1), date(2025, 12, 31)
TODAY = date(2026, 1, 2)

PG_GENERATE = [
    f"""INSERT INTO instances (name, db_type, host, port, endpoint_database, is_active, collect_table_sizes,
                               created_at, updated_at, revision)
        SELECT 'bench-' || i, 'postgresql', 'h' || i || '.example', 5432, '', true, false,
               '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 1
        FROM generate_series(1, {INSTANCES}) AS i""",
    f"""INSERT INTO database_size_samples (instance_id, database_name, collected_on, collected_at, size_bytes,
                                           data_bytes, is_system)
        SELECT i.id, 'db' || d, day::date, day + interval '2 hours',
               1000000000 + d * 1000003 + (day::date - DATE '{YEAR_START}') * (d + 1) * 3701,
               1000000000 + d * 1000003 + (day::date - DATE '{YEAR_START}') * (d + 1) * 3701, d = 1
        FROM instances i
        CROSS JOIN generate_series(1, {DATABASES_PER_INSTANCE}) AS d
        CROSS JOIN generate_series(DATE '{YEAR_START}', DATE '{YEAR_END}', interval '1 day') AS day""",
    """INSERT INTO instance_size_samples (instance_id, collected_on, collected_at, total_bytes, data_bytes,
                                          database_count, missing_database_count)
       SELECT instance_id, collected_on, min(collected_at), sum(size_bytes), sum(data_bytes), count(*),
              CASE WHEN extract(day FROM collected_on) = 13 THEN 1 ELSE 0 END
       FROM database_size_samples GROUP BY instance_id, collected_on""",
    "ANALYZE",
]

SQLITE_GENERATE = [
    f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {INSTANCES})
        INSERT INTO instances (name, db_type, host, port, endpoint_database, is_active, collect_table_sizes,
                               created_at, updated_at, revision)
        SELECT 'bench-' || i, 'postgresql', 'h' || i || '.example', 5432, '', 1, 0,
               '2024-01-01 00:00:00.000000', '2024-01-01 00:00:00.000000', 1 FROM n""",
    f"""WITH RECURSIVE days(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM days WHERE k < 364),
             dbs(d) AS (SELECT 1 UNION ALL SELECT d + 1 FROM dbs WHERE d < {DATABASES_PER_INSTANCE})
        INSERT INTO database_size_samples (instance_id, database_name, collected_on, collected_at, size_bytes,
                                           data_bytes, is_system)
        SELECT i.id, 'db' || d, date('{YEAR_START}', '+' || k || ' days'),
               date('{YEAR_START}', '+' || k || ' days') || ' 02:00:00.000000',
               1000000000 + d * 1000003 + k * (d + 1) * 3701, 1000000000 + d * 1000003 + k * (d + 1) * 3701, d = 1
        FROM instances i CROSS JOIN dbs CROSS JOIN days""",
    """INSERT INTO instance_size_samples (instance_id, collected_on, collected_at, total_bytes, data_bytes,
                                          database_count, missing_database_count)
       SELECT instance_id, collected_on, min(collected_at), sum(size_bytes), sum(data_bytes), count(*),
              CASE WHEN substr(collected_on, 9, 2) = '13' THEN 1 ELSE 0 END
       FROM database_size_samples GROUP BY instance_id, collected_on""",
    "ANALYZE",
]


async def _run(url: str, generate: list[str], *, partitions: bool,
               periods: tuple[PeriodType, ...] = tuple(PeriodType)) -> dict[str, Any]:
    database = Database(url)
    try:
        await upgrade(database)
        # Monthly children for the bench year, like a store that has run maintenance all along (a reused one has them).
        if partitions and generate:
            manager = PostgresPartitionManager(database, keys=PARTITION_KEYS)
            policy = PartitionPolicy(tables=tuple(PartitionedTable(t, 600) for t in PARTITION_KEYS),
                                     premake_months=12)
            await manager.apply(plan_partitions(await manager.existing(), YEAR_START, policy))
        started = time.perf_counter()
        async with database.connect() as connection:
            if not generate:  # a reused database: start from empty statistics like a fresh one
                await connection.execute(text("TRUNCATE database_size_aggregations, instance_size_aggregations"))
            for statement in generate:
                await connection.execute(text(statement))
            await connection.commit()
        result: dict[str, Any] = {"generate_s": round(time.perf_counter() - started, 2)}
        total = 0.0
        rows = 0
        for period in periods:
            windows = tuple(iter_windows(period, YEAR_START, YEAR_END))
            uow = SqlAlchemyUnitOfWork(database)
            started = time.perf_counter()
            try:
                counts = await SqlAlchemyAggregationStore(uow).aggregate(AggregationRun(
                    windows=windows, today=TODAY, business_zone=UTC, policy=AggregationPolicy(),
                    computed_at=datetime(2026, 1, 2, tzinfo=UTC), session_id=None))
                await uow.commit()
            finally:
                await uow.close()
            elapsed = time.perf_counter() - started
            total += elapsed
            rows += counts.database_rows + counts.instance_rows
            result[period.value] = round(elapsed, 2)
        result.update(total_s=round(total, 2), rows_written=rows)
        return result
    finally:
        await database.dispose()


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _postgres(periods: tuple[PeriodType, ...], *, keep: bool, reuse: str | None) -> dict[str, Any]:
    admin = os.environ.get("WHALEFALL_TEST_PG_DSN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = reuse or f"whalefall_bench_{uuid.uuid4().hex[:10]}"
    if reuse is None:
        with psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        result = await _run(url, [] if reuse else PG_GENERATE, partitions=True, periods=periods)
        result["target_total_s"] = 15
        result["meets_target"] = result["total_s"] <= 15
        result["database"] = name
        return result
    finally:
        if not keep and reuse is None:
            with psycopg.connect(_libpq(admin), autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def _sqlite(periods: tuple[PeriodType, ...]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        return await _run(f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}", SQLITE_GENERATE, partitions=False,
                          periods=periods)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL scratch database")
    parser.add_argument("--reuse", metavar="NAME", help="aggregate this kept PostgreSQL database again")
    parser.add_argument("--period", action="append", choices=[p.value for p in PeriodType],
                        help="period types to aggregate (repeatable; default all)")
    args = parser.parse_args()
    periods = tuple(PeriodType(p) for p in args.period) if args.period else tuple(PeriodType)
    report: dict[str, Any] = {"databases": INSTANCES * DATABASES_PER_INSTANCE, "instances": INSTANCES,
                              "days": (YEAR_END - YEAR_START).days + 1,
                              "windows": {p.value: len(list(iter_windows(p, YEAR_START, YEAR_END)))
                                          for p in PeriodType}}
    if not args.skip_postgres:
        report["postgresql"] = await _postgres(periods, keep=args.keep, reuse=args.reuse)
    if not args.skip_sqlite:
        report["sqlite"] = await _sqlite(periods)
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
