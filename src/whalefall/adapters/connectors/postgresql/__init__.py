"""PostgreSQL 12+ connector: psycopg async, `statement_timeout` through the connection options, every call under an
outer deadline, per-database connections for D1–D3 and table sizes (capacity.md §2.1, accounts.md §2.3)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import psycopg
from psycopg import IsolationLevel

from whalefall.adapters.connectors._shared import (
    ConnectorContext,
    DriverError,
    ResultSet,
    connect_deadline,
    connector_error,
    statement_deadline,
    within,
)
from whalefall.adapters.connectors.postgresql import catalog, mapping, queries
from whalefall.adapters.connectors.postgresql.catalog import PgSession
from whalefall.application.ports.connectors import (
    AccountCatalogRows,
    Capability,
    Connector,
    ConnectorTimeouts,
    ServerInfo,
    SizeCollection,
    TableSizeRow,
)
from whalefall.domain.instances import DEFAULT_DATABASES, ConnectionTarget, DbEngine, InstanceId, SecretText
from whalefall.domain.sessions.backoff import ErrorClass

CAPABILITIES: Final = frozenset({Capability.ACCOUNTS, Capability.ROLE_GRAPH, Capability.DATABASE_SIZES,
                                 Capability.TABLE_SIZES})

_BY_SQLSTATE: Final = {
    "57014": ErrorClass.TIMEOUT, "57P01": ErrorClass.CONNECTION_LOST, "57P02": ErrorClass.CONNECTION_LOST,
    "53300": ErrorClass.SERVER_BUSY, "57P03": ErrorClass.SERVER_BUSY, "28P01": ErrorClass.AUTH_FAILED,
    "28000": ErrorClass.AUTH_FAILED, "42501": ErrorClass.PERMISSION_DENIED, "3D000": ErrorClass.CONFIG_ERROR,
    "0A000": ErrorClass.UNSUPPORTED,
}
#: libpq reports connection failures as text without a SQLSTATE; the server's FATAL messages are stable.
_BY_MESSAGE: Final = (
    ("timeout expired", ErrorClass.TIMEOUT),
    ("password authentication failed", ErrorClass.AUTH_FAILED),
    ("is not permitted to log in", ErrorClass.AUTH_FAILED),
    ("no pg_hba.conf entry", ErrorClass.AUTH_FAILED),
    ("role \"", ErrorClass.AUTH_FAILED),
    ("permission denied for database", ErrorClass.PERMISSION_DENIED),
    ("database \"", ErrorClass.CONFIG_ERROR),
    ("too many clients", ErrorClass.SERVER_BUSY),
    ("remaining connection slots", ErrorClass.SERVER_BUSY),
    ("the database system is", ErrorClass.SERVER_BUSY),
    ("server closed the connection", ErrorClass.CONNECTION_LOST),
    ("terminating connection", ErrorClass.CONNECTION_LOST),
    ("connection refused", ErrorClass.UNREACHABLE),
    ("failed to resolve host", ErrorClass.UNREACHABLE),
    ("could not translate host name", ErrorClass.UNREACHABLE),
    ("no route to host", ErrorClass.UNREACHABLE),
    ("network is unreachable", ErrorClass.UNREACHABLE),
)


def classify(exc: psycopg.Error) -> ErrorClass:
    state = exc.sqlstate
    if state:
        if state in _BY_SQLSTATE:
            return _BY_SQLSTATE[state]
        if state.startswith("08"):
            return ErrorClass.CONNECTION_LOST
        return ErrorClass.INTERNAL
    message = str(exc).lower()
    found = next((cls for needle, cls in _BY_MESSAGE if needle in message), None)
    if found is not None:
        return found
    return ErrorClass.CONNECTION_LOST if isinstance(exc, psycopg.OperationalError) else ErrorClass.INTERNAL


def translate(exc: psycopg.Error, secret: SecretText | None) -> DriverError:
    state = f"SQLSTATE {exc.sqlstate}: " if exc.sqlstate else ""
    return connector_error(classify(exc), f"{state}{exc}", secret=secret, driver_code=exc.sqlstate)


@dataclass(slots=True)
class PsycopgSession(PgSession):
    """One autocommit connection; `snapshot()` opens the REPEATABLE READ READ ONLY transaction explicitly."""

    connection: psycopg.AsyncConnection[tuple[object, ...]]
    deadline_s: float
    secret: SecretText

    async def fetch(self, name: str, sql: str, params: Sequence[object] = ()) -> ResultSet:
        async def run() -> ResultSet:
            async with self.connection.cursor() as cursor:
                await cursor.execute(sql, tuple(params) if params else None)
                if cursor.description is None:
                    return ResultSet(())
                columns = tuple(d.name for d in cursor.description)
                return ResultSet(columns, tuple(tuple(row) for row in await cursor.fetchall()))

        try:
            return await within(run(), self.deadline_s, name)
        except psycopg.Error as exc:
            raise translate(exc, self.secret) from exc

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        try:
            await self.connection.set_isolation_level(IsolationLevel.REPEATABLE_READ)
            await self.connection.set_read_only(True)
            async with self.connection.transaction():
                yield
        except psycopg.Error as exc:     # BEGIN, COMMIT or the rollback itself failed
            raise translate(exc, self.secret) from exc


@asynccontextmanager
async def _session(target: ConnectionTarget, timeouts: ConnectorTimeouts, dbname: str) -> AsyncIterator[PgSession]:
    """Connect to one database (bounded by connect + 5 s); autocommit, `application_name=whalefall`,
    `statement_timeout` from the statement timeout; closed on exit."""
    connect = psycopg.AsyncConnection.connect(
        host=target.host, port=target.port, dbname=dbname, user=target.username,
        password=target.secret.reveal(), connect_timeout=max(2, math.ceil(timeouts.connect_s)),
        application_name="whalefall", options=f"-c statement_timeout={int(timeouts.statement_s * 1000)}",
        autocommit=True)
    try:
        connection = await within(connect, connect_deadline(timeouts),
                                  f"connecting to {target.host}:{target.port}/{dbname}")
    except psycopg.Error as exc:
        raise translate(exc, target.secret) from exc
    try:
        yield PsycopgSession(connection, statement_deadline(timeouts), target.secret)
    finally:
        with contextlib.suppress(Exception):
            await within(connection.close(), connect_deadline(timeouts), "closing the connection")


class PostgresConnector(Connector):
    """A session on the maintenance database plus per-database sessions opened on demand."""

    def __init__(self, session: PgSession, *, target: ConnectionTarget, timeouts: ConnectorTimeouts,
                 context: ConnectorContext) -> None:
        self._session = session
        self._target = target
        self._timeouts = timeouts
        self._context = context
        self._size_slots = asyncio.Semaphore(context.options.per_database_size_connections)

    def _open_database(self, dbname: str) -> contextlib.AbstractAsyncContextManager[PgSession]:
        return _session(self._target, self._timeouts, dbname)

    async def server_info(self) -> ServerInfo:
        return mapping.server_info(await self._session.fetch("VERSION", queries.VERSION))

    async def missing_collector_privileges(self) -> tuple[str, ...]:
        """CONNECT on every database that will be scanned (a plain LOGIN role needs nothing else)."""
        refused = mapping.names(await self._session.fetch("PREFLIGHT", queries.NO_CONNECT))
        return tuple(f'CONNECT ON DATABASE "{name.replace(chr(34), chr(34) * 2)}"' for name in refused)

    async def read_account_catalog(self, *, instance_id: int) -> AccountCatalogRows:
        options = self._context.options
        return await within(
            catalog.read_catalog(self._session, self._open_database, instance_id=InstanceId(instance_id),
                                 clock=self._context.clock, object_grants=options.pg_object_grants,
                                 max_connections=options.pg_account_connections),
            self._timeouts.instance_deadline_s, "the account catalog read")

    async def list_databases(self) -> tuple[str, ...]:
        return mapping.names(await self._session.fetch("INVENTORY", queries.INVENTORY))

    async def database_sizes(self, names: Sequence[str]) -> SizeCollection:
        return mapping.sizes(names, await self._session.fetch("SIZES", queries.SIZES))

    async def table_sizes(self, database: str, *, max_tables: int) -> tuple[TableSizeRow, ...]:
        async with self._size_slots, self._open_database(database) as session:
            return mapping.table_sizes(await session.fetch("TABLE_SIZES", queries.TABLE_SIZES, (max_tables,)))



@asynccontextmanager
async def open_connector(target: ConnectionTarget, timeouts: ConnectorTimeouts,
                         context: ConnectorContext) -> AsyncIterator[Connector]:
    dbname = target.database_name or DEFAULT_DATABASES[DbEngine.POSTGRESQL]
    async with _session(target, timeouts, dbname) as session:
        yield PostgresConnector(session, target=target, timeouts=timeouts, context=context)

