"""Fixtures of the connector integration suite: admin connections to the test MariaDB and PostgreSQL servers
(skipped with a reason when unreachable, failed when CI=true), unique object names, and the registry."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import psycopg
import pymysql  # type: ignore[import-untyped]
import pytest

from tests.fakes.sessions import SettableClock
from whalefall.adapters.connectors.registry import ConnectorOptions, ConnectorRegistry, DriverThreads
from whalefall.application.ports.connectors import ConnectorTimeouts
from whalefall.domain.instances import ConnectionTarget, DbEngine, InstanceId, SecretText

DEFAULT_MARIADB_DSN: Final = "mysql://root@127.0.0.1:3306"
DEFAULT_PG_DSN: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
TIMEOUTS: Final = ConnectorTimeouts(connect_s=5, statement_s=60, test_statement_s=15, instance_deadline_s=300)


@dataclass(frozen=True, slots=True)
class Server:
    host: str
    port: int
    user: str
    password: str
    database: str | None


def parse_dsn(dsn: str, default_port: int) -> Server:
    parts = urlsplit(dsn.replace("+psycopg", ""))
    database = parts.path.lstrip("/") or None
    return Server(parts.hostname or "127.0.0.1", parts.port or default_port, unquote(parts.username or "root"),
                  unquote(parts.password or ""), database)


def unreachable(service: str, variable: str, reason: str) -> None:
    """Fail loudly in CI, skip with the reason elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{service} is required in CI: {reason}")
    pytest.skip(f"{service} not reachable ({reason}); set {variable}")


def mariadb_server() -> Server:
    return parse_dsn(os.environ.get("WHALEFALL_TEST_MARIADB_DSN", DEFAULT_MARIADB_DSN), 3306)


def pg_server() -> Server:
    return parse_dsn(os.environ.get("WHALEFALL_TEST_PG_DSN", DEFAULT_PG_DSN), 5432)


@pytest.fixture
def prefix() -> str:
    """A unique lower-case prefix for every object a test creates (and drops)."""
    return f"wfct{uuid.uuid4().hex[:8]}"


@pytest.fixture
def mariadb_admin() -> Iterator[Any]:
    server = mariadb_server()
    try:
        connection = pymysql.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                                     autocommit=True, charset="utf8mb4", connect_timeout=3)
    except pymysql.err.MySQLError as exc:
        unreachable("MariaDB", "WHALEFALL_TEST_MARIADB_DSN", str(exc))
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def pg_admin() -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    server = pg_server()
    try:
        connection = psycopg.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                                     dbname=server.database or "postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unreachable("PostgreSQL", "WHALEFALL_TEST_PG_DSN", str(exc).splitlines()[0])
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def registry() -> Iterator[ConnectorRegistry]:
    threads = DriverThreads(8)
    try:
        yield ConnectorRegistry(clock=SettableClock(), threads=threads,
                                options=ConnectorOptions(pg_object_grants="full"))
    finally:
        threads.close()


def mariadb_target(user: str, password: str, *, database: str | None = None) -> ConnectionTarget:
    server = mariadb_server()
    return ConnectionTarget(InstanceId(1), DbEngine.MYSQL, server.host, server.port, database, user,
                            SecretText(password))


def pg_target(user: str, password: str = "", *, database: str | None = None) -> ConnectionTarget:
    server = pg_server()
    return ConnectionTarget(InstanceId(1), DbEngine.POSTGRESQL, server.host, server.port,
                            database or server.database or "postgres", user, SecretText(password))
