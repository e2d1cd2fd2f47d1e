"""Batched deleters of the retention job (operations.md §1.9): sessions + records, pipeline runs + step runs, job
fires, process heartbeats and (SQLite only) capacity samples and aggregations. Each call deletes at most `limit`
rows in one statement and one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, Table, and_, delete, exists, literal_column, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.capacity import (
    database_size_aggregations,
    database_size_samples,
    instance_size_aggregations,
    instance_size_samples,
)
from whalefall.adapters.persistence.tables.operations import (
    job_fires,
    pipeline_runs,
    pipeline_step_runs,
    process_heartbeats,
)
from whalefall.adapters.persistence.tables.sessions import sync_records, sync_sessions
from whalefall.application.errors import StoreUnavailableError
from whalefall.application.ports.logs import ExpiredRowPurger


async def _delete_children_then_parents(connection: AsyncConnection, *, parent: Table, child: Table,
                                        child_fk: ColumnElement[object], eligible: ColumnElement[bool],
                                        limit: int) -> int:
    """Children of eligible parents first (a parent may own thousands of rows), then, with what is left of the
    batch, childless eligible parents: at most `limit` rows per transaction however large a parent is. A short
    batch therefore means nothing eligible is left (every child of an eligible parent was within the first part)."""
    eligible_ids = select(parent.c.id).where(eligible)
    children = select(child.c.id).where(child_fk.in_(eligible_ids)).order_by(child.c.id).limit(limit)
    result = await connection.execute(delete(child).where(child.c.id.in_(children)))
    removed = int(result.rowcount or 0)
    if removed >= limit:
        return removed
    parents = (select(parent.c.id).where(eligible, ~exists().where(child_fk == parent.c.id))
               .order_by(parent.c.id).limit(limit - removed))
    result = await connection.execute(delete(parent).where(parent.c.id.in_(parents)))
    return removed + int(result.rowcount or 0)


class _BatchPurger(ExpiredRowPurger):
    """One `delete_batch` = one transaction on the metadata store."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A driver or network failure → StoreUnavailableError (the retention job stops and retries next run)."""
        try:
            async with self._database.engine.begin() as connection:
                yield connection
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError() from exc


class SqlAlchemySessionPurger(_BatchPurger):
    """Terminal sessions finished before the cutoff, with their records; never a running session and never a
    session of a running pipeline run (its step outcome is still to be read)."""

    async def delete_batch(self, cutoff: datetime, limit: int) -> int:
        async with self._transaction() as connection:
            running_runs = [str(r) for r in (await connection.execute(
                select(pipeline_runs.c.id).where(pipeline_runs.c.status == "running"))).scalars()]
            eligible = and_(sync_sessions.c.status != "running", sync_sessions.c.finished_at.is_not(None),
                            sync_sessions.c.finished_at < cutoff)
            if running_runs:
                eligible = and_(eligible, (sync_sessions.c.pipeline_run_id.is_(None)
                                           | sync_sessions.c.pipeline_run_id.not_in(running_runs)))
            return await _delete_children_then_parents(
                connection, parent=sync_sessions, child=sync_records, child_fk=sync_records.c.session_id,
                eligible=eligible, limit=limit)


class SqlAlchemyPipelineRunPurger(_BatchPurger):
    """Terminal pipeline runs finished before the cutoff, with their step runs."""

    async def delete_batch(self, cutoff: datetime, limit: int) -> int:
        eligible = and_(pipeline_runs.c.status != "running", pipeline_runs.c.finished_at.is_not(None),
                        pipeline_runs.c.finished_at < cutoff)
        async with self._transaction() as connection:
            return await _delete_children_then_parents(
                connection, parent=pipeline_runs, child=pipeline_step_runs, child_fk=pipeline_step_runs.c.run_id,
                eligible=eligible, limit=limit)


class SqlAlchemyJobFirePurger(_BatchPurger):
    """Fires recorded before the cutoff (`fired_at`)."""

    async def delete_batch(self, cutoff: datetime, limit: int) -> int:
        victims = select(job_fires.c.id).where(job_fires.c.fired_at < cutoff).order_by(job_fires.c.id).limit(limit)
        async with self._transaction() as connection:
            result = await connection.execute(delete(job_fires).where(job_fires.c.id.in_(victims)))
        return int(result.rowcount or 0)


class SqlAlchemyHeartbeatPurger(_BatchPurger):
    """Heartbeat rows of processes last seen before the cutoff (stopped or replaced containers)."""

    async def delete_batch(self, cutoff: datetime, limit: int) -> int:
        victims = (select(process_heartbeats.c.process_id).where(process_heartbeats.c.last_seen_at < cutoff)
                   .order_by(process_heartbeats.c.process_id).limit(limit))
        async with self._transaction() as connection:
            result = await connection.execute(
                delete(process_heartbeats).where(process_heartbeats.c.process_id.in_(victims)))
        return int(result.rowcount or 0)


class SqliteCapacityRowPurger(_BatchPurger):
    """SQLite only (capacity.md §8.3: PostgreSQL drops monthly partitions instead): rows of one formerly
    partitioned table whose partition key date lies before the cutoff's date, by `rowid` (the tables have
    composite keys)."""

    def __init__(self, database: Database, table: str) -> None:
        super().__init__(database)
        self._table = SAMPLE_KEYS_TABLES[table]
        self._key = self._table.c[PARTITION_KEYS[table]]

    async def delete_batch(self, cutoff: datetime, limit: int) -> int:
        rowid: ColumnElement[int] = literal_column("rowid")
        victims = select(rowid).select_from(self._table).where(self._key < cutoff.date()).limit(limit)
        async with self._transaction() as connection:
            result = await connection.execute(delete(self._table).where(rowid.in_(victims)))
        return int(result.rowcount or 0)


PARTITION_KEYS: Final = {"database_size_samples": "collected_on", "instance_size_samples": "collected_on",
                         "database_size_aggregations": "period_start", "instance_size_aggregations": "period_start"}
SAMPLE_KEYS_TABLES: Final = {"database_size_samples": database_size_samples,
                             "instance_size_samples": instance_size_samples,
                             "database_size_aggregations": database_size_aggregations,
                             "instance_size_aggregations": instance_size_aggregations}
