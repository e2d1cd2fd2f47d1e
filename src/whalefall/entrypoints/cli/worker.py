"""`whalefall worker`: consume `whalefall.records.run` messages from Redis Streams until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal

import typer
from rich.console import Console

from whalefall.entrypoints.di.messaging import broker_url
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import run_worker


async def _worker(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, stop)


def worker_command() -> None:
    """Run a worker process (needs WHALEFALL_REDIS_URL; embedded `whalefall serve` runs its own worker). SIGTERM:
    stop consuming, wait up to worker.shutdown_grace_s, release unfinished records and re-enqueue them."""
    settings = Settings.from_environ()
    if broker_url(settings) is None:
        Console(stderr=True).print("[red]error[/red] whalefall worker needs WHALEFALL_REDIS_URL (or broker.url); "
                                   "embedded `whalefall serve` already runs an in-process worker")
        raise typer.Exit(2)
    asyncio.run(_worker(settings))
