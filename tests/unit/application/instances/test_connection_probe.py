"""The connection-test probe: version warnings, permission-denied capability probes as warnings, and results
that keep what was learned before a failure (capacity.md §2.3–2.4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.sessions import SettableClock
from whalefall.application.instances.test_connection import _Probe, version_warnings
from whalefall.application.ports.connectors import (
    AccountCatalogRows,
    Connector,
    ConnectorError,
    ServerInfo,
    SizeCollection,
    TableSizeRow,
)
from whalefall.domain.sessions.backoff import ErrorClass


def server(flavor: str, major: int, minor: int) -> ServerInfo:
    return ServerInfo(flavor=flavor, version=f"{major}.{minor}", version_major=major, version_minor=minor,
                      edition=None, product=None, raw=f"{flavor} {major}.{minor}")


@pytest.mark.parametrize(("info", "unsupported"), [
    (server("mysql", 5, 6), True), (server("mysql", 5, 7), False), (server("mariadb", 10, 3), True),
    (server("mariadb", 10, 4), False), (server("postgresql", 11, 22), True), (server("postgresql", 12, 0), False),
    (server("sqlserver", 10, 50), True), (server("oracle", 12, 1), False)])
def test_version_warnings(info: ServerInfo, unsupported: bool) -> None:
    warnings = version_warnings(info)
    assert bool(warnings) is unsupported
    assert all(w.startswith("VERSION_UNSUPPORTED") for w in warnings)


class ScriptedConnector(Connector):
    def __init__(self, clock: SettableClock, *, sizes_error: ConnectorError | None = None,
                 missing: tuple[str, ...] = ()) -> None:
        self.clock = clock
        self.sizes_error = sizes_error
        self.missing = missing

    async def server_info(self) -> ServerInfo:
        self.clock.advance(0.042)
        return server("postgresql", 16, 4)

    async def missing_collector_privileges(self) -> tuple[str, ...]:
        return self.missing

    async def read_account_catalog(self, *, instance_id: int) -> AccountCatalogRows:
        raise AssertionError("a connection test never reads the account catalog")

    async def list_databases(self) -> tuple[str, ...]:
        return ("postgres", "sales")

    async def database_sizes(self, names: Sequence[str]) -> SizeCollection:
        assert list(names) == ["postgres"]
        if self.sizes_error is not None:
            raise self.sizes_error
        return SizeCollection(sizes=())

    async def table_sizes(self, database: str, *, max_tables: int) -> tuple[TableSizeRow, ...]:
        raise AssertionError("not probed")


async def test_probe_measures_latency_and_lists_missing_privileges() -> None:
    clock = SettableClock(datetime(2027, 1, 1, tzinfo=UTC))
    probe = _Probe(clock.now())
    await probe.run(ScriptedConnector(clock, missing=('CONNECT ON DATABASE "sales"',)), clock)
    result = probe.result(error=None)
    assert result.ok and result.latency_ms == 42
    assert result.missing_privileges == ('CONNECT ON DATABASE "sales"',) and result.warnings == ()


async def test_a_denied_capability_probe_is_a_warning_other_errors_fail() -> None:
    clock = SettableClock()
    denied = ConnectorError(ErrorClass.PERMISSION_DENIED, "permission denied for INNODB_SYS_TABLESPACES")
    probe = _Probe(clock.now())
    await probe.run(ScriptedConnector(clock, sizes_error=denied), clock)
    assert probe.result(error=None).warnings == ("CAPABILITY_PROBE_FAILED: permission denied for "
                                                 "INNODB_SYS_TABLESPACES",)
    lost = ConnectorError(ErrorClass.CONNECTION_LOST, "gone")
    probe = _Probe(clock.now() - timedelta(seconds=1))
    with pytest.raises(ConnectorError):
        await probe.run(ScriptedConnector(clock, sizes_error=lost), clock)
    result = probe.result(error=None)
    assert result.server is not None and result.server.version == "16.4"   # learned before the failure
