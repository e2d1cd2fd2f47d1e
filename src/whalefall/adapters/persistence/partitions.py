"""Partition managers: PostgreSQL monthly children read from the catalog and changed by a plan (capacity.md §8.2);
SQLite, which has no partitioning, answers "not supported"."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date
from functools import partial
from typing import Any, Final

from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.engine import Database
from whalefall.application.errors import AlreadyRunningError
from whalefall.application.ports.partitions import (
    ActionKind,
    ActionOutcome,
    ApplyReport,
    PartitionDetail,
    PartitionManager,
)
from whalefall.domain.partitions import ExistingPartition, PartitionPlan, PartitionSpec

LOCK_NOT_AVAILABLE: Final = "55P03"
#: Session-level advisory lock key of the maintenance run (an arbitrary constant: "wf partitions").
ADVISORY_LOCK_KEY: Final = 0x77660001
_RANGE: Final = re.compile(r"^FOR VALUES FROM \((.+)\) TO \((.+)\)$")
_CHILDREN: Final = text("""
    SELECT p.relname AS parent, c.relname AS child, pg_get_expr(c.relpartbound, c.oid) AS bound,
           c.reltuples AS reltuples, pg_total_relation_size(c.oid) AS total_bytes
    FROM pg_inherits i
    JOIN pg_class p ON p.oid = i.inhparent
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_namespace n ON n.oid = p.relnamespace
    WHERE n.nspname = :schema AND p.relname IN :parents
""").bindparams(bindparam("parents", expanding=True))
_CHILD: Final = text("""
    SELECT p.relname AS parent, pg_get_expr(c.relpartbound, c.oid) AS bound
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_inherits i ON i.inhrelid = c.oid
    JOIN pg_class p ON p.oid = i.inhparent
    WHERE n.nspname = :schema AND c.relname = :name
""")


def _bound_value(literal: str) -> date | None:
    """One side of a range bound as `pg_get_expr` prints it: `'2027-07-01'` or MINVALUE/MAXVALUE (None)."""
    value = literal.strip()
    if value.upper() in ("MINVALUE", "MAXVALUE"):
        return None
    return date.fromisoformat(value.strip("'"))


def _sql(statement: str) -> Any:
    """Literal SQL built from quoted identifiers: colons escaped so `text()` sees no bind parameter in a name."""
    return text(statement.replace(":", r"\:"))


def parse_bound(bound: str) -> tuple[date | None, date | None, bool]:
    """(lower, upper, is_default) from the catalog's partition bound expression."""
    if bound.strip().upper() == "DEFAULT":
        return None, None, True
    match = _RANGE.match(bound.strip())
    if match is None:
        raise ValueError(f"unsupported partition bound {bound!r}")
    return _bound_value(match.group(1)), _bound_value(match.group(2)), False


