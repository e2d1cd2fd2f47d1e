"""MySQL 5.7/8.x and MariaDB 10.4+ connector: pymysql in the bounded driver pool, every call under an outer
deadline, driver errors translated to the connector taxonomy (capacity.md §2.1–2.2)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final

# pymysql ships no type information and the project has no stubs for it (types-PyMySQL).
import pymysql  # type: ignore[import-untyped]
import pymysql.cursors  # type: ignore[import-untyped]

from whalefall.adapters.connectors._shared import (
    ConnectorContext,
    DriverError,
    Executor,
    ResultSet,
    connect_deadline,
    connector_error,
    statement_deadline,
    text,
    within,
)
from whalefall.adapters.connectors.mysql import catalog, mapping, queries
from whalefall.application.ports.connectors import (
    AccountCatalogRows,
    Capability,
    Connector,
    ConnectorTimeouts,
    ServerInfo,
    SizeCollection,
    TableSizeRow,
)
from whalefall.domain.accounts.normalize.builder import version_tuple
from whalefall.domain.instances import ConnectionTarget, Flavor, InstanceId, SecretText
from whalefall.domain.sessions.backoff import ErrorClass

CAPABILITIES: Final = frozenset({Capability.ACCOUNTS, Capability.ROLE_GRAPH, Capability.DATABASE_SIZES,
                                 Capability.TABLE_SIZES})

_CLASSES: Final = {
    1040: ErrorClass.SERVER_BUSY, 1203: ErrorClass.SERVER_BUSY, 1226: ErrorClass.SERVER_BUSY,
    1044: ErrorClass.PERMISSION_DENIED, 1142: ErrorClass.PERMISSION_DENIED, 1143: ErrorClass.PERMISSION_DENIED,
    1227: ErrorClass.PERMISSION_DENIED, 1045: ErrorClass.AUTH_FAILED, 1130: ErrorClass.AUTH_FAILED,
    1698: ErrorClass.AUTH_FAILED, 1820: ErrorClass.AUTH_FAILED, 1862: ErrorClass.AUTH_FAILED,
    3118: ErrorClass.AUTH_FAILED, 4151: ErrorClass.AUTH_FAILED, 1049: ErrorClass.CONFIG_ERROR,
    1129: ErrorClass.CONFIG_ERROR, 1109: ErrorClass.UNSUPPORTED, 1146: ErrorClass.UNSUPPORTED,
    1193: ErrorClass.UNSUPPORTED, 2003: ErrorClass.UNREACHABLE, 2005: ErrorClass.UNREACHABLE,
    2006: ErrorClass.CONNECTION_LOST, 2013: ErrorClass.CONNECTION_LOST, 2055: ErrorClass.CONNECTION_LOST,
    1317: ErrorClass.TIMEOUT, 1969: ErrorClass.TIMEOUT, 3024: ErrorClass.TIMEOUT,
}
#: Catalog tables the collector reads (accounts.md §2.6).
_MARIADB_TABLES: Final = ("mysql.global_priv", "mysql.db", "mysql.tables_priv", "mysql.columns_priv",
                          "mysql.procs_priv", "mysql.proxies_priv", "mysql.roles_mapping")
_MYSQL_TABLES: Final = ("mysql.user", "mysql.db", "mysql.tables_priv", "mysql.columns_priv", "mysql.procs_priv",
                        "mysql.proxies_priv")
_MYSQL_80_TABLES: Final = ("mysql.role_edges", "mysql.default_roles", "mysql.global_grants")
#: Global privileges on which `information_schema.TABLES` lists every table (capacity.md §3.6).
_TABLE_LISTING: Final = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX",
                                   "ALTER", "CREATE VIEW", "SHOW VIEW", "TRIGGER", "DELETE HISTORY"})


def classify(exc: BaseException) -> tuple[ErrorClass, int | None]:
    """The taxonomy class of a pymysql or socket error, with the MySQL error number when there is one."""
    if isinstance(exc, pymysql.err.MySQLError):
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        original = getattr(exc, "original_exception", None)
        # pymysql reports its socket timeouts as 2003 (connect) or 2013 (lost connection) "(timed out)".
        if isinstance(original, TimeoutError) or (code in {2003, 2013} and "timed out" in str(exc)):
            return ErrorClass.TIMEOUT, code
        return _CLASSES.get(code or 0, ErrorClass.INTERNAL), code
    if isinstance(exc, TimeoutError):
        return ErrorClass.TIMEOUT, None
    if isinstance(exc, ConnectionError):
        return ErrorClass.CONNECTION_LOST, None
    if isinstance(exc, OSError):
        return ErrorClass.UNREACHABLE, None
    return ErrorClass.INTERNAL, None


def translate(exc: BaseException, secret: SecretText | None) -> DriverError:
    error_class, code = classify(exc)
    detail = exc.args[1] if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) > 1 else str(exc)
    prefix = f"MySQL error {code}: " if code else ""
    return connector_error(error_class, f"{prefix}{detail or type(exc).__name__}", secret=secret, driver_code=code)


@dataclass(slots=True)
class PyMySqlExecutor(Executor):
    """Each statement in the driver pool under `statement timeout + 5 s`, streamed in batches of 1,000 rows.
    After an abandoned call the connection is unusable (a reply may still arrive), so later calls fail fast."""

    connection: pymysql.connections.Connection
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
            with connection.cursor(pymysql.cursors.SSCursor) as cursor:
                cursor.execute(sql, tuple(params) if params else None)
                if cursor.description is None:
                    return ResultSet(())
                columns = tuple(str(d[0]) for d in cursor.description)
                rows: list[tuple[object, ...]] = []
                while batch := cursor.fetchmany(1000):
                    rows.extend(tuple(row) for row in batch)
                return ResultSet(columns, tuple(rows))

        try:
            return await self.context.threads.run(run, deadline_s=self.deadline_s)
        except TimeoutError as exc:
            self.broken = True
            raise DriverError(ErrorClass.TIMEOUT, f"{name} did not finish within {self.deadline_s:g} s",
                              driver_code=None) from exc
        except (pymysql.err.MySQLError, OSError) as exc:
            raise translate(exc, self.secret) from exc


class MySqlConnector(Connector):
    """One open pymysql connection; the flavor and version are read live (never from stored metadata)."""

    def __init__(self, executor: Executor, *, context: ConnectorContext, timeouts: ConnectorTimeouts) -> None:
        self._executor = executor
        self._context = context
        self._timeouts = timeouts
        self._info: ServerInfo | None = None
        self._inventory: tuple[str, ...] | None = None

    async def server_info(self) -> ServerInfo:
        [row] = mapping.records(await self._executor.fetch("VERSION", queries.VERSION))
        version = text(row["version"])
        comment = row.get("version_comment")
        self._info = mapping.server_info(version, None if comment is None else text(comment))
        return self._info

    async def _known_info(self) -> ServerInfo:
        return self._info or await self.server_info()

    async def _is_mysql_80(self) -> bool:
        info = await self._known_info()
        return info.flavor == Flavor.MYSQL.value and version_tuple(info.raw) >= (8, 0, 0)

    async def missing_collector_privileges(self) -> tuple[str, ...]:
        """Zero-row probes of every catalog table and the tablespace view, plus the global SHOW DATABASES and a
        table-listing privilege (direct grants; privileges through roles are not seen here)."""
        info = await self._known_info()
        if info.flavor == Flavor.MARIADB.value:
            tables: tuple[str, ...] = _MARIADB_TABLES
        else:
            tables = _MYSQL_TABLES + (_MYSQL_80_TABLES if await self._is_mysql_80() else ())
        missing = [f"SELECT ON {table}" for table in tables if not await self._can_read(table)]
        view = queries.TABLESPACE_VIEW_80 if await self._is_mysql_80() else queries.TABLESPACE_VIEW_SYS
        if not await self._can_read(view):
            missing.append("PROCESS ON *.*")
        held = {text(row[0]).upper() for row in
                (await self._executor.fetch("PRIVILEGES", queries.GLOBAL_PRIVILEGES)).rows}
        if "SHOW DATABASES" not in held:
            missing.append("SHOW DATABASES ON *.*")
        if not held & _TABLE_LISTING:
            missing.append("SHOW VIEW ON *.*")
        return tuple(missing)

    async def _can_read(self, table: str) -> bool:
        try:
            await self._executor.fetch("PROBE", queries.probe(table))
        except DriverError as exc:
            if exc.error_class is ErrorClass.PERMISSION_DENIED:
                return False
            raise
        return True

    async def read_account_catalog(self, *, instance_id: int) -> AccountCatalogRows:
        return await within(
            catalog.read_catalog(self._executor, instance_id=InstanceId(instance_id), clock=self._context.clock),
            self._timeouts.instance_deadline_s, "the account catalog read")

    async def list_databases(self) -> tuple[str, ...]:
        self._inventory = mapping.schema_names(await self._executor.fetch("INVENTORY", queries.INVENTORY))
        return self._inventory

    def _tablespace_view(self, info: ServerInfo) -> tuple[str, str]:
        """(preferred, fallback) by flavor and version (capacity.md §3.3)."""
        if info.flavor == Flavor.MYSQL.value and version_tuple(info.raw) >= (8, 0, 0):
            return queries.TABLESPACES_80, queries.TABLESPACES_SYS
        return queries.TABLESPACES_SYS, queries.TABLESPACES_80

    async def database_sizes(self, names: Sequence[str]) -> SizeCollection:
        """File-per-table tablespaces attributed by decoded schema name plus non-InnoDB tables; the other view is
        tried once when the preferred one does not exist (1109); an existing empty view is a valid answer."""
        info = await self._known_info()
        inventory = self._inventory if self._inventory is not None else await self.list_databases()
        if await self._is_mysql_80():
            await self._executor.fetch("STATS_EXPIRY", queries.STATS_EXPIRY_OFF)
        preferred, fallback = self._tablespace_view(info)
        try:
            tablespaces = await self._executor.fetch("TABLESPACES", preferred)
        except DriverError as exc:
            if exc.driver_code != 1109:
                raise
            tablespaces = await self._executor.fetch("TABLESPACES", fallback)
        non_innodb = (await self._executor.fetch("NON_INNODB", queries.NON_INNODB_SIZES)
                      if self._context.options.mysql_include_non_innodb else None)
        return mapping.attribute_sizes(names, inventory=inventory, tablespaces=tablespaces, non_innodb=non_innodb)

    async def table_sizes(self, database: str, *, max_tables: int) -> tuple[TableSizeRow, ...]:
        if await self._is_mysql_80():
            await self._executor.fetch("STATS_EXPIRY", queries.STATS_EXPIRY_OFF)
        return mapping.table_sizes(await self._executor.fetch("TABLE_SIZES", queries.TABLE_SIZES,
                                                              (database, max_tables)))


@asynccontextmanager
async def open_connector(target: ConnectionTarget, timeouts: ConnectorTimeouts,
                         context: ConnectorContext) -> AsyncIterator[Connector]:
    """Connect (bounded by connect + 5 s) with utf8mb4 and autocommit; close on exit."""

    def connect() -> pymysql.connections.Connection:
        connection = pymysql.connect(
            host=target.host, port=target.port, user=target.username, password=target.secret.reveal(),
            database=target.database_name or None, connect_timeout=timeouts.connect_s,
            # The handshake is read with the read timeout: bound it by the connect timeout, so a listener that
            # accepts and never answers fails within it ...
            read_timeout=timeouts.connect_s, write_timeout=timeouts.connect_s,
            autocommit=True, charset="utf8mb4")
        # ... then statements get the statement timeout (pymysql re-applies `_read_timeout` before each read).
        connection._read_timeout = timeouts.statement_s
        connection._write_timeout = timeouts.statement_s
        return connection

    try:
        connection = await context.threads.run(connect, deadline_s=connect_deadline(timeouts))
    except TimeoutError as exc:
        raise DriverError(ErrorClass.TIMEOUT, f"connecting to {target.host}:{target.port} did not finish within "
                          f"{connect_deadline(timeouts):g} s", driver_code=None) from exc
    except (pymysql.err.MySQLError, OSError) as exc:
        raise translate(exc, target.secret) from exc
    executor = PyMySqlExecutor(connection, context, statement_deadline(timeouts), target.secret)
    try:
        yield MySqlConnector(executor, context=context, timeouts=timeouts)
    finally:
        with contextlib.suppress(Exception):
            await context.threads.run(connection.close, deadline_s=connect_deadline(timeouts))

