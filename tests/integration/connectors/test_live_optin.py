"""Opt-in live tests of the SQL Server and Oracle connectors: CI has neither server, so these run only when
WHALEFALL_TEST_MSSQL_DSN (`mssql://user:password@host:1433/master`) or WHALEFALL_TEST_ORACLE_DSN
(`oracle://user:password@host:1521/service`) is set, and skip with that reason otherwise."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

import pytest

from tests.integration.connectors.conftest import TIMEOUTS
from whalefall.adapters.connectors.registry import ConnectorRegistry
from whalefall.domain.accounts.normalize import normalize_oracle, normalize_sqlserver
from whalefall.domain.accounts.rows.oracle import OracleCatalogRows
from whalefall.domain.accounts.rows.sqlserver import SqlServerCatalogRows
from whalefall.domain.instances import ConnectionTarget, DbEngine, InstanceId, SecretText


def live_target(variable: str, engine: DbEngine, default_port: int) -> ConnectionTarget:
    dsn = os.environ.get(variable)
    if not dsn:
        pytest.skip(f"{variable} is not set: {engine.value} connectors never meet a live server in CI")
    parts = urlsplit(dsn)
    return ConnectionTarget(InstanceId(1), engine, parts.hostname or "127.0.0.1", parts.port or default_port,
                            parts.path.lstrip("/") or None, unquote(parts.username or ""),
                            SecretText(unquote(parts.password or "")))


@pytest.mark.mssql
async def test_sqlserver_live_catalog_and_sizes(registry: ConnectorRegistry) -> None:
    target = live_target("WHALEFALL_TEST_MSSQL_DSN", DbEngine.SQLSERVER, 1433)
    async with registry.open(target, TIMEOUTS) as connector:
        info = await connector.server_info()
        assert info.version_major is not None and info.version_major >= 11
        rows = await connector.read_account_catalog(instance_id=1)
        assert isinstance(rows, SqlServerCatalogRows)
        snapshot = normalize_sqlserver(rows)
        assert snapshot.principals and rows.meta.query_count >= 6
        names = await connector.list_databases()
        sizes = await connector.database_sizes(names)
        assert {row.name for row in sizes.sizes} == set(names)
        assert await connector.missing_collector_privileges() == ()


@pytest.mark.oracle
async def test_oracle_live_catalog_and_sizes(registry: ConnectorRegistry) -> None:
    target = live_target("WHALEFALL_TEST_ORACLE_DSN", DbEngine.ORACLE, 1521)
    async with registry.open(target, TIMEOUTS) as connector:
        info = await connector.server_info()
        assert info.version_major is not None and info.version_major >= 12
        rows = await connector.read_account_catalog(instance_id=1)
        assert isinstance(rows, OracleCatalogRows)
        snapshot = normalize_oracle(rows)
        assert snapshot.principals and rows.meta.query_count >= 9
        names = await connector.list_databases()
        assert {row.name for row in (await connector.database_sizes(names)).sizes} == set(names)