class PostgresPartitionManager(PartitionManager):
    """Children of `keys` (parent → RANGE key column) in `schema` (default: the connection's current schema).

    Every identifier is quoted by the dialect's identifier preparer; bounds are ISO literals of `date` values.
    """

    supported = True
    reason: str | None = None

    def __init__(self, database: Database, *, keys: Mapping[str, str], schema: str | None = None,
                 lock_timeout_s: float = 5.0, statement_timeout_s: float = 60.0,
                 retry_delays_s: Sequence[float] = (1.0, 2.0, 4.0),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._database = database
        self._keys = dict(keys)
        self._schema = schema
        self._lock_timeout_ms = int(lock_timeout_s * 1000)
        self._statement_timeout_ms = int(statement_timeout_s * 1000)
        self._delays = tuple(retry_delays_s)
        self._sleep = sleep

    async def _schema_of(self, connection: AsyncConnection) -> str:
        if self._schema is not None:
            return self._schema
        return str((await connection.execute(text("SELECT current_schema()"))).scalar_one())

    def _name(self, connection: AsyncConnection, schema: str, name: str) -> str:
        preparer = connection.dialect.identifier_preparer
        return f"{preparer.quote_schema(schema)}.{preparer.quote(name)}"

    async def _children(self, connection: AsyncConnection) -> list[tuple[ExistingPartition, Any, int]]:
        schema = await self._schema_of(connection)
        rows = await connection.execute(_CHILDREN, {"schema": schema, "parents": sorted(self._keys)})
        children = []
        for row in rows.mappings():
            lower, upper, is_default = parse_bound(row["bound"])
            children.append((ExistingPartition(row["parent"], row["child"], lower, upper, is_default),
                             row["reltuples"], int(row["total_bytes"])))
        return sorted(children, key=lambda c: (c[0].table, c[0].lower or date.min, c[0].name))

    async def existing(self) -> list[ExistingPartition]:
        async with self._database.connect() as connection:
            return [child for child, _rows, _size in await self._children(connection)]

    async def details(self) -> list[PartitionDetail]:
        async with self._database.connect() as connection:
            schema = await self._schema_of(connection)
            details = []
            for child, reltuples, size in await self._children(connection):
                exact = None
                if child.is_default:  # the only exact count: DEFAULT should stay empty (defect 21)
                    exact = int((await connection.execute(_sql(
                        f"SELECT count(*) FROM {self._name(connection, schema, child.name)}"))).scalar_one())
                estimate = None if reltuples is None or reltuples < 0 else int(reltuples)
                details.append(PartitionDetail(table=child.table, name=child.name, lower=child.lower,
                                               upper=child.upper, is_default=child.is_default,
                                               row_estimate=estimate, total_bytes=size, exact_rows=exact))
            return details

    async def apply(self, plan: PartitionPlan, *, tables: frozenset[str] | None = None,
                    drops_only: bool = False) -> ApplyReport:
        def wanted(table: str) -> bool:
            return table in self._keys and (tables is None or table in tables)

        async with self._database.connect() as connection:
            locked = (await connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                               {"key": ADVISORY_LOCK_KEY})).scalar_one()
            await connection.commit()
            if not locked:
                raise AlreadyRunningError("partition maintenance is already running")
            try:
                schema = await self._schema_of(connection)
                await connection.commit()
                outcomes: list[ActionOutcome] = []
                if not drops_only:
                    for table in filter(wanted, plan.create_default):
                        outcomes.append(await self._run(connection, "create_default", table, f"{table}_default",
                                                        partial(self._create_default, schema=schema, table=table)))
                    for spec in (s for s in plan.create if wanted(s.table)):
                        outcomes.append(await self._run(connection, "create", spec.table, spec.name,
                                                        partial(self._create, schema=schema, spec=spec)))
                for child in (d for d in plan.drop if wanted(d.table)):
                    outcomes.append(await self._run(connection, "drop", child.table, child.name,
                                                    partial(self._drop, schema=schema, planned=child)))
                defaults = {p.table: p.exact_rows or 0 for p in await self.details() if p.is_default}
                return ApplyReport(outcomes=tuple(outcomes), default_rows=defaults)
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                await connection.commit()

    async def _run(self, connection: AsyncConnection, action: ActionKind, table: str, name: str,
                   body: Callable[[AsyncConnection], Awaitable[tuple[int, str | None]]]) -> ActionOutcome:
        """One action in its own transaction with local lock/statement timeouts; lock timeouts are retried."""
        attempt = 0
        while True:
            attempt += 1
            try:
                async with connection.begin():
                    await connection.execute(text("SELECT set_config('lock_timeout', :v, true), "
                                                  "set_config('statement_timeout', :s, true)"),
                                             {"v": f"{self._lock_timeout_ms}ms",
                                              "s": f"{self._statement_timeout_ms}ms"})
                    moved, skipped = await body(connection)
                return ActionOutcome(action=action, table=table, name=name, ok=True, attempts=attempt,
                                     moved_rows=moved, skipped_reason=skipped)
            except DBAPIError as exc:
                sqlstate = getattr(exc.orig, "sqlstate", None)
                if sqlstate == LOCK_NOT_AVAILABLE and attempt <= len(self._delays):
                    await self._sleep(self._delays[attempt - 1])
                    continue
                return ActionOutcome(action=action, table=table, name=name, ok=False, attempts=attempt,
                                     error=f"{sqlstate or type(exc.orig).__name__}: {str(exc.orig).splitlines()[0]}")

    async def _create_default(self, connection: AsyncConnection, schema: str, table: str) -> tuple[int, str | None]:
        await connection.execute(_sql(
            f"CREATE TABLE IF NOT EXISTS {self._name(connection, schema, f'{table}_default')} "
            f"PARTITION OF {self._name(connection, schema, table)} DEFAULT"))
        return 0, None

    async def _create(self, connection: AsyncConnection, schema: str, spec: PartitionSpec) -> tuple[int, str | None]:
        parent, child = self._name(connection, schema, spec.table), self._name(connection, schema, spec.name)
        bounds = f"FROM ('{spec.lower.isoformat()}') TO ('{spec.upper.isoformat()}')"
        key = connection.dialect.identifier_preparer.quote(self._keys[spec.table])
        in_month = f"{key} >= '{spec.lower.isoformat()}' AND {key} < '{spec.upper.isoformat()}'"
        defaults = [c.name for c, _r, _s in await self._children(connection)
                    if c.table == spec.table and c.is_default]
        default = self._name(connection, schema, defaults[0]) if defaults else None
        if default is None or not (await connection.execute(_sql(
                f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {in_month})"))).scalar_one():
            await connection.execute(_sql(f"CREATE TABLE IF NOT EXISTS {child} PARTITION OF {parent} "
                                          f"FOR VALUES {bounds}"))
            return 0, None
        # DEFAULT holds rows of this month: create detached, move them, attach (one transaction).
        await connection.execute(_sql(f"CREATE TABLE {child} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
        moved = await connection.execute(_sql(
            f"WITH moved AS (DELETE FROM {default} WHERE {in_month} RETURNING *) INSERT INTO {child} "
            f"SELECT * FROM moved"))
        await connection.execute(_sql(f"ALTER TABLE {parent} ATTACH PARTITION {child} FOR VALUES {bounds}"))
        return max(moved.rowcount, 0), None

    async def _drop(self, connection: AsyncConnection, schema: str,
                    planned: ExistingPartition) -> tuple[int, str | None]:
        row = (await connection.execute(_CHILD, {"schema": schema, "name": planned.name})).mappings().first()
        if row is None:
            return 0, "already_gone"
        lower, upper, is_default = parse_bound(row["bound"])
        if (row["parent"], lower, upper, is_default) != (planned.table, planned.lower, planned.upper, False):
            return 0, "bounds_changed"
        await connection.execute(_sql(f"DROP TABLE {self._name(connection, schema, planned.name)}"))
        return 0, None


class UnsupportedPartitionManager(PartitionManager):
    """SQLite: no partitioning; reads are empty and apply does nothing (§8.3)."""

    supported = False

    def __init__(self, reason: str = "metadata store is SQLite") -> None:
        self.reason: str | None = reason

    async def existing(self) -> list[ExistingPartition]:
        return []

    async def details(self) -> list[PartitionDetail]:
        return []

    async def apply(self, plan: PartitionPlan, *, tables: frozenset[str] | None = None,
                    drops_only: bool = False) -> ApplyReport:
        return ApplyReport()
