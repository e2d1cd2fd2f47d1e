"""The PostgreSQL catalog read over sessions: cluster queries Q0–Q4 in one snapshot on the maintenance database,
then D1–D3 per database on that database's own connection, at most N at a time (accounts.md §2.0, §2.3).
Driver-free: the sessions are the connector's seam to psycopg."""

from __future__ import annotations

import asyncio
import contextlib
from abc import abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from whalefall.adapters.connectors._shared import Executor, ResultSet, catalog_failure
from whalefall.adapters.connectors.postgresql import mapping, queries
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import ConnectorError
from whalefall.domain.accounts.rows.common import CatalogMeta, DatabaseFailure
from whalefall.domain.accounts.rows.postgresql import (
    PgCatalogRows,
    PgColumnAclRow,
    PgDatabaseRows,
    PgRoutineAclRow,
)
from whalefall.domain.instances import InstanceId

_PG16 = 160000
_LEVELS = ("off", "schemas", "tables", "full")


class PgSession(Executor, Protocol):
    """One connection: statements plus the REPEATABLE READ READ ONLY snapshot of accounts.md §2.0."""

    @abstractmethod
    def snapshot(self) -> AbstractAsyncContextManager[None]:
        """A read-only repeatable-read transaction; an error inside rolls it back and ends its work, so no
        statement is ever sent on an aborted transaction."""


DatabaseOpener = Callable[[str], AbstractAsyncContextManager[PgSession]]


@dataclass(slots=True)
class _Tally:
    count: int = 0

    async def fetch(self, session: Executor, name: str, sql: str, params: Sequence[object] = ()) -> ResultSet:
        self.count += 1
        return await session.fetch(name, sql, params)


async def read_catalog(session: PgSession, open_database: DatabaseOpener, *, instance_id: InstanceId,
                       clock: Clock, object_grants: str, max_connections: int) -> PgCatalogRows:
    """A failed cluster query fails the instance (CATALOG_READ_FAILED with its class); a failed per-database
    connect or query becomes that database's DatabaseFailure and the others are still read."""
    tally = _Tally()
    observed_at = clock.now()
    try:
        async with session.snapshot():
            [q0] = mapping.records(await tally.fetch(session, "Q0", queries.Q0))
            server = mapping.server_row(q0, object_grants)
            roles = mapping.roles(await tally.fetch(session, "Q1", queries.Q1_ROLES))
            q2 = queries.Q2_MEMBERS_16 if server.server_version_num >= _PG16 else queries.Q2_MEMBERS
            members = mapping.memberships(await tally.fetch(session, "Q2", q2))
            databases = mapping.database_acls(await tally.fetch(session, "Q3", queries.Q3_DATABASES))
            tablespaces = mapping.tablespace_acls(await tally.fetch(session, "Q4", queries.Q4_TABLESPACES))
    except ConnectorError as exc:
        raise catalog_failure(exc) from exc
    scannable = list(dict.fromkeys(d.datname for d in databases if d.datallowconn and not d.datistemplate))
    read: list[PgDatabaseRows] = []
    failed: list[DatabaseFailure] = []
    if object_grants != "off":
        slots = asyncio.Semaphore(max_connections)

        async def one(datname: str) -> PgDatabaseRows | DatabaseFailure:
            async with slots:
                return await _read_database(open_database, datname, object_grants, tally)

        for outcome in await asyncio.gather(*(one(name) for name in scannable)):
            if isinstance(outcome, PgDatabaseRows):
                read.append(outcome)
            else:
                failed.append(outcome)
    meta = CatalogMeta(instance_id=instance_id, observed_at=observed_at, query_count=tally.count,
                       collector=str(q0["collector"]))
    return PgCatalogRows(meta=meta, server=server, roles=roles, memberships=members, database_acls=databases,
                         tablespace_acls=tablespaces, databases=tuple(read), failed_databases=tuple(failed))


async def _read_database(open_database: DatabaseOpener, datname: str, level: str,
                         tally: _Tally) -> PgDatabaseRows | DatabaseFailure:
    depth = _LEVELS.index(level)
    columns: tuple[PgColumnAclRow, ...] = ()
    routines: tuple[PgRoutineAclRow, ...] = ()
    async with contextlib.AsyncExitStack() as stack:
        try:
            session = await stack.enter_async_context(open_database(datname))
        except ConnectorError as exc:
            return DatabaseFailure(database=datname, connect_failed=True, detail=exc.message)
        try:
            async with session.snapshot():
                schemas = mapping.schema_acls(await tally.fetch(session, "D1", queries.D1_SCHEMAS))
                relations = (mapping.relation_acls(await tally.fetch(session, "D2", queries.D2_RELATIONS))
                             if depth >= _LEVELS.index("tables") else ())
                if depth >= _LEVELS.index("full"):
                    columns = mapping.column_acls(await tally.fetch(session, "D3", queries.D3_COLUMNS))
                    await session.fetch("SEARCH_PATH", queries.ROUTINE_SEARCH_PATH)
                    routines = mapping.routine_acls(await tally.fetch(session, "D3", queries.D3_ROUTINES))
        except ConnectorError as exc:
            return DatabaseFailure(database=datname, connect_failed=False, detail=exc.message)
    return PgDatabaseRows(datname=datname, schemas=schemas, relations=relations, columns=columns,
                          routines=routines)
