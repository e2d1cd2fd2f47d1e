"""SQL Server 2012+ connector: pymssql in the bounded driver pool (its login timeout is not a hard bound, so the
outer deadline is what bounds a connect), driver errors translated to the connector taxonomy (capacity.md §2)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import pymssql

from whalefall.adapters.connectors._shared import (
    ConnectorContext,
    DriverError,
    Executor,
    ResultSet,
    connect_deadline,
    connector_error,
    statement_deadline,
    within,
)
from whalefall.adapters.connectors.sqlserver import catalog, mapping, queries
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
                                 Capability.TABLE_SIZES, Capability.LOG_SIZES})

_CLASSES: Final = {
    18456: ErrorClass.AUTH_FAILED, 18452: ErrorClass.AUTH_FAILED, 18470: ErrorClass.AUTH_FAILED,
    18486: ErrorClass.AUTH_FAILED, 18487: ErrorClass.AUTH_FAILED, 18488: ErrorClass.AUTH_FAILED,
    229: ErrorClass.PERMISSION_DENIED, 297: ErrorClass.PERMISSION_DENIED, 300: ErrorClass.PERMISSION_DENIED,
    916: ErrorClass.PERMISSION_DENIED, 4060: ErrorClass.CONFIG_ERROR, 20009: ErrorClass.UNREACHABLE,
    20003: ErrorClass.TIMEOUT, 1222: ErrorClass.TIMEOUT, 20006: ErrorClass.CONNECTION_LOST,
    20047: ErrorClass.CONNECTION_LOST, 20004: ErrorClass.CONNECTION_LOST, 17809: ErrorClass.SERVER_BUSY,
    10928: ErrorClass.SERVER_BUSY, 40501: ErrorClass.SERVER_BUSY,
}
#: FreeTDS wraps the server's error in DB-Lib messages; the server's number may only appear in the text.
_BY_MESSAGE: Final = (
    ("login failed", ErrorClass.AUTH_FAILED), ("timed out", ErrorClass.TIMEOUT),
    ("connection refused", ErrorClass.UNREACHABLE), ("unable to connect", ErrorClass.UNREACHABLE),
    ("is not able to access the database", ErrorClass.PERMISSION_DENIED),
    ("cannot open database", ErrorClass.CONFIG_ERROR),
)


def classify(exc: BaseException) -> tuple[ErrorClass, int | None]:
    if isinstance(exc, pymssql.Error):
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        found = _CLASSES.get(code or 0)
        if found is None:
            message = str(exc).lower()
            found = next((cls for needle, cls in _BY_MESSAGE if needle in message), ErrorClass.INTERNAL)
        return found, code
    if isinstance(exc, TimeoutError):
        return ErrorClass.TIMEOUT, None
    if isinstance(exc, OSError):
        return ErrorClass.UNREACHABLE, None
    return ErrorClass.INTERNAL, None


def translate(exc: BaseException, secret: SecretText | None) -> DriverError:
    error_class, code = classify(exc)
    raw = exc.args[1] if isinstance(exc, pymssql.Error) and len(exc.args) > 1 else str(exc)
    detail = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    prefix = f"SQL Server error {code}: " if code else ""
    return connector_error(error_class, f"{prefix}{detail}", secret=secret, driver_code=code)


@dataclass(slots=True)
class PyMssqlExecutor(Executor):
    """Each statement in the driver pool under `statement timeout + 5 s`, fetched in batches of 1,000 rows."""

    connection: Any
    context: ConnectorContext
    deadline_s: float
    secret: SecretText
    broken: bool = field(default=False)

    async def fetch(self, name: str, sql: str, params: Sequence[object] = ()) -> ResultSet:
        if self.broken:
            raise DriverError(ErrorClass.CONNECTION_LOST, "the connection was abandoned after a timeout",
                              driver_code=None)
        connection = self.connection

        def run() -> ResultSet:
            cursor = connection.cursor()
            try:
                if params:
                    cursor.execute(sql, tuple(params))
                else:
                    cursor.execute(sql)
                if cursor.description is None:
                    return ResultSet(())
                columns = tuple(str(d[0]) for d in cursor.description)
                rows: list[tuple[object, ...]] = []
                while batch := cursor.fetchmany(1000):
                    rows.extend(tuple(row) for row in batch)
                return ResultSet(columns, tuple(rows))
            finally:
                cursor.close()

        try:
            return await self.context.threads.run(run, deadline_s=self.deadline_s)
        except TimeoutError as exc:
            self.broken = True
            raise DriverError(ErrorClass.TIMEOUT, f"{name} did not finish within {self.deadline_s:g} s",
                              driver_code=None) from exc
        except (pymssql.Error, OSError) as exc:
            raise translate(exc, self.secret) from exc


async def _connect(target: ConnectionTarget, timeouts: ConnectorTimeouts, context: ConnectorContext,
                   database: str) -> Any:
    def connect() -> Any:
        return pymssql.connect(server=target.host, port=str(target.port), user=target.username,
                               password=target.secret.reveal(), database=database,
                               login_timeout=max(1, math.ceil(timeouts.connect_s)),
                               timeout=max(1, math.ceil(timeouts.statement_s)), autocommit=True,
                               appname="whalefall")

    try:
        return await context.threads.run(connect, deadline_s=connect_deadline(timeouts))
    except TimeoutError as exc:
        raise DriverError(ErrorClass.TIMEOUT, f"connecting to {target.host}:{target.port} did not finish within "
                          f"{connect_deadline(timeouts):g} s", driver_code=None) from exc
    except (pymssql.Error, OSError) as exc:
        raise translate(exc, target.secret) from exc


@asynccontextmanager
async def _session(target: ConnectionTarget, timeouts: ConnectorTimeouts, context: ConnectorContext,
                   database: str) -> AsyncIterator[Executor]:
    connection = await _connect(target, timeouts, context, database)
    try:
        yield PyMssqlExecutor(connection, context, statement_deadline(timeouts), target.secret)
    finally:
        with contextlib.suppress(Exception):
            await context.threads.run(connection.close, deadline_s=connect_deadline(timeouts))


class SqlServerConnector(Connector):
    """A connection to `master` (or the registered database); table sizes open their own, at most 2 at a time.
    The session runs at the default READ COMMITTED isolation."""

    def __init__(self, executor: Executor, *, target: ConnectionTarget, timeouts: ConnectorTimeouts,
                 context: ConnectorContext) -> None:
        self._executor = executor
        self._target = target
        self._timeouts = timeouts
        self._context = context
        self._size_slots = asyncio.Semaphore(context.options.per_database_size_connections)

    async def server_info(self) -> ServerInfo:
        return mapping.server_info(await self._executor.fetch("VERSION", queries.VERSION))

    async def missing_collector_privileges(self) -> tuple[str, ...]:
        return mapping.missing_privileges(await self._executor.fetch("PREFLIGHT", queries.PREFLIGHT))

    async def read_account_catalog(self, *, instance_id: int) -> AccountCatalogRows:
        return await within(
            catalog.read_catalog(self._executor, instance_id=InstanceId(instance_id), clock=self._context.clock),
            self._timeouts.instance_deadline_s, "the account catalog read")

    async def list_databases(self) -> tuple[str, ...]:
        return mapping.names(await self._executor.fetch("INVENTORY", queries.INVENTORY))

    async def system_databases(self) -> frozenset[str]:
        return frozenset(mapping.names(await self._executor.fetch("SYSTEM_DATABASES", queries.SYSTEM_DATABASES)))

    async def database_sizes(self, names: Sequence[str]) -> SizeCollection:
        sizes = await self._executor.fetch("SIZES", queries.SIZES)
        tempdb = await self._executor.fetch("TEMPDB", queries.TEMPDB_SIZES) if "tempdb" in names else None
        return mapping.sizes(names, sizes, tempdb)

    async def table_sizes(self, database: str, *, max_tables: int) -> tuple[TableSizeRow, ...]:
        async with self._size_slots, _session(self._target, self._timeouts, self._context, database) as session:
            return mapping.table_sizes(await session.fetch("TABLE_SIZES", queries.TABLE_SIZES, (max_tables,)))


@asynccontextmanager
async def open_connector(target: ConnectionTarget, timeouts: ConnectorTimeouts,
                         context: ConnectorContext) -> AsyncIterator[Connector]:
    database = target.database_name or DEFAULT_DATABASES[DbEngine.SQLSERVER]
    async with _session(target, timeouts, context, database) as executor:
        yield SqlServerConnector(executor, target=target, timeouts=timeouts, context=context)
