"""Worker wiring: the container's worker provider, the broker factory for `taskiq worker`, the programmatic
receiver of `whalefall worker`, and the in-process worker + reaper of embedded `whalefall serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from dishka import AsyncContainer, Provider, Scope, provide
from dishka.integrations.taskiq import FromDishka, TaskiqProvider, inject, setup_dishka
from taskiq import AsyncBroker, InMemoryBroker, TaskiqEvents, TaskiqState
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from whalefall.application.pipelines.advance import AdvancePipelineRun
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.metrics import RecordMetrics
from whalefall.application.ports.sessions import SessionStore
from whalefall.application.ports.task_queue import ADVANCE_PIPELINE_TASK, TaskQueue
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.batching import CancelWatch, RecordClaimer, RecordFinisher
from whalefall.application.sessions.finalised import SessionFinalisedListeners
from whalefall.application.sessions.reap import ReapSessions, RedispatchPending
from whalefall.application.sessions.run_record import RecordWorks, RunnerConfig, RunRecord
from whalefall.application.sessions.transactions import SessionTransactions
from whalefall.domain.sessions.sessions import SessionKind
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.di.messaging import WorkerId, WorkerSettings, build_broker, new_worker_id
from whalefall.entrypoints.di.operations import ProcessMetrics, metrics_endpoint
from whalefall.entrypoints.di.runtime import setup_logging
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.dispatch import WORK_FACTORIES, ContainerRecordWorks, WorkFactory
from whalefall.entrypoints.worker.heartbeat import heartbeats
from whalefall.entrypoints.worker.tasks import WorkerRuntime, register_tasks

logger = logging.getLogger(__name__)


class WorkerProvider(Provider):
    """What only a process that executes records needs: the runner, its kind registry and the runtime."""

    def __init__(self, factories: Mapping[SessionKind, WorkFactory] = WORK_FACTORIES) -> None:
        super().__init__()
        self._factories = factories

    @provide(scope=Scope.APP)
    def runtime(self, settings: WorkerSettings, metrics: ProcessMetrics) -> WorkerRuntime:
        runtime = WorkerRuntime(settings.concurrency)
        metrics.watch_worker(lambda: runtime.in_flight, settings.concurrency)
        return runtime

    @provide(scope=Scope.APP)
    def finisher(self, transactions: SessionTransactions, clock: Clock) -> RecordFinisher:
        """One per process: the terminal transitions of concurrent tasks are group-committed."""
        return RecordFinisher(transactions, clock)

    @provide(scope=Scope.APP)
    def claimer(self, transactions: SessionTransactions, clock: Clock) -> RecordClaimer:
        """One per process: the claims of concurrent deliveries are group-committed."""
        return RecordClaimer(transactions, clock)

    @provide(scope=Scope.APP)
    def cancel_watch(self, transactions: SessionTransactions) -> CancelWatch:
        """One per process: the cancel-flag reads of concurrent tasks share one statement."""
        return CancelWatch(transactions)

    @provide(scope=Scope.REQUEST)
    def works(self, container: AsyncContainer) -> RecordWorks:
        return ContainerRecordWorks(container, self._factories)

    @provide(scope=Scope.REQUEST)
    def run_record(self, store: SessionStore, uow: UnitOfWork, transactions: SessionTransactions,
                   works: RecordWorks, clock: Clock, worker_id: WorkerId, config: RunnerConfig,
                   finalised: SessionFinalisedListeners, finisher: RecordFinisher,
                   claimer: RecordClaimer, cancel_watch: CancelWatch, metrics: RecordMetrics) -> RunRecord:
        return RunRecord(store, uow, transactions, works, clock, worker_id, config, finalised, finisher, claimer,
                         cancel_watch, metrics)


class GivenBrokerProvider(Provider):
    """Hands an already-built broker (and the worker id its consumer is named after) to the container."""

    def __init__(self, broker: AsyncBroker, worker_id: str) -> None:
        super().__init__()
        self._broker = broker
        self._worker_id = worker_id

    @provide(scope=Scope.APP, override=True)
    def broker(self) -> AsyncBroker:
        return self._broker

    @provide(scope=Scope.APP, override=True)
    def worker_id(self) -> WorkerId:
        return WorkerId(self._worker_id)


async def advance_pipeline(pipeline_run_id: str, use_case: FromDishka[AdvancePipelineRun]) -> str | None:
    """`whalefall.pipelines.advance`: one idempotent advancer pass over the run (operations §4.4)."""
    status = await use_case.execute(pipeline_run_id)
    return None if status is None else status.value


def attach_worker(broker: AsyncBroker, container: AsyncContainer) -> None:
    """Register the tasks on the broker and open one request scope of `container` per task."""
    register_tasks(broker)
    broker.register_task(inject(patch_module=True)(advance_pipeline), task_name=ADVANCE_PIPELINE_TASK)
    setup_dishka(container, broker)


def worker_container(settings: Settings, *overrides: Provider,
                     factories: Mapping[SessionKind, WorkFactory] = WORK_FACTORIES
                     ) -> tuple[AsyncContainer, AsyncBroker]:
    """A container for a worker process with its own broker (built first, so nothing async runs here)."""
    worker_id = new_worker_id()
    broker = build_broker(settings, worker_id)
    container = make_container(settings, WorkerProvider(factories), TaskiqProvider(),
                               GivenBrokerProvider(broker, worker_id), *overrides)
    attach_worker(broker, container)
    return container, broker


def make_broker() -> AsyncBroker:
    """Broker factory for `taskiq worker whalefall.entrypoints.worker.app:make_broker --no-configure-logging`;
    the container is closed on WORKER_SHUTDOWN. `whalefall worker` is the supported way to run a worker."""
    settings = Settings.from_environ()
    container, broker = worker_container(settings)

    async def on_startup(_state: TaskiqState) -> None:
        await setup_logging(container, settings, process="worker")

    async def on_shutdown(_state: TaskiqState) -> None:
        await container.close()

    broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, on_startup)
    broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, on_shutdown)
    return broker


async def run_worker(settings: Settings, stop: asyncio.Event, *overrides: Provider,
                     factories: Mapping[SessionKind, WorkFactory] = WORK_FACTORIES,
                     metrics_port: int | None = None) -> None:
    """Consume until `stop` is set, then: stop consuming, wait up to `worker.shutdown_grace_s` for running records,
    release the rest to `pending` and re-enqueue them (operations §2.3). `metrics_port` serves this process's
    Prometheus text (operations §9)."""
    container, broker = worker_container(settings, *overrides, factories=factories)
    try:
        await setup_logging(container, settings, process="worker")
        worker_settings = await container.get(WorkerSettings)
        runtime = await container.get(WorkerRuntime)
        await broker.startup()
        receiver = Receiver(broker, max_async_tasks=worker_settings.concurrency, run_startup=False,
                            ack_type=AcknowledgeType.WHEN_EXECUTED,
                            wait_tasks_timeout=worker_settings.shutdown_grace_s)
        logger.info("worker.started", extra={"concurrency": worker_settings.concurrency})
        async with (metrics_endpoint(await container.get(ProcessMetrics), metrics_port),
                    heartbeats(container, await container.get(WorkerId), runtime)):
            await receiver.listen(stop)
            released = await runtime.drain(0)
        if released:
            await (await container.get(TaskQueue)).enqueue_records(released)
        logger.info("worker.stopped", extra={"released": len(released)})
    finally:
        with contextlib.suppress(Exception):
            await broker.shutdown()
        await container.close()


async def reap_once(container: AsyncContainer) -> None:
    async with container() as scope:
        outcome = await (await scope.get(ReapSessions)).execute()
    (await container.get(ProcessMetrics)).reaped(outcome)
    if outcome.workers_lost or outcome.redispatched or outcome.not_dispatched or outcome.finalised:
        logger.info("session.reaped", extra={"outcome": outcome})


async def _reaper_loop(container: AsyncContainer, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await reap_once(container)
        except Exception:
            logger.exception("session.reaper_failed")


@contextlib.asynccontextmanager
async def embedded_worker(container: AsyncContainer) -> AsyncIterator[bool]:
    """In-process worker and reaper when the broker is the in-memory one (yields False and does nothing
    otherwise). At start every pending record of a running session is enqueued again (the in-memory queue did not
    survive the restart); at exit running records get the grace period, then are released to `pending`."""
    broker = await container.get(AsyncBroker)
    if not isinstance(broker, InMemoryBroker):
        yield False
        return
    attach_worker(broker, container)
    worker_settings = await container.get(WorkerSettings)
    runtime = await container.get(WorkerRuntime)
    await broker.startup()
    reaper: asyncio.Task[Any] | None = None
    try:
        async with container() as scope:
            redispatched = await (await scope.get(RedispatchPending)).execute()
        if redispatched:
            logger.info("session.redispatched_at_startup", extra={"records": redispatched})
        reaper = asyncio.create_task(_reaper_loop(container, worker_settings.reaper_interval_s))
        async with heartbeats(container, await container.get(WorkerId), runtime):
            yield True
    finally:
        if reaper is not None:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
        await runtime.drain(worker_settings.shutdown_grace_s)
        await broker.shutdown()
