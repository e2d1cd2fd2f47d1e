"""The worker end to end: taskiq's InMemoryBroker (embedded), restart re-dispatch, drain, and RedisStreamBroker."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace

import pytest
from dishka import AsyncContainer
from dishka.integrations.taskiq import TaskiqProvider
from redis.asyncio import Redis

from tests.fakes.sessions import RecordingTaskQueue, ScriptedWork
from whalefall.adapters.taskqueue.broker import CONSUMER_GROUP, STREAM
from whalefall.application.ports.sessions import NewRecord, SessionQuery, SessionStore, SessionView
from whalefall.application.ports.task_queue import TaskQueue
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.sessions.work import RecordContext, RecordResult
from whalefall.application.shared.paging import PageRequest
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker, run_worker
from whalefall.entrypoints.worker.dispatch import WorkFactory
from whalefall.entrypoints.worker.tasks import WorkerRuntime

KIND = SessionKind.CONNECTION_TEST


def factories(work: ScriptedWork) -> Mapping[SessionKind, WorkFactory]:
    async def build(_container: AsyncContainer) -> ScriptedWork:
        return work

    return {KIND: build}


async def open_session(container: AsyncContainer, items: int) -> SessionView:
    async with container() as scope:
        return await (await scope.get(OpenSession)).execute(OpenSessionInput(
            kind=KIND, scope=SessionScope.TARGETED, trigger=SessionTrigger.MANUAL,
            records=[NewRecord(item_type="batch", item_key=f"item-{n}") for n in range(items)]))


async def wait_terminal(container: AsyncContainer, session_id: str, timeout_s: float = 15) -> SessionView:
    async with asyncio.timeout(timeout_s):
        while True:
            async with container() as scope:
                view = await (await scope.get(SessionStore)).get(session_id)
            assert view is not None
            if view.status is not SessionStatus.RUNNING:
                found: SessionView = view
                return found
            await asyncio.sleep(0.05)


async def test_in_memory_broker_runs_the_session_to_completion(settings: Settings) -> None:
    work = ScriptedWork()
    container = make_container(settings, WorkerProvider(factories(work)), TaskiqProvider())
    try:
        async with embedded_worker(container) as attached:
            assert attached
            session = await open_session(container, 5)
            final = await wait_terminal(container, session.id)
        assert (final.status, final.succeeded) == (SessionStatus.COMPLETED, 5)
        assert sorted(work.calls) == [f"item-{n}" for n in range(5)]
    finally:
        await container.close()


async def test_restart_in_embedded_mode_redispatches_pending_records(settings: Settings) -> None:
    lost_queue = RecordingTaskQueue()
    before = make_container(settings)
    try:
        async with before() as scope:
            open_session_lost = replace(await scope.get(OpenSession), queue=lost_queue)
            session = await open_session_lost.execute(OpenSessionInput(
                kind=KIND, scope=SessionScope.TARGETED, trigger=SessionTrigger.MANUAL,
                records=[NewRecord(item_type="batch", item_key=f"item-{n}") for n in range(3)]))
    finally:
        await before.close()
    assert len(lost_queue.enqueued) == 3, "the in-memory queue of the previous process died with these"
    work = ScriptedWork()
    after = make_container(settings, WorkerProvider(factories(work)), TaskiqProvider())
    try:
        async with embedded_worker(after):
            final = await wait_terminal(after, session.id)
        assert (final.status, final.succeeded) == (SessionStatus.COMPLETED, 3)
    finally:
        await after.close()


async def test_graceful_drain_releases_unfinished_records(settings: Settings) -> None:
    started = asyncio.Event()

    async def endless(_context: RecordContext) -> RecordResult:
        started.set()
        await asyncio.sleep(60)
        return RecordResult()

    container = make_container(settings, WorkerProvider(factories(ScriptedWork(endless))), TaskiqProvider())
    try:
        async with embedded_worker(container):
            session = await open_session(container, 1)
            await asyncio.wait_for(started.wait(), 5)
            assert (await container.get(WorkerRuntime)).in_flight == 1
        async with container() as scope:
            store = await scope.get(SessionStore)
            records = (await store.list_records(session.id, PageRequest())).items
        assert [(r.status, r.attempt) for r in records] == [(RecordStatus.PENDING, 1)]
    finally:
        await container.close()


@pytest.mark.redis
async def test_one_message_round_trip_through_redis_streams(settings: Settings, redis_url: str) -> None:
    redis_settings = Settings.from_raw({**settings.raw, "redis.url": redis_url,
                                        "worker.shutdown_grace_s": "1"})
    api = make_container(redis_settings)
    stop = asyncio.Event()
    work = ScriptedWork()
    worker = asyncio.create_task(run_worker(redis_settings, stop, factories=factories(work)))
    try:
        assert await (await api.get(TaskQueue)).ping()
        session = await open_session(api, 1)
        final = await wait_terminal(api, session.id)
        assert (final.status, work.calls) == (SessionStatus.COMPLETED, ["item-0"])
        client: Redis = Redis.from_url(redis_url)
        try:
            await asyncio.sleep(0.2)
            pending = await client.xpending(STREAM, CONSUMER_GROUP)
            assert pending["pending"] == 0, "the message is acknowledged after execution"
        finally:
            await client.aclose()
    finally:
        stop.set()
        await asyncio.wait_for(worker, 15)
        await api.close()


async def test_unregistered_in_memory_broker_is_not_a_queue(settings: Settings) -> None:
    container = make_container(settings)
    try:
        with pytest.raises(Exception, match="unavailable"):
            await open_session(container, 1)
        async with container() as scope:
            page = await (await scope.get(SessionStore)).list_sessions(SessionQuery(), PageRequest())
        assert page.total == 0
    finally:
        await container.close()
