"""Liveness rows in `process_heartbeats` of workers and API processes (operations.md §8; schedulers beat from their
runtime) and the `whalefall worker --healthcheck` check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Final

from dishka import AsyncContainer

from whalefall import __version__
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.scheduler import Heartbeat
from whalefall.application.scheduler.status import CheckOwnHeartbeat, RecordHeartbeat
from whalefall.entrypoints.worker.tasks import WorkerRuntime

logger = logging.getLogger(__name__)
HEARTBEAT_INTERVAL_S: Final = 15.0
HEALTHY_AFTER_S: Final = 45.0
"""`workers` health: a worker heartbeat newer than 45 s (three missed beats)."""


async def beat(container: AsyncContainer, *, process_id: str, kind: str, started_at: datetime,
               running: Callable[[], int]) -> None:
    """Upsert this process's row: host, pid, version and the tasks it is running now."""
    clock = await container.get(Clock)
    async with container() as scope:
        await (await scope.get(RecordHeartbeat)).execute(Heartbeat(
            process_id=process_id, kind=kind, host=socket.gethostname(), pid=os.getpid(), version=__version__,
            started_at=started_at, last_seen_at=clock.now(), running_tasks=running()))


async def _loop(container: AsyncContainer, process_id: str, kind: str, started_at: datetime,
                running: Callable[[], int], interval_s: float) -> None:
    while True:
        try:
            await beat(container, process_id=process_id, kind=kind, started_at=started_at, running=running)
        except Exception:  # the metadata store may be down for a while; the next beat retries
            logger.warning("process.heartbeat_failed", extra={"kind": kind}, exc_info=True)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def heartbeats(container: AsyncContainer, process_id: str, runtime: WorkerRuntime | None = None, *,
                     kind: str = "worker", interval_s: float = HEARTBEAT_INTERVAL_S) -> AsyncIterator[None]:
    """Beat at once and then every `interval_s` for the duration of the block (`running_tasks` from the worker
    runtime, 0 for an API process). No beat on the way out: a stopped process must age out of the health checks,
    not look fresh for another 45 s."""
    started_at = (await container.get(Clock)).now()

    def running() -> int:
        return 0 if runtime is None else runtime.in_flight

    task = asyncio.create_task(_loop(container, process_id, kind, started_at, running, interval_s))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def healthcheck(container: AsyncContainer) -> bool:
    """Exit status of `whalefall worker --healthcheck`: a worker on this host beat within 45 s (which also proves the
    metadata store answers)."""
    try:
        async with container() as scope:
            return await (await scope.get(CheckOwnHeartbeat)).execute("worker", socket.gethostname(),
                                                                      HEALTHY_AFTER_S)
    except Exception:
        return False
