"""End to end against the real MariaDB and PostgreSQL servers: create principals and grants, sync, change, re-sync,
check the change log and the ledger; a bad password fails the record and writes nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from urllib.parse import unquote, urlsplit

import psycopg
import pymysql  # type: ignore[import-untyped]
import pytest
from psycopg import sql

from tests.unit.application.accounts.harness import SyncHarness
from whalefall.adapters.clock import SystemClock
from whalefall.adapters.connectors.registry import ConnectorRegistry, DriverThreads
from whalefall.application.ports.connectors import ConnectorError
from whalefall.domain.instances import DbEngine
from whalefall.domain.sessions.backoff import ErrorClass

MARIADB_DSN = os.environ.get("WHALEFALL_TEST_MARIADB_DSN", "mysql://whalefall:whalefall@127.0.0.1:3306/whalefall")
PG_DSN = os.environ.get("WHALEFALL_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _parts(dsn: str) -> tuple[str, int, str, str, str]:
    url = urlsplit(dsn.replace("+psycopg", ""))
    return (url.hostname or "127.0.0.1", url.port or 0, unquote(url.username or ""), unquote(url.password or ""),
            url.path.lstrip("/"))


def _count(counters: Mapping[str, object], name: str) -> int:
    value = counters[name]
    assert isinstance(value, int)
    return value


@pytest.fixture
def real(ledger: SyncHarness) -> Iterator[SyncHarness]:
    threads = DriverThreads(4)
    ledger.real_connectors = ConnectorRegistry(clock=SystemClock(), threads=threads)
    try:
        yield ledger
    finally:
        threads.close()


@pytest.fixture
def mariadb() -> Iterator[tuple[pymysql.connections.Connection, str]]:
    host, port, user, password, _ = _parts(MARIADB_DSN)
    try:
        conn = pymysql.connect(host=host, port=port or 3306, user=user, password=password, autocommit=True,
                               connect_timeout=3)
    except pymysql.err.OperationalError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"MariaDB is required in CI: {exc}")
        pytest.skip(f"MariaDB not reachable ({exc}); set WHALEFALL_TEST_MARIADB_DSN")
    prefix = f"wfe{uuid.uuid4().hex[:6]}"
    try:
        yield conn, prefix
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT User, Host FROM mysql.user WHERE User LIKE %s", (prefix + "%",))
            for name, host_part in cur.fetchall():
                if host_part == "":
                    cur.execute(f"DROP ROLE `{name}`")  # MariaDB roles have an empty host
                else:
                    cur.execute("DROP USER %s@%s", (name, host_part))
            cur.execute(f"DROP DATABASE IF EXISTS `{prefix}_db`")
        conn.close()


@pytest.mark.mariadb
async def test_mariadb_sync_change_resync(real: SyncHarness,
                                          mariadb: tuple[pymysql.connections.Connection, str]) -> None:
    conn, prefix = mariadb
    alice, bob = f"{prefix}_alice", f"{prefix}_bob"
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{prefix}_db`")
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY 'x1'", (alice,))
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY 'x2'", (bob,))
        cur.execute(f"GRANT SELECT, INSERT ON `{prefix}_db`.* TO %s@'%%'", (alice,))
        cur.execute(f"CREATE ROLE {prefix}_reader")
        cur.execute(f"GRANT SELECT ON `{prefix}_db`.* TO {prefix}_reader")
        cur.execute(f"GRANT {prefix}_reader TO %s@'%%'", (bob,))
    host, port, user, password, _ = _parts(MARIADB_DSN)
    instance = await real.add_instance("maria", db_type=DbEngine.MYSQL, host=host, port=port or 3306,
                                       username=user, password=password)
    first = await real.sync(instance)
    assert _count(first.counters, "accounts_added") >= 3
    stored = {r["key"]: r for r in await real.rows("SELECT id, key, kind FROM principals WHERE key LIKE :p",
                                                   p=prefix + "%")}
    assert stored[f"{alice}@%"]["kind"] == "user" and stored[f"{prefix}_reader"]["kind"] == "role"
    grants = await real.rows("SELECT privilege, object_path FROM grant_intervals WHERE principal_id = :p "
                             "AND valid_to IS NULL ORDER BY privilege", p=stored[f"{alice}@%"]["id"])
    assert [(g["privilege"], g["object_path"]) for g in grants] == [("INSERT", f"{prefix}_db"),
                                                                      ("SELECT", f"{prefix}_db")]

    with conn.cursor() as cur:
        cur.execute(f"REVOKE INSERT ON `{prefix}_db`.* FROM %s@'%%'", (alice,))
        cur.execute("DROP USER %s@'%%'", (bob,))
    real.reset_statements()
    second = await real.sync(instance)
    assert second.counters["accounts_removed"] == 1 and second.counters["grants_revoked"] == 1
    changes = await real.rows("SELECT p.key, c.type FROM principal_changes c JOIN principals p "
                              "ON p.id = c.principal_id WHERE p.key LIKE :p AND c.sync_record_id = 2 ORDER BY c.id",
                              p=prefix + "%")
    assert {(c["key"], c["type"]) for c in changes} == {(f"{alice}@%", "privileges_revoked"),
                                                        (f"{bob}@%", "removed")}
    real.reset_statements()
    third = await real.sync(instance)
    assert third.counters["accounts_changed"] == 0 and third.counters["accounts_added"] == 0
    assert real.ledger_writes() == []


@pytest.mark.mariadb
async def test_bad_password_fails_and_writes_nothing(real: SyncHarness,
                                                     mariadb: tuple[pymysql.connections.Connection, str]) -> None:
    host, port, user, _, _ = _parts(MARIADB_DSN)
    instance = await real.add_instance("maria-bad", db_type=DbEngine.MYSQL, host=host, port=port or 3306,
                                       username=user, password="definitely-wrong")
    before = await real.dump()
    with pytest.raises(ConnectorError) as caught:
        await real.sync(instance)
    assert caught.value.error_class is ErrorClass.AUTH_FAILED
    assert await real.dump() == before


@pytest.fixture
async def pg_roles() -> AsyncIterator[tuple[psycopg.AsyncConnection[object], str]]:
    host, port, user, password, database = _parts(PG_DSN)
    try:
        conn = await psycopg.AsyncConnection.connect(host=host, port=port or 5432, user=user, password=password,
                                                     dbname=database or "postgres", autocommit=True,
                                                     connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable ({exc})")
    prefix = f"wfe{uuid.uuid4().hex[:6]}"
    try:
        yield conn, prefix
    finally:
        rows = await (await conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (prefix + "%",))
                      ).fetchall()
        for (name,) in rows:
            await conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(str(name))))
            await conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(str(name))))
        await conn.close()


@pytest.mark.postgres
async def test_postgresql_sync_change_resync(real: SyncHarness,
                                             pg_roles: tuple[psycopg.AsyncConnection[object], str]) -> None:
    conn, prefix = pg_roles
    reader, carol = f"{prefix}_reader", f"{prefix}_carol"
    await conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(reader)))
    await conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'x'").format(sql.Identifier(carol)))
    await conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(reader), sql.Identifier(carol)))
    host, port, user, password, database = _parts(PG_DSN)
    instance = await real.add_instance("pg-live", db_type=DbEngine.POSTGRESQL, host=host, port=port or 5432,
                                       username=user, password=password, database_name=database or "postgres")
    await real.sync(instance)
    carol_id = await real.scalar("SELECT id FROM principals WHERE key = :k", k=carol)
    assert await real.scalar("SELECT role_key FROM membership_intervals WHERE member_id = :p AND valid_to IS NULL",
                             p=carol_id) == reader
    await conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(reader), sql.Identifier(carol)))
    await conn.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 3").format(sql.Identifier(carol)))
    result = await real.sync(instance)
    assert _count(result.counters, "accounts_changed") >= 1
    types = {r["type"] for r in await real.rows(
        "SELECT type FROM principal_changes WHERE principal_id = :p AND sync_record_id = 2", p=carol_id)}
    assert types == {"privileges_revoked", "attributes_changed"}
