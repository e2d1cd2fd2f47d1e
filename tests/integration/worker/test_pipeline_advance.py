"""A pipeline step's finalised session enqueues `whalefall.pipelines.advance` at once (operations.md §4.4): the
run moves on without the scheduler leader's periodic sweep or the reaper (both kept out of these tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dishka import AsyncContainer, Provider, Scope, provide
from dishka.integrations.taskiq import TaskiqProvider

from tests.fakes.sessions import ScriptedWork
from tests.support.http_client import make_settings
from tests.support.stores import Store
from whalefall.application.pipelines.definitions import CreatePipeline
from whalefall.application.pipelines.runs import GetPipelineRun, StartPipelineRun
from whalefall.application.sessions.finalised import NO_LISTENERS, SessionFinalisedListeners
from whalefall.application.shared.actor import Actor
from whalefall.domain.pipelines import RunStatus
from whalefall.domain.sessions.sessions import SessionKind
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker
from whalefall.entrypoints.worker.dispatch import WorkFactory

CHAIN = {"name": "wf-h7-chain", "steps": [
    {"name": "first", "kind": "partition_maintenance"},
    {"name": "second", "kind": "retention_cleanup", "depends_on": ["first"]},
]}


class NoListeners(Provider):
    @provide(scope=Scope.APP, override=True)
    def listeners(self) -> SessionFinalisedListeners:
        return NO_LISTENERS


def quiet_settings(store: Store, tmp_path: Path) -> Settings:
    """The embedded reaper (which also advances running pipelines) would only run after an hour."""
    return make_settings(tmp_path / "data", store.url, WHALEFALL_SESSIONS_REAPER_INTERVAL_S="3600",
                         WHALEFALL_WORKER_SHUTDOWN_GRACE_S="0.2")


def scripted(work: ScriptedWork) -> Mapping[SessionKind, WorkFactory]:
    async def build(_container: AsyncContainer) -> ScriptedWork:
        return work

    return {SessionKind.PARTITION_MAINTENANCE: build, SessionKind.RETENTION_CLEANUP: build}


async def start_chain(container: AsyncContainer) -> str:
    async with container() as scope:
        await (await scope.get(CreatePipeline)).execute(Actor.system(), CHAIN)
    async with container() as scope:
        receipt = await (await scope.get(StartPipelineRun)).start_run(
            "wf-h7-chain", trigger="manual", created_by=None, job_id=None, request_id=None)
    return receipt.pipeline_run_id


async def steps_of(container: AsyncContainer, run_id: str) -> dict[str, Any]:
    async with container() as scope:
        view = await (await scope.get(GetPipelineRun)).execute(Actor.system(), run_id)
    return {"status": view.run.status, **{s.step_name: s.status.value for s in view.run.steps}}


async def test_a_finalised_step_session_advances_its_run_immediately(store: Store, tmp_path: Path) -> None:
    work = ScriptedWork()
    container = make_container(quiet_settings(store, tmp_path), WorkerProvider(scripted(work)), TaskiqProvider())
    try:
        async with embedded_worker(container):
            run_id = await start_chain(container)
            async with asyncio.timeout(15):
                while True:
                    steps = await steps_of(container, run_id)
                    if steps["status"] is not RunStatus.RUNNING:
                        break
                    await asyncio.sleep(0.05)
        assert steps == {"status": RunStatus.COMPLETED, "first": "completed", "second": "completed"}
        assert "sync_sessions" in work.calls and "database_size_samples" in work.calls, \
            "both steps' records ran: the second step was started by the advance the first session enqueued"
    finally:
        await container.close()


async def test_without_the_listener_the_run_waits_for_a_periodic_pass(store: Store, tmp_path: Path) -> None:
    """Control: the same run with no finalised listeners stays on its first step (so the test above proves the
    listener, not some other path)."""
    work = ScriptedWork()
    container = make_container(quiet_settings(store, tmp_path), WorkerProvider(scripted(work)), TaskiqProvider(),
                               NoListeners())
    try:
        async with embedded_worker(container):
            run_id = await start_chain(container)
            async with asyncio.timeout(15):
                while True:
                    if len(work.calls) >= 4:  # the four partitioned tables of the first step
                        break
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            steps = await steps_of(container, run_id)
        assert steps == {"status": RunStatus.RUNNING, "first": "running", "second": "pending"}
    finally:
        await container.close()
