"""`whalefall worker`: consume `whalefall.records.run` messages from Redis Streams until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.console import Console

from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.di.messaging import broker_url
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import run_worker
from whalefall.entrypoints.worker.heartbeat import healthcheck


async def _worker(settings: Settings, metrics_port: int | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, stop, metrics_port=metrics_port)


async def _healthcheck(settings: Settings) -> bool:
    container = make_container(settings)
    try:
        return await healthcheck(container)
    finally:
        await container.close()


def worker_command(
    check: Annotated[bool, typer.Option("--healthcheck", help="exit 0 when a worker on this host beat within 45 s "
                                                              "(and the metadata store answers), else 1")] = False,
    metrics_port: Annotated[int | None, typer.Option("--metrics-port", min=1, max=65535,
                                                     help="serve Prometheus metrics on this port")] = None,
) -> None:
    """Run a worker process (needs WHALEFALL_REDIS_URL; embedded `whalefall serve` runs its own worker). SIGTERM:
    stop consuming, wait up to worker.shutdown_grace_s, release unfinished records and re-enqueue them. Writes a
    `process_heartbeats` row every 15 s."""
    settings = Settings.from_environ()
    if check:
        raise typer.Exit(0 if asyncio.run(_healthcheck(settings)) else 1)
    if broker_url(settings) is None:
        Console(stderr=True).print("[red]error[/red] whalefall worker needs WHALEFALL_REDIS_URL (or broker.url); "
                                   "embedded `whalefall serve` already runs an in-process worker")
        raise typer.Exit(2)
    asyncio.run(_worker(settings, metrics_port))
