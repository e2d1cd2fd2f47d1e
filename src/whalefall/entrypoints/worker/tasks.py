"""The `whalefall.records.run` task (ids only in the message) and the WorkerRuntime that bounds and drains it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from dishka.integrations.taskiq import FromDishka, inject
from taskiq import AsyncBroker

from whalefall.application.ports.task_queue import RUN_RECORD_TASK
from whalefall.application.sessions.run_record import RunOutcome, RunRecord

logger = logging.getLogger(__name__)


class WorkerRuntime:
    """At most `concurrency` records run at once in this process; `drain` stops new work, waits up to the grace
    period, then cancels what is left (the runner releases those records to `pending`) and returns their ids."""

    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: dict[asyncio.Task[object], int] = {}
        self.draining = False

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def run(self, record_id: int, execute: Callable[[int], Awaitable[RunOutcome]]) -> str:
        async with self._slots:
            if self.draining:
                return RunOutcome.IGNORED.value
            task = asyncio.current_task()
            assert task is not None
            self._in_flight[task] = record_id
            try:
                return (await execute(record_id)).value
            finally:
                self._in_flight.pop(task, None)

    async def drain(self, grace_s: float) -> list[int]:
        """Stop taking records, wait for running ones up to `grace_s`, cancel the rest; their record ids."""
        self.draining = True
        tasks = list(self._in_flight)
        if tasks:
            await asyncio.wait(tasks, timeout=grace_s)
        leftover = {task: record_id for task, record_id in self._in_flight.items() if not task.done()}
        for task in leftover:
            task.cancel()
        for task in leftover:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if leftover:
            logger.warning("worker.records_released", extra={"records": sorted(leftover.values())})
        return sorted(leftover.values())


async def run_record(record_id: int, runtime: FromDishka[WorkerRuntime], use_case: FromDishka[RunRecord]) -> str:
    """Claim the record and run the work of its kind; duplicate or late deliveries are acknowledged and ignored."""
    return await runtime.run(record_id, use_case.execute)


def register_tasks(broker: AsyncBroker) -> None:
    """Register every task under its explicit, stable name."""
    broker.register_task(inject(patch_module=True)(run_record), task_name=RUN_RECORD_TASK)
