"""Accounts sync benchmark (accounts.md §4, defects 14 and 23): a MariaDB server with 5,000 accounts and ~12k database
grants, synced end to end (real connector, RunInstanceSync, real metadata store) into SQLite and PostgreSQL.

Targets: full first sync ≤ 3 s, unchanged re-sync ≤ 1.5 s with zero INSERT/UPDATE/DELETE on ledger tables, and the
same catalog query count for both syncs. Accounts are created as `wfbench_*` users (and dropped at the end).

    uv run python bench/accounts_sync_bench.py [--accounts 5000] [--grants 12000] [--keep] [--reuse]
        [--store both|sqlite|postgresql]

`--keep` leaves the `wfbench_*` users in place at the end; `--reuse` skips the (~2 min) setup when the server already
holds exactly that many `wfbench_*` users with the requested grant count (left by an earlier `--keep` run).

Prints ONE JSON object. Needs WHALEFALL_TEST_MARIADB_DSN (default mysql://whalefall:whalefall@127.0.0.1:3306) and,
for the PostgreSQL store, WHALEFALL_TEST_PG_DSN (skipped with a note when unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pymysql  # type: ignore[import-untyped]
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.stores import create_scratch_pg, drop_scratch_pg, migrate, sqlite_url
from tests.unit.application.accounts.harness import SyncHarness

from whalefall.adapters.clock import SystemClock
from whalefall.adapters.connectors.registry import ConnectorRegistry, DriverThreads
from whalefall.adapters.persistence.engine import Database
from whalefall.domain.instances import DbEngine

PREFIX = "wfbench_"
DSN = os.environ.get("WHALEFALL_TEST_MARIADB_DSN", "mysql://whalefall:whalefall@127.0.0.1:3306/whalefall")


def _mariadb() -> tuple[pymysql.connections.Connection, dict[str, Any]]:
    url = urlsplit(DSN)
    params = {"host": url.hostname or "127.0.0.1", "port": url.port or 3306, "user": unquote(url.username or ""),
              "password": unquote(url.password or "")}
    return pymysql.connect(**params, autocommit=True), params


def _drop(conn: pymysql.connections.Connection) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT User, Host FROM mysql.user WHERE User LIKE %s", (PREFIX + "%",))
        users = cur.fetchall()
        for start in range(0, len(users), 500):
            part = users[start:start + 500]
            cur.execute("DROP USER " + ", ".join("%s@%s" for _ in part), [v for u in part for v in u])


def _existing(conn: pymysql.connections.Connection) -> tuple[int, int]:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM mysql.user WHERE User LIKE %s", (PREFIX + "%",))
        users = int(cur.fetchone()[0])
        cur.execute("SELECT count(*) FROM mysql.db WHERE User LIKE %s", (PREFIX + "%",))
        return users, int(cur.fetchone()[0])


def _create(conn: pymysql.connections.Connection, accounts: int, grants: int) -> None:
    _drop(conn)
    per_account = max(1, grants // accounts)
    extra = grants - per_account * accounts
    with conn.cursor() as cur:
        for start in range(0, accounts, 250):
            names = [f"{PREFIX}{i:05d}" for i in range(start, min(accounts, start + 250))]
            cur.execute("CREATE USER " + ", ".join("%s@'%%' IDENTIFIED BY 'x'" for _ in names), names)
        statements = []
        for i in range(accounts):
            count = per_account + (1 if i < extra else 0)
            statements += [(f"GRANT SELECT, INSERT ON `{PREFIX}db{(i + k) % 97}`.* TO %s@'%%'", f"{PREFIX}{i:05d}")
                           for k in range(count)]
        for sql, user in statements:
            cur.execute(sql, (user,))


async def _run_store(url: str, params: dict[str, Any], label: str) -> dict[str, Any]:
    database = Database(url)
    harness = SyncHarness(database)
    threads = DriverThreads(4)
    harness.real_connectors = ConnectorRegistry(clock=SystemClock(), threads=threads)

    def capture(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        harness.statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        instance = await harness.add_instance(f"bench-{label}", db_type=DbEngine.MYSQL, host=params["host"],
                                              port=params["port"], username=params["user"],
                                              password=params["password"])
        started, cpu = time.perf_counter(), time.process_time()
        first = await harness.sync(instance)
        first_s, first_cpu = time.perf_counter() - started, time.process_time() - cpu
        harness.reset_statements()
        started, cpu = time.perf_counter(), time.process_time()
        second = await harness.sync(instance)
        second_s, second_cpu = time.perf_counter() - started, time.process_time() - cpu
        writes = len(harness.ledger_writes())
        grants = await harness.scalar("SELECT count(*) FROM grant_intervals")
        return {
            "first_sync_s": round(first_s, 3), "resync_s": round(second_s, 3),
            # CPU of this process (all threads; the database servers excluded): steadier on a busy machine.
            "first_sync_cpu_s": round(first_cpu, 3), "resync_cpu_s": round(second_cpu, 3),
            "first_within_target": first_s <= 3.0, "resync_within_target": second_s <= 1.5,
            "resync_ledger_writes": writes, "accounts_added": first.counters["accounts_added"],
            "accounts_unchanged": second.counters["accounts_unchanged"], "grant_intervals": grants,
            "query_count_first": first.counters["query_count"], "query_count_resync": second.counters["query_count"],
        }
    finally:
        threads.close()
        await database.dispose()


def main(accounts: int, grants: int, *, keep: bool = False, reuse: bool = False,
         store: str = "both") -> dict[str, Any]:
    conn, params = _mariadb()
    result: dict[str, Any] = {"bench": "accounts_sync", "engine": "mariadb", "accounts": accounts,
                              "database_grants_requested": grants}
    try:
        started = time.perf_counter()
        if reuse and _existing(conn) == (accounts, grants):
            result["setup_reused"] = True
        else:
            _create(conn, accounts, grants)
        result["setup_s"] = round(time.perf_counter() - started, 1)
        if store in ("both", "sqlite"):
            _sqlite(result, params)
        if store in ("both", "postgresql"):
            _postgresql(result, params)
    finally:
        if not keep:
            _drop(conn)
        conn.close()
    return result


def _sqlite(result: dict[str, Any], params: dict[str, Any]) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="wfbench-"))
    try:
        sqlite = scratch / "bench.db"
        migrate(sqlite_url(sqlite))
        result["sqlite"] = asyncio.run(_run_store(sqlite_url(sqlite), params, "sqlite"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _postgresql(result: dict[str, Any], params: dict[str, Any]) -> None:
    try:
        pg_url, admin = create_scratch_pg()
    except BaseException as exc:  # pytest.skip raises outside pytest too
        result["postgresql"] = {"skipped": str(exc) or type(exc).__name__}
    else:
        try:
            migrate(pg_url)
            result["postgresql"] = asyncio.run(_run_store(pg_url, params, "postgresql"))
        finally:
            drop_scratch_pg(pg_url, admin)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--grants", type=int, default=12000)
    parser.add_argument("--keep", action="store_true", help="leave the wfbench_* users in place at the end")
    parser.add_argument("--reuse", action="store_true", help="skip setup when a matching wfbench_* set exists")
    parser.add_argument("--store", choices=("both", "sqlite", "postgresql"), default="both")
    arguments = parser.parse_args()
    print(json.dumps(main(arguments.accounts, arguments.grants, keep=arguments.keep, reuse=arguments.reuse,
                          store=arguments.store)))
