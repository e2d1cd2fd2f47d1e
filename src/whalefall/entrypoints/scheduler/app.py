"""The scheduler runtime: leader election, taskiq's `TaskiqScheduler` over the whalefall schedule source, the
in-process fire task, heartbeats and the pipeline sweep (operations.md §0, §3.4, §8).

The scheduler never executes work: a fire creates a session (or pipeline run) and enqueues its messages on the
real broker. taskiq's scheduler sends each due instant to an in-process `InMemoryBroker` holding one task,
`whalefall.scheduler.fire`, whose only job is that creation. `whalefall scheduler` runs it alone; embedded
`whalefall serve` runs it in-process with the in-memory lock manager, where it is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dishka import AsyncContainer
from taskiq import AsyncBroker, InMemoryBroker, TaskiqScheduler
from taskiq.cli.scheduler.run import SchedulerLoop

from whalefall import __version__
from whalefall.application.classification.triggers import FireDueClassification
from whalefall.application.pipelines.advance import AdvanceRunningPipelines
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.locks import LockManager
from whalefall.application.ports.scheduler import FIRE_JOB_TASK, DueFire, Heartbeat, ScheduleFeed
from whalefall.application.scheduler.builtins import EnsureBuiltins
from whalefall.application.scheduler.fire_job import ClaimFire, FireJob, PlanFires
from whalefall.application.scheduler.status import CheckOwnHeartbeat, RecordHeartbeat
from whalefall.entrypoints.di.operations import ProcessMetrics, SchedulerSettings, schedule_source
from whalefall.entrypoints.scheduler.leader import LeaderElector

logger = logging.getLogger("whalefall.entrypoints.scheduler.app")
HEARTBEAT_INTERVAL_S = 15.0
HEALTHY_AFTER_S = 45.0
#: How often the leader looks for a due debounced classification (the debounce itself is 30 s).
CLASSIFICATION_DEBOUNCE_POLL_S = 5.0


def new_process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class ContainerFeed(ScheduleFeed):
    """The schedule source's view of this process: leadership from the elector, the fire logic from use cases run
    in their own request scope (one transaction each)."""

    def __init__(self, container: AsyncContainer, leader: LeaderElector) -> None:
        self._container = container
        self._leader = leader

    def is_leader(self) -> bool:
        return self._leader.is_leader()

    async def due(self) -> list[DueFire]:
        async with self._container() as scope:
            return await (await scope.get(PlanFires)).execute(self._leader.owner)

    async def claim(self, fire: DueFire) -> bool:
        async with self._container() as scope:
            return await (await scope.get(ClaimFire)).execute(fire, leader_id=self._leader.owner)


@dataclass
class SchedulerRuntime:
    """Everything one scheduler process runs; `run` returns when `stop` is set."""

    container: AsyncContainer
    elector: LeaderElector
    settings: SchedulerSettings
    embedded: bool = False
    _started_at: datetime | None = None

    def dispatch_broker(self) -> InMemoryBroker:
        broker = InMemoryBroker(await_inplace=True, propagate_exceptions=False)
        container = self.container

        async def fire(job_id: str, scheduled_for: str) -> None:
            async with container() as scope:
                use_case = await scope.get(FireJob)
                await use_case.execute(DueFire(job_id=job_id, scheduled_for=datetime.fromisoformat(scheduled_for)))

        broker.register_task(fire, task_name=FIRE_JOB_TASK)
        return broker

    async def _every(self, interval_s: float, action: Callable[[], Awaitable[Any]], event: str) -> None:
        while True:
            try:
                await action()
            except Exception:
                logger.exception(event)
            await asyncio.sleep(interval_s)

    async def heartbeat(self) -> None:
        clock = await self.container.get(Clock)
        async with self.container() as scope:
            await (await scope.get(RecordHeartbeat)).execute(Heartbeat(
                process_id=self.elector.owner, kind="scheduler", host=socket.gethostname(), pid=os.getpid(),
                version=__version__, started_at=self._started_at or clock.now(), last_seen_at=clock.now(),
                is_leader=self.elector.is_leader(), leader_since=self.elector.since))

    async def sweep_pipelines(self) -> None:
        if not self.elector.is_leader():
            return
        async with self.container() as scope:
            await (await scope.get(AdvanceRunningPipelines)).execute()

    async def fire_due_classification(self) -> None:
        """The debounced fleet classification requested by rule and classification writes (leader only)."""
        if not self.elector.is_leader():
            return
        async with self.container() as scope:
            await (await scope.get(FireDueClassification)).execute()

    async def run(self, stop: asyncio.Event) -> None:
        clock = await self.container.get(Clock)
        self._started_at = clock.now()
        async with self.container() as scope:
            await (await scope.get(EnsureBuiltins)).execute()
        if not self.embedded:
            broker = await self.container.get(AsyncBroker)
            await broker.startup()
        scheduler = TaskiqScheduler(self.dispatch_broker(), [schedule_source(ContainerFeed(self.container,
                                                                                            self.elector))])
        await scheduler.startup()
        await self.elector.step()
        loop = SchedulerLoop(scheduler)
        tasks = [
            asyncio.create_task(self._every(self.elector.interval_s, self.elector.step, "scheduler.leader_failed")),
            asyncio.create_task(self._every(HEARTBEAT_INTERVAL_S, self.heartbeat, "scheduler.heartbeat_failed")),
            asyncio.create_task(self._every(self.settings.sweep_interval_s, self.sweep_pipelines,
                                            "scheduler.sweep_failed")),
            asyncio.create_task(self._every(CLASSIFICATION_DEBOUNCE_POLL_S, self.fire_due_classification,
                                            "scheduler.classification_trigger_failed")),
            asyncio.create_task(loop.run(update_interval=timedelta(seconds=self.settings.update_interval_s),
                                         loop_interval=timedelta(seconds=1))),
        ]
        logger.info("scheduler.started", extra={"owner": self.elector.owner, "embedded": self.embedded})
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.elector.resign()
            with contextlib.suppress(Exception):
                await self.heartbeat()
            await scheduler.shutdown()
            logger.info("scheduler.stopped", extra={"owner": self.elector.owner})


async def build_runtime(container: AsyncContainer, *, embedded: bool = False,
                        process_id: str | None = None) -> SchedulerRuntime:
    settings = await container.get(SchedulerSettings)
    elector = LeaderElector(await container.get(LockManager), process_id or new_process_id(),
                            await container.get(Clock), ttl_s=settings.leader_ttl_s,
                            interval_s=settings.leader_ttl_s / 3)
    (await container.get(ProcessMetrics)).watch_leadership(elector.is_leader)
    return SchedulerRuntime(container=container, elector=elector, settings=settings, embedded=embedded)


@contextlib.asynccontextmanager
async def embedded_scheduler(container: AsyncContainer, *, run: bool = True
                             ) -> AsyncIterator[SchedulerRuntime | None]:
    """Run the scheduler in this process (embedded `serve`) for the duration of the block. With `run=False` (an API
    replica in production, whose scheduler is its own process) only the built-ins are seeded where absent."""
    if not run:
        async with container() as scope:
            await (await scope.get(EnsureBuiltins)).execute()
        yield None
        return
    runtime = await build_runtime(container, embedded=True)
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    try:
        yield runtime
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def healthcheck(container: AsyncContainer) -> bool:
    """Exit status of `whalefall scheduler --healthcheck`: a scheduler on this host beat within 45 s."""
    try:
        async with container() as scope:
            return await (await scope.get(CheckOwnHeartbeat)).execute("scheduler", socket.gethostname(),
                                                                      HEALTHY_AFTER_S)
    except Exception:
        return False
