"""Capacity collection against the REAL MariaDB and PostgreSQL servers: databases of known content, sizes compared
with the engine's own functions, exact bytes (legacy defects 22 and 25)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pymysql  # type: ignore[import-untyped]
import pytest
from psycopg import sql

from tests.fakes.sessions import SettableClock
from tests.integration.capacity.collection_harness import CollectionHarness
from tests.integration.connectors.conftest import mariadb_server, pg_server, unreachable
from tests.support.stores import Store
from whalefall.adapters.connectors.registry import ConnectorRegistry, DriverThreads
from whalefall.adapters.persistence.engine import Database
from whalefall.domain.instances import DbEngine

pytestmark = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


@pytest.fixture
def prefix() -> str:
    return f"wf_h5_{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def live(store: Store) -> AsyncIterator[CollectionHarness]:
    database = Database(store.url)
    threads = DriverThreads(4)
    try:
        yield CollectionHarness(database, real_connectors=ConnectorRegistry(clock=SettableClock(), threads=threads))
    finally:
        threads.close()
        await database.dispose()


@pytest.fixture
def mariadb(prefix: str) -> Iterator[Any]:
    server = mariadb_server()
    try:
        conn = pymysql.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                               autocommit=True, charset="utf8mb4", connect_timeout=3)
    except pymysql.err.MySQLError as exc:
        unreachable("MariaDB", "WHALEFALL_TEST_MARIADB_DSN", str(exc))
    try:
        yield conn
    finally:
        with conn.cursor() as cur:
            for suffix in ("inno", "myisam"):
                cur.execute(f"DROP DATABASE IF EXISTS `{prefix}_{suffix}`")
        conn.close()


@pytest.fixture
def pg(prefix: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    server = pg_server()
    try:
        conn = psycopg.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                               dbname=server.database or "postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unreachable("PostgreSQL", "WHALEFALL_TEST_PG_DSN", str(exc).splitlines()[0])
    try:
        yield conn
    finally:
        for suffix in ("open", "closed"):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(f"{prefix}_{suffix}")))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(f"{prefix}_login")))
        conn.close()


@pytest.mark.mariadb
async def test_mariadb_sizes_equal_the_servers_own_numbers(live: CollectionHarness, mariadb: Any,
                                                           prefix: str) -> None:
    inno, myisam = f"{prefix}_inno", f"{prefix}_myisam"
    with mariadb.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{inno}`")
        cur.execute(f"CREATE TABLE `{inno}`.orders (id INT PRIMARY KEY, note VARCHAR(200)) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO `{inno}`.orders SELECT seq, REPEAT('x', 150) FROM `{inno}`.seq_1_to_3000")
        cur.execute(f"CREATE DATABASE `{myisam}`")
        cur.execute(f"CREATE TABLE `{myisam}`.log (id INT, msg VARCHAR(100)) ENGINE=MyISAM")
        cur.execute(f"INSERT INTO `{myisam}`.log SELECT seq, REPEAT('y', 80) FROM `{myisam}`.seq_1_to_500")
    server = mariadb_server()
    iid = await live.add_instance("maria", db_type=DbEngine.MYSQL, host=server.host, port=server.port,
                                  username=server.user, password=server.password)
    result = await live.collect(iid, params={"include_tables": True})
    assert result.skipped_code is None
    with mariadb.cursor() as cur:
        cur.execute("SELECT SUM(FILE_SIZE) FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME LIKE %s",
                    (f"{inno}/%",))
        inno_expected = int(cur.fetchone()[0])
        cur.execute("SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                    (myisam,))
        myisam_expected = int(cur.fetchone()[0])
    samples = await live.day_samples(iid)
    assert samples[inno] == inno_expected > 0
    assert samples[myisam] == myisam_expected > 0
    ledger = await live.ledger(iid)
    assert ledger["mysql"]["is_system"] and ledger["information_schema"]["is_system"]
    assert not ledger[inno]["is_system"] and ledger[inno]["last_size_bytes"] == inno_expected
    sample = await live.instance_sample(iid)
    assert sample is not None and sample["total_bytes"] == sum(samples.values())  # §1.5 invariant
    tables = await live.rows("SELECT table_name, row_estimate FROM table_size_snapshots WHERE database_name = :d",
                             d=inno)
    assert [t["table_name"] for t in tables] == ["orders"]


@pytest.mark.postgres
async def test_postgresql_sizes_and_a_database_without_connect(live: CollectionHarness,
                                                               pg: psycopg.Connection[tuple[Any, ...]],
                                                               prefix: str) -> None:
    """Defect 25 against the server: the login lacks CONNECT on one database → that one is missing, the rest are
    sampled with `pg_database_size` to the byte."""
    opened, closed, login = f"{prefix}_open", f"{prefix}_closed", f"{prefix}_login"
    pg.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
    for name in (opened, closed):
        pg.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    pg.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(closed)))
    server = pg_server()
    with psycopg.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                         dbname=opened, autocommit=True) as conn:
        conn.execute("CREATE TABLE t AS SELECT g AS id, repeat('z', 100) AS pad FROM generate_series(1, 5000) g")
    iid = await live.add_instance("pgsrv", db_type=DbEngine.POSTGRESQL, host=server.host, port=server.port,
                                  username=login, password="unused", database_name="postgres")
    result = await live.collect(iid)
    row = pg.execute("SELECT pg_database_size(%s)", (opened,)).fetchone()
    assert row is not None
    samples = await live.day_samples(iid)
    assert samples[opened] == int(row[0])
    assert closed not in samples
    assert closed in result.details["missing"]  # type: ignore[operator]
    sample = await live.instance_sample(iid)
    assert sample is not None and sample["missing_database_count"] >= 1
    ledger = await live.ledger(iid)
    assert ledger[closed]["status"] == "active" and ledger[closed]["last_size_bytes"] is None
    assert ledger["template0"]["is_system"] and ledger["postgres"]["is_system"]
