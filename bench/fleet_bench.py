"""Fleet benchmark of the session runtime (operations.md §2.2, defect 17); prints one JSON object.

Run with `uv run python bench/fleet_bench.py`. 2,000 registered instances, one fleet `accounts_sync` session, a
fake kind whose work sleeps 20 ms and then fences and commits through the task's unit of work, the real runner
behind taskiq's InMemoryBroker, `worker.concurrency` = 64. Measured from the first enqueue to the terminal session.
Target: elapsed ≤ 3 × ideal (2000 × 20 ms / 64 = 0.625 s) and peak RSS ≤ 400 MiB. Runs on a scratch SQLite file
and, when reachable (WHALEFALL_TEST_PG_DSN or the local default), a scratch PostgreSQL database; `--store sqlite`
or `--store postgresql` runs one of them. `cpu_s` is the process CPU time of the run: on a shared machine it says
how much of `elapsed_s` was this process's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from dishka import AsyncContainer
from dishka.integrations.taskiq import TaskiqProvider
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.migrations.runner import upgrade
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.application.ports.sessions import NewRecord, SessionStore
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker

INSTANCES = int(os.environ.get("BENCH_INSTANCES", "2000"))
CONCURRENCY = 64
WORK_S = 0.020
IDEAL_S = INSTANCES * WORK_S / CONCURRENCY
PG_DSN = os.environ.get("WHALEFALL_TEST_PG_DSN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
KEY = "k1:" + base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
JWT = "j1:" + base64.urlsafe_b64encode(bytes(range(100, 132))).decode().rstrip("=")


class SleepingWork(RecordWork):
    """20 ms of 'remote' work, then the fenced data transaction of a real kind."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def run(self, context: RecordContext) -> RecordResult:
        await context.check_cancel()
        await asyncio.sleep(WORK_S)
        await context.fence()
        await self._uow.commit()
        return RecordResult(counters={"principals_seen": 1})


async def _work(container: AsyncContainer) -> RecordWork:
    return SleepingWork(await container.get(UnitOfWork))


async def _seed(url: str) -> list[int]:
    database = Database(url)
    try:
        await upgrade(database)
        async with database.connect() as connection:
            now = time.time()
            from datetime import UTC, datetime

            at = datetime.fromtimestamp(now, UTC)
            rows = [{"name": f"db-{n:04d}", "db_type": "postgresql", "host": f"db-{n:04d}.example", "port": 5432,
                     "endpoint_database": "", "is_active": True, "collect_table_sizes": False, "created_at": at,
                     "updated_at": at, "revision": 1} for n in range(INSTANCES)]
            await connection.execute(insert(instances), rows)
            ids = [int(i) for i in (await connection.execute(instances.select().with_only_columns(
                instances.c.id).order_by(instances.c.id))).scalars()]
            await connection.commit()
        return ids
    finally:
        await database.dispose()


async def _run(url: str, data_dir: Path) -> dict[str, Any]:
    ids = await _seed(url)
    settings = Settings.from_environ({
        "WHALEFALL_DATA_DIR": str(data_dir), "WHALEFALL_DATABASE_URL": url, "WHALEFALL_SECRET_KEY": KEY,
        "WHALEFALL_JWT_KEYS": JWT, "WHALEFALL_WORKER_CONCURRENCY": str(CONCURRENCY), "WHALEFALL_RETRY_JITTER": "0",
        "WHALEFALL_LOG_LEVEL": "WARNING"})
    container = make_container(settings, WorkerProvider({SessionKind.ACCOUNTS_SYNC: _work}), TaskiqProvider())
    try:
        async with embedded_worker(container):
            records = [NewRecord(item_type="instance", item_key=str(i), instance_id=i, instance_name=f"db-{i}")
                       for i in ids]
            async with container() as scope:
                opened = await (await scope.get(OpenSession)).execute(OpenSessionInput(
                    kind=SessionKind.ACCOUNTS_SYNC, scope=SessionScope.FLEET, trigger=SessionTrigger.MANUAL,
                    records=records))
            started, cpu_started = time.perf_counter(), time.process_time()
            # OpenSession commits then enqueues; the clock starts once every message is out.
            while True:
                async with container() as scope:
                    view = await (await scope.get(SessionStore)).get(opened.id)
                assert view is not None
                if view.status is not SessionStatus.RUNNING:
                    break
                await asyncio.sleep(0.01)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        await container.close()
    return {"elapsed_s": round(elapsed, 3), "cpu_s": round(cpu, 3), "ratio_to_ideal": round(elapsed / IDEAL_S, 2),
            "status": view.status.value, "succeeded": view.succeeded, "failed": view.failed,
            "skipped": view.skipped, "within_target": elapsed <= 3 * IDEAL_S and view.succeeded == INSTANCES}


def _pg_scratch() -> tuple[str, str] | None:
    admin = make_url(PG_DSN).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"whalefall_bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return None
    return make_url(PG_DSN).set(database=name).render_as_string(hide_password=False), admin


async def main(store: str) -> None:
    result: dict[str, Any] = {"instances": INSTANCES, "concurrency": CONCURRENCY, "work_ms": WORK_S * 1000,
                              "ideal_s": IDEAL_S, "target_s": 3 * IDEAL_S, "load_avg_1m": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        if store in ("both", "sqlite"):
            result["sqlite"] = await _run(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", Path(tmp) / "data-sqlite")
        scratch = _pg_scratch() if store in ("both", "postgresql") else None
        if store == "sqlite":
            pass
        elif scratch is None:
            result["postgresql"] = "skipped: server not reachable"
        else:
            url, admin = scratch
            try:
                result["postgresql"] = await _run(url, Path(tmp) / "data-pg")
            finally:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["peak_rss_mib"] = round(peak_mib, 1)
    result["rss_within_target"] = peak_mib <= 400
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("both", "sqlite", "postgresql"), default="both")
    asyncio.run(main(parser.parse_args().store))
