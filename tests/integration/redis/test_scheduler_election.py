"""Two scheduler processes against one Redis and one metadata store (operations.md §3.4, defect 11): exactly one
fires each instant, and a leader whose renewals stop is replaced within a lease period."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from tests.fakes.operations import FakeSessionLauncher, RecordingAdvanceQueue
from tests.fakes.sessions import RecordingTaskQueue, SettableClock
from tests.integration.operations.conftest import Env
from tests.integration.redis.conftest import redis_url
from tests.support.http_client import make_settings
from tests.support.stores import Store
from whalefall.adapters.clock import SystemClock
from whalefall.adapters.persistence.engine import Database
from whalefall.application.scheduler.builtins import EnsureBuiltins
from whalefall.entrypoints.scheduler.app import SchedulerRuntime, build_runtime

pytestmark = pytest.mark.redis
TTL_S = 1.5


class LiveClock(SettableClock):
    """Real time: taskiq's scheduler loop runs on the wall clock, so the fire logic must too."""

    def now(self) -> datetime:
        return SystemClock().now()


@pytest.fixture
def live_env(store: Store, tmp_path: Path, redis_client: Redis) -> Env:
    settings = make_settings(tmp_path / "data", store.url, WHALEFALL_REDIS_URL=redis_url(),
                             WHALEFALL_SCHEDULER_LEADER_TTL_S=str(TTL_S), WHALEFALL_SCHEDULER_UPDATE_INTERVAL_S="1")
    return Env(settings=settings, clock=LiveClock(), launcher=FakeSessionLauncher(),
               advance_queue=RecordingAdvanceQueue(), task_queue=RecordingTaskQueue())


@contextlib.asynccontextmanager
async def scheduler(env: Env, name: str) -> AsyncIterator[SchedulerRuntime]:
    container = env.container(real_sessions=True)
    runtime = await build_runtime(container, process_id=name)
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    try:
        yield runtime
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await container.close()


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await _value(check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def _value(result: Awaitable[bool] | bool) -> bool:
    return await result if not isinstance(result, bool) else result


async def _only_retention_every_minute(env: Env) -> None:
    container = env.container()
    try:
        await env.run(container, EnsureBuiltins)
        past = env.clock.now() - timedelta(minutes=3)
        database = await container.get(Database)
        async with database.connect() as connection:
            await connection.execute(text("UPDATE scheduled_jobs SET enabled = :f"), {"f": False})
            await connection.execute(text(
                "UPDATE scheduled_jobs SET enabled = :t, cron = '* * * * *', schedule_changed_at = :past "
                "WHERE id = 'retention_cleanup'"), {"t": True, "past": past})
            await connection.commit()
    finally:
        await container.close()


async def test_two_schedulers_fire_each_instant_once_and_fail_over(live_env: Env) -> None:
    env = live_env
    await _only_retention_every_minute(env)
    reader = env.container()
    try:
        async with scheduler(env, "host-a:1:a") as a, scheduler(env, "host-b:2:b") as b:
            await eventually(lambda: a.elector.is_leader() or b.elector.is_leader(), 5)
            assert a.elector.is_leader() != b.elector.is_leader()

            async def fired() -> bool:
                return bool(await env.rows(reader, "SELECT id FROM job_fires WHERE outcome = 'fired'"))

            await eventually(fired, 10)
            await asyncio.sleep(2.5)  # several more refreshes of both sources: nothing fires twice
            fires = await env.rows(reader, "SELECT scheduled_for, leader_id, session_id FROM job_fires")
            sessions = await env.rows(reader, "SELECT id, job_id, trigger FROM sync_sessions")
            assert len({f["scheduled_for"] for f in fires}) == len(fires)
            assert len(sessions) == len([f for f in fires if f["session_id"]]) >= 1
            assert {s["trigger"] for s in sessions} == {"scheduled"}
            leader, standby = (a, b) if a.elector.is_leader() else (b, a)
            assert {f["leader_id"] for f in fires} == {leader.elector.owner}

            leader.elector.renewals_enabled = False  # its renewals stop (a frozen or partitioned leader)
            started = asyncio.get_running_loop().time()
            await eventually(standby.elector.is_leader, TTL_S * 2 + 1)
            assert asyncio.get_running_loop().time() - started <= TTL_S + standby.elector.interval_s + 1
            assert not leader.elector.is_leader()
    finally:
        await reader.close()
