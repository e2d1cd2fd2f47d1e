"""Oracle 12c+ connector: oracledb thin mode, async; `tcp_connect_timeout` and the connection's `call_timeout`,
each call under an outer deadline (a listener that accepts and never answers is bounded only by it)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import oracledb

from whalefall.adapters.connectors._shared import (
    ConnectorContext,
    DriverError,
    Executor,
    QueryCounter,
    ResultSet,
    connect_deadline,
    connector_error,
    statement_deadline,
    within,
)
from whalefall.adapters.connectors.oracle import catalog, mapping, queries
from whalefall.application.ports.connectors import (
    AccountCatalogRows,
    Capability,
    Connector,
    ConnectorTimeouts,
    ServerInfo,
    SizeCollection,
    TableSizeRow,
)
from whalefall.domain.instances import ConnectionTarget, InstanceId, SecretText
from whalefall.domain.sessions.backoff import ErrorClass

CAPABILITIES: Final = frozenset({Capability.ACCOUNTS, Capability.ROLE_GRAPH, Capability.DATABASE_SIZES,
                                 Capability.TABLE_SIZES})

_CLASSES: Final = {
    "ORA-01017": ErrorClass.AUTH_FAILED, "ORA-28000": ErrorClass.AUTH_FAILED, "ORA-28001": ErrorClass.AUTH_FAILED,
    "ORA-01045": ErrorClass.AUTH_FAILED, "ORA-00942": ErrorClass.PERMISSION_DENIED,
    "ORA-01031": ErrorClass.PERMISSION_DENIED, "ORA-12514": ErrorClass.CONFIG_ERROR,
    "ORA-12505": ErrorClass.CONFIG_ERROR, "DPY-6001": ErrorClass.CONFIG_ERROR,
    "ORA-12170": ErrorClass.UNREACHABLE, "ORA-12541": ErrorClass.UNREACHABLE, "ORA-12543": ErrorClass.UNREACHABLE,
    "DPY-6005": ErrorClass.UNREACHABLE, "ORA-03113": ErrorClass.CONNECTION_LOST,
    "ORA-03114": ErrorClass.CONNECTION_LOST, "ORA-03135": ErrorClass.CONNECTION_LOST,
    "DPY-4011": ErrorClass.CONNECTION_LOST, "DPY-1001": ErrorClass.CONNECTION_LOST,
    "DPY-4024": ErrorClass.TIMEOUT, "DPI-1067": ErrorClass.TIMEOUT, "ORA-01013": ErrorClass.TIMEOUT,
    "ORA-12516": ErrorClass.SERVER_BUSY, "ORA-12519": ErrorClass.SERVER_BUSY, "ORA-12520": ErrorClass.SERVER_BUSY,
    "ORA-00018": ErrorClass.SERVER_BUSY, "ORA-00020": ErrorClass.SERVER_BUSY,
}


def classify(exc: oracledb.Error) -> tuple[ErrorClass, str | None]:
    error = exc.args[0] if exc.args else None
    code = getattr(error, "full_code", None) or None
    found = _CLASSES.get(code or "", ErrorClass.INTERNAL)
    if found is ErrorClass.UNREACHABLE and "timed out" in str(exc).lower():
        found = ErrorClass.TIMEOUT
    return found, code


def translate(exc: oracledb.Error, secret: SecretText | None) -> DriverError:
    error_class, code = classify(exc)
    return connector_error(error_class, str(exc), secret=secret, driver_code=code)


@dataclass(slots=True)
class OracleExecutor(Executor):
    """Statements with positional binds, fetched with arraysize 1,000, each under `statement timeout + 5 s`."""

    connection: oracledb.AsyncConnection
    deadline_s: float
    secret: SecretText

    async def fetch(self, name: str, sql: str, params: Sequence[object] = ()) -> ResultSet:
        async def run() -> ResultSet:
            with self.connection.cursor() as cursor:
                cursor.arraysize = 1000
                await cursor.execute(sql, list(params))
                if cursor.description is None:
                    return ResultSet(())
                columns = tuple(str(d[0]) for d in cursor.description)
                return ResultSet(columns, tuple(tuple(row) for row in await cursor.fetchall()))

        try:
            return await within(run(), self.deadline_s, name)
        except oracledb.Error as exc:
            raise translate(exc, self.secret) from exc


class OracleConnector(Connector):
    """One connection to the registered service (a PDB or a non-CDB); the root container is never scanned."""

    def __init__(self, executor: Executor, *, timeouts: ConnectorTimeouts, context: ConnectorContext) -> None:
        self._executor = executor
        self._timeouts = timeouts
        self._context = context

    async def server_info(self) -> ServerInfo:
        counter = QueryCounter(self._executor)
        return mapping.server_info(await catalog.fetch_with_fallback(counter, "VERSION", queries.VERSION,
                                                                     queries.VERSION_12))

    async def missing_collector_privileges(self) -> tuple[str, ...]:
        """Zero-row probes of every dictionary view the collector reads (accounts and capacity)."""
        missing = []
        for view in (*queries.ACCOUNT_VIEWS, *queries.CAPACITY_VIEWS):
            try:
                await self._executor.fetch("PROBE", queries.probe(view))
            except DriverError as exc:
                if exc.error_class is not ErrorClass.PERMISSION_DENIED:
                    raise
                missing.append(f"SELECT ON SYS.{view}")
        return tuple(missing)

    async def read_account_catalog(self, *, instance_id: int) -> AccountCatalogRows:
        return await within(
            catalog.read_catalog(self._executor, instance_id=InstanceId(instance_id), clock=self._context.clock),
            self._timeouts.instance_deadline_s, "the account catalog read")

    async def list_databases(self) -> tuple[str, ...]:
        return mapping.names(await self._executor.fetch("INVENTORY", queries.INVENTORY))

    async def system_databases(self) -> frozenset[str]:
        return frozenset(mapping.names(await self._executor.fetch("SYSTEM_TABLESPACES",
                                                                  queries.SYSTEM_TABLESPACES)))

    async def database_sizes(self, names: Sequence[str]) -> SizeCollection:
        return mapping.sizes(names, await self._executor.fetch("SIZES", queries.SIZES))

    async def table_sizes(self, database: str, *, max_tables: int) -> tuple[TableSizeRow, ...]:
        return mapping.table_sizes(await self._executor.fetch("TABLE_SIZES", queries.TABLE_SIZES,
                                                              (database, max_tables)))


@asynccontextmanager
async def open_connector(target: ConnectionTarget, timeouts: ConnectorTimeouts,
                         context: ConnectorContext) -> AsyncIterator[Connector]:
    """Connect to `host:port/service` (the instance's database_name) in thin mode."""
    connect = oracledb.connect_async(user=target.username, password=target.secret.reveal(), host=target.host,
                                     port=target.port, service_name=target.database_name,
                                     tcp_connect_timeout=timeouts.connect_s)
    try:
        connection = await within(connect, connect_deadline(timeouts),
                                  f"connecting to {target.host}:{target.port}/{target.database_name}")
    except oracledb.Error as exc:
        raise translate(exc, target.secret) from exc
    connection.call_timeout = int(timeouts.statement_s * 1000)
    try:
        yield OracleConnector(OracleExecutor(connection, statement_deadline(timeouts), target.secret),
                              timeouts=timeouts, context=context)
    finally:
        with contextlib.suppress(Exception):
            await within(connection.close(), connect_deadline(timeouts), "closing the connection")
