"""Worker heartbeats (operations.md §8): a running worker keeps a fresh `process_heartbeats` row with its running
task count, and `whalefall worker --healthcheck` follows that row's freshness."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from dishka.integrations.taskiq import TaskiqProvider
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from tests.support.http_client import environ_for
from tests.support.stores import Store
from whalefall.adapters.clock import SystemClock
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.operations import process_heartbeats
from whalefall.application.ports.clock import Clock
from whalefall.entrypoints.cli.main import app
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.di.messaging import WorkerId
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker
from whalefall.entrypoints.worker.heartbeat import healthcheck, heartbeats


async def test_a_running_worker_beats_and_passes_its_healthcheck(settings: Settings) -> None:
    container = make_container(settings, WorkerProvider(), TaskiqProvider())
    try:
        database = await container.get(Database)
        assert not await healthcheck(container), "no worker has beaten yet"
        async with embedded_worker(container):
            async with asyncio.timeout(10):
                while True:
                    async with database.engine.connect() as connection:
                        rows = (await connection.execute(select(process_heartbeats))).mappings().all()
                    if rows:
                        break
                    await asyncio.sleep(0.05)
            assert await healthcheck(container)
        (row,) = rows
        assert row["process_id"] == await container.get(WorkerId)
        assert (row["kind"], row["running_tasks"], row["is_leader"]) == ("worker", 0, False)
        stale = (await container.get(Clock)).now() - timedelta(seconds=46)
        async with database.engine.begin() as connection:
            await connection.execute(update(process_heartbeats).values(last_seen_at=stale))
        assert not await healthcheck(container), "a beat older than 45 s fails the check"
    finally:
        await container.close()


def test_worker_healthcheck_command_exits_by_heartbeat_freshness(store: Store, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in environ_for(tmp_path / "data", store.url).items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    assert runner.invoke(app, ["worker", "--healthcheck"]).exit_code == 1, "no worker beat on this host"

    async def beat_now() -> None:
        database = Database(store.url)
        try:
            now = SystemClock().now()
            async with database.engine.begin() as connection:
                await connection.execute(insert(process_heartbeats).values(
                    process_id="wf-h7-cli", kind="worker", host=socket.gethostname(), pid=1, version="t",
                    started_at=now, last_seen_at=now, running_tasks=0, is_leader=False))
        finally:
            await database.dispose()

    asyncio.run(beat_now())
    assert runner.invoke(app, ["worker", "--healthcheck"]).exit_code == 0


async def test_an_api_process_beats_with_its_own_kind(settings: Settings) -> None:
    container = make_container(settings)
    try:
        database = await container.get(Database)
        async with heartbeats(container, "wf-h7-api", kind="api"):
            async with asyncio.timeout(10):
                while True:
                    async with database.engine.connect() as connection:
                        rows = (await connection.execute(select(process_heartbeats))).mappings().all()
                    if rows:
                        break
                    await asyncio.sleep(0.05)
        assert [(r["process_id"], r["kind"], r["running_tasks"]) for r in rows] == [("wf-h7-api", "api", 0)]
    finally:
        await container.close()
