"""Scripted capacity connectors: a fake server's databases, sizes and tables; a factory serving any Connector."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from whalefall.application.ports.connectors import (
    AccountCatalogRows,
    Capability,
    Connector,
    ConnectorError,
    ConnectorFactory,
    ConnectorTimeouts,
    DatabaseSizeRow,
    ServerInfo,
    SizeCollection,
    TableSizeRow,
)
from whalefall.domain.instances import ConnectionTarget, DbEngine
from whalefall.domain.sessions.backoff import ErrorClass


@dataclass
class FakeCapacityServer:
    """`databases` name → size (None = unreadable); `fail` names a step (`inventory`, `sizes`, `tables`) that
    raises a ConnectorError of `fail_class`."""

    databases: dict[str, int | None] = field(default_factory=dict)
    system: frozenset[str] = frozenset()
    tables: dict[str, list[TableSizeRow]] = field(default_factory=dict)
    unattributed_bytes: int | None = None
    warnings: tuple[str, ...] = ()
    fail: str | None = None
    sizes_delay_s: float = 0
    fail_class: ErrorClass = ErrorClass.CONNECTION_LOST
    size_requests: list[tuple[str, ...]] = field(default_factory=list)

    def _check(self, step: str) -> None:
        if self.fail == step:
            raise ConnectorError(self.fail_class, f"scripted {step} failure")


class FakeCapacityConnector(Connector):
    def __init__(self, server: FakeCapacityServer) -> None:
        self._server = server

    async def server_info(self) -> ServerInfo:
        return ServerInfo(flavor="postgresql", version="16.2", version_major=16, version_minor=2, edition=None,
                          product="PostgreSQL", raw="PostgreSQL 16.2")

    async def missing_collector_privileges(self) -> tuple[str, ...]:
        return ()

    async def read_account_catalog(self, *, instance_id: int) -> AccountCatalogRows:
        raise ConnectorError(ErrorClass.UNSUPPORTED, "capacity fake")

    async def list_databases(self) -> tuple[str, ...]:
        self._server._check("inventory")
        return tuple(self._server.databases)

    async def system_databases(self) -> frozenset[str]:
        return self._server.system

    async def database_sizes(self, names: Sequence[str]) -> SizeCollection:
        self._server._check("sizes")
        await asyncio.sleep(self._server.sizes_delay_s)
        self._server.size_requests.append(tuple(names))
        return SizeCollection(sizes=tuple(DatabaseSizeRow(name=n, size_bytes=self._server.databases.get(n),
                                                          data_bytes=self._server.databases.get(n))
                                          for n in names), unattributed_bytes=self._server.unattributed_bytes,
                              warnings=self._server.warnings)

    async def table_sizes(self, database: str, *, max_tables: int) -> tuple[TableSizeRow, ...]:
        self._server._check("tables")
        rows = sorted(self._server.tables.get(database, []), key=lambda r: -r.total_bytes)
        return tuple(rows[:max_tables])


class CapacityConnectorFactory(ConnectorFactory):
    """Instance id → a connector maker (a fake server, or a recorded engine connector); keeps every target."""

    def __init__(self) -> None:
        self.makers: dict[int, Callable[[], Connector]] = {}
        self.opened: list[ConnectionTarget] = []

    def serve(self, instance_id: int, server: FakeCapacityServer) -> FakeCapacityServer:
        self.makers[instance_id] = lambda: FakeCapacityConnector(server)
        return server

    def serve_connector(self, instance_id: int, maker: Callable[[], Connector]) -> None:
        self.makers[instance_id] = maker

    def capabilities(self, engine: DbEngine) -> frozenset[Capability]:
        return frozenset({Capability.DATABASE_SIZES, Capability.TABLE_SIZES})

    def open(self, target: ConnectionTarget, timeouts: ConnectorTimeouts) -> AbstractAsyncContextManager[Connector]:
        self.opened.append(target)
        maker = self.makers[int(target.instance_id)]

        @asynccontextmanager
        async def connection() -> AsyncIterator[Connector]:
            yield maker()

        return connection()
