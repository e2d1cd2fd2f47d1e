"""Connector port: one open connection to a monitored instance, created by a typed engine registry.

Connectors are read-only. Every call is bounded by the driver's own timeout and an outer asyncio deadline
(capacity.md §2.1); driver errors leave the adapter only as ConnectorError carrying the error class of
capacity.md §2.2, with a redacted message.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from whalefall.domain.accounts.rows.mysql import MariaDbCatalogRows, MySqlCatalogRows
from whalefall.domain.accounts.rows.oracle import OracleCatalogRows
from whalefall.domain.accounts.rows.postgresql import PgCatalogRows
from whalefall.domain.accounts.rows.sqlserver import SqlServerCatalogRows
from whalefall.domain.errors import WhalefallError
from whalefall.domain.instances import ConnectionTarget, DbEngine
from whalefall.domain.sessions.backoff import ErrorClass, is_retryable

AccountCatalogRows = MySqlCatalogRows | MariaDbCatalogRows | PgCatalogRows | SqlServerCatalogRows | OracleCatalogRows


class Capability(StrEnum):
    """What an engine's connector can do; unsupported means skip with a reason, never an empty result."""

    ACCOUNTS = "accounts"
    ROLE_GRAPH = "role_graph"
    DATABASE_SIZES = "database_sizes"
    TABLE_SIZES = "table_sizes"
    LOG_SIZES = "log_sizes"


class ConnectorError(WhalefallError):
    """A monitored database failed us; `error_class` decides retries, `code` is the specific error code.

    These are never HTTP errors: they become data in connection-test results and sync records.
    """

    code = "CONNECTOR_ERROR"
    default_message = "The monitored database could not be read"

    def __init__(self, error_class: ErrorClass, message: str | None = None, *, error_code: str | None = None) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.error_code = error_code or error_class.value

    @property
    def retryable(self) -> bool:
        return is_retryable(self.error_class)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerInfo:
    """Version detection result (capacity.md §2.3); numbers are None when the banner is unparseable."""

    flavor: str
    version: str | None
    version_major: int | None
    version_minor: int | None
    edition: str | None
    product: str | None
    raw: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorTimeouts:
    """Settings `connector.*` (seconds)."""

    connect_s: float = 10
    statement_s: float = 300
    test_statement_s: float = 15
    instance_deadline_s: float = 900


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseSizeRow:
    """One database's size in bytes; `size_bytes=None` means unreadable (missing), never 0."""

    name: str
    size_bytes: int | None
    data_bytes: int | None = None
    log_bytes: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SizeCollection:
    """Sizes of the requested databases; MySQL reports file-per-table bytes it could not attribute."""

    sizes: tuple[DatabaseSizeRow, ...]
    unattributed_bytes: int | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TableSizeRow:
    schema_name: str
    table_name: str
    total_bytes: int
    data_bytes: int | None = None
    index_bytes: int | None = None
    row_estimate: int | None = None


class Connector(Protocol):
    """An open, read-only connection to one instance."""

    @abstractmethod
    async def server_info(self) -> ServerInfo:
        """Read the version live (never from stored instance metadata)."""

    @abstractmethod
    async def missing_collector_privileges(self) -> tuple[str, ...]:
        """Grants the collector login lacks for account and size collection (empty = all present)."""

    @abstractmethod
    async def read_account_catalog(self, *, instance_id: int) -> AccountCatalogRows:
        """Every principal, grant and membership in a constant number of queries (accounts.md §2).
        A failed required query raises ConnectorError (code CATALOG_READ_FAILED); optional per-database reads
        become `failed_databases` entries."""

    @abstractmethod
    async def list_databases(self) -> tuple[str, ...]:
        """The inventory query of capacity.md §3.2 (names exactly as the engine reports them)."""

    async def system_databases(self) -> frozenset[str]:
        """Names the engine's catalog itself marks as system (capacity.md §3.2: SQL Server databases with
        database_id ≤ 4 or distributors, Oracle UNDO and TEMPORARY tablespaces). Engines whose system databases
        are fixed names (MySQL, PostgreSQL) keep this default: the caller adds the fixed names. Not abstract on
        purpose, so scripted test connectors that never size anything need not implement it."""
        return frozenset()

    @abstractmethod
    async def database_sizes(self, names: Sequence[str]) -> SizeCollection:
        """Sizes of the given databases per capacity.md §3.2–3.3."""

    @abstractmethod
    async def table_sizes(self, database: str, *, max_tables: int) -> tuple[TableSizeRow, ...]:
        """The largest `max_tables` tables of one database (capacity.md §3.4)."""


class ConnectorFactory(Protocol):
    """The typed engine registry behind the port."""

    @abstractmethod
    def capabilities(self, engine: DbEngine) -> frozenset[Capability]:
        """Capability flags of the engine's connector."""

    @abstractmethod
    def open(self, target: ConnectionTarget, timeouts: ConnectorTimeouts) -> AbstractAsyncContextManager[Connector]:
        """Connect (bounded by `connect_s` + 5 s) and close on exit; raises ConnectorError."""
