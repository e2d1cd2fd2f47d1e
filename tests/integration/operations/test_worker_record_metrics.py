"""The worker container wires the runner's record metrics into the process registry (operations.md §9)."""

from __future__ import annotations

import asyncio

from dishka.integrations.taskiq import TaskiqProvider

from tests.fakes.sessions import ScriptedWork
from tests.integration.operations.conftest import Env
from tests.integration.worker.test_worker import factories, open_session, wait_terminal
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.di.operations import ProcessMetrics
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker


async def test_records_run_by_the_embedded_worker_are_counted(env: Env) -> None:
    container = make_container(env.settings, WorkerProvider(factories(ScriptedWork())), TaskiqProvider())
    try:
        async with embedded_worker(container):
            session = await open_session(container, 3)
            await wait_terminal(container, session.id)
        metrics = await container.get(ProcessMetrics)
        finished = ('whalefall_records_finished_total{kind="connection_test",status="completed",'
                    'error_class="none"} 3.0')
        async with asyncio.timeout(5):  # the last terminal transition may land after the session poll saw it
            while True:
                text = await metrics.render()
                if finished in text:
                    break
                await asyncio.sleep(0.05)
        assert "# TYPE whalefall_record_duration_seconds histogram" in text
        assert 'whalefall_record_duration_seconds_count{kind="connection_test",db_type="none"} 3.0' in text, \
            "batch items have no instance, hence no engine"
    finally:
        await container.close()
