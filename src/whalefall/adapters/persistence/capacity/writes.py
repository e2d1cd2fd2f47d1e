"""SqlAlchemyCapacityWriter: ledger upserts, a day's samples replaced as a set, table-size snapshots (§1.4–1.7)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.tables.capacity import (
    database_size_samples,
    instance_databases,
    instance_size_samples,
    table_size_snapshots,
)
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.capacity import CapacityWriter, DailyCollection, LedgerEntry, TableSize
from whalefall.domain.capacity import InstanceSample


def _insert(connection: AsyncConnection, table: Any) -> Any:
    return (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table)


def _upsert_all(connection: AsyncConnection, table: Any, keys: Sequence[str], rows: Sequence[dict[str, Any]]) -> Any:
    statement = _insert(connection, table)
    columns = [name for name in rows[0] if name not in keys]
    return statement.on_conflict_do_update(index_elements=list(keys),
                                           set_={name: statement.excluded[name] for name in columns})


class SqlAlchemyCapacityWriter(CapacityWriter):
    """Writes through the caller's unit of work; every method is a constant number of set statements."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def ledger(self, instance_id: int) -> list[LedgerEntry]:
        connection = await self._uow.connection()
        rows = (await connection.execute(select(instance_databases).where(
            instance_databases.c.instance_id == instance_id).order_by(instance_databases.c.name))).mappings()
        return [LedgerEntry(name=r["name"], is_system=r["is_system"], is_excluded=r["is_excluded"],
                            status=r["status"], first_seen_on=r["first_seen_on"], last_seen_on=r["last_seen_on"],
                            gone_since=r["gone_since"], missing_since=r["missing_since"]) for r in rows]

    async def save_ledger(self, instance_id: int, entries: Sequence[LedgerEntry]) -> None:
        if not entries:
            return
        connection = await self._uow.connection()
        rows = [{"instance_id": instance_id, "name": e.name, "is_system": e.is_system, "is_excluded": e.is_excluded,
                 "status": e.status, "first_seen_on": e.first_seen_on, "last_seen_on": e.last_seen_on,
                 "gone_since": e.gone_since, "missing_since": e.missing_since, "tables_truncated": False}
                for e in entries]
        # tables_truncated belongs to the table-size refresh, not to the inventory: never overwritten here.
        statement = _insert(connection, instance_databases)
        statement = statement.on_conflict_do_update(
            index_elements=["instance_id", "name"],
            set_={name: statement.excluded[name] for name in rows[0]
                  if name not in ("instance_id", "name", "tables_truncated")})
        await connection.execute(statement, rows)

    async def write_day(self, day: DailyCollection) -> InstanceSample:
        names = [s.database_name for s in day.databases]
        if len(set(names)) != len(names):
            raise ValueError("a database is listed twice in one day's samples")
        if any(s.size_bytes < 0 or (s.data_bytes or 0) < 0 or (s.log_bytes or 0) < 0 for s in day.databases):
            raise ValueError("sizes must not be negative")
        connection = await self._uow.connection()
        s = database_size_samples
        stale = delete(s).where(s.c.instance_id == day.instance_id, s.c.collected_on == day.collected_on)
        if names:
            stale = stale.where(s.c.database_name.not_in(names))
        await connection.execute(stale)
        if day.databases:
            rows = [{"instance_id": day.instance_id, "database_name": x.database_name,
                     "collected_on": day.collected_on, "collected_at": day.collected_at, "size_bytes": x.size_bytes,
                     "data_bytes": x.data_bytes, "log_bytes": x.log_bytes, "is_system": x.is_system,
                     "session_id": day.session_id} for x in day.databases]
            await connection.execute(_upsert_all(connection, s, ("instance_id", "database_name", "collected_on"),
                                                 rows), rows)
            ledger = instance_databases
            todays = select(s.c.size_bytes).where(s.c.instance_id == ledger.c.instance_id,
                                                  s.c.database_name == ledger.c.name,
                                                  s.c.collected_on == day.collected_on)
            await connection.execute(
                update(ledger).where(ledger.c.instance_id == day.instance_id, ledger.c.name.in_(names))
                .values(last_size_bytes=todays.scalar_subquery(), last_collected_on=day.collected_on))
        sample = InstanceSample(
            instance_id=day.instance_id, collected_on=day.collected_on,
            total_bytes=sum(x.size_bytes for x in day.databases), database_count=len(day.databases),
            missing_database_count=day.missing_database_count,
            data_bytes=_sum_present([x.data_bytes for x in day.databases]),
            log_bytes=_sum_present([x.log_bytes for x in day.databases]))
        row = {"instance_id": sample.instance_id, "collected_on": sample.collected_on,
               "collected_at": day.collected_at, "total_bytes": sample.total_bytes, "data_bytes": sample.data_bytes,
               "log_bytes": sample.log_bytes, "database_count": sample.database_count,
               "missing_database_count": sample.missing_database_count,
               "unattributed_bytes": day.unattributed_bytes, "session_id": day.session_id}
        await connection.execute(_upsert_all(connection, instance_size_samples, ("instance_id", "collected_on"),
                                             [row]), [row])
        await connection.execute(update(instances).where(instances.c.id == day.instance_id).values(
            last_capacity_collected_on=day.collected_on))
        return sample

    async def replace_table_sizes(self, instance_id: int, database_name: str, tables: Sequence[TableSize], *,
                                  collected_at: datetime, truncated: bool) -> None:
        connection = await self._uow.connection()
        t = table_size_snapshots
        await connection.execute(delete(t).where(t.c.instance_id == instance_id, t.c.database_name == database_name))
        if tables:
            await connection.execute(t.insert(), [
                {"instance_id": instance_id, "database_name": database_name, "schema_name": x.schema_name,
                 "table_name": x.table_name, "collected_at": collected_at, "total_bytes": x.total_bytes,
                 "data_bytes": x.data_bytes, "index_bytes": x.index_bytes, "row_estimate": x.row_estimate}
                for x in tables])
        await connection.execute(update(instance_databases).where(
            instance_databases.c.instance_id == instance_id, instance_databases.c.name == database_name
        ).values(tables_truncated=truncated))


def _sum_present(values: list[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
