"""`whalefall worker`: consume `whalefall.records.run` messages from Redis Streams until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from whalefall.entrypoints.cli.process_control import run_probe, stop_on_signals
from whalefall.entrypoints.di.messaging import broker_url
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import run_worker
from whalefall.entrypoints.worker.heartbeat import healthcheck


async def _worker(settings: Settings, metrics_port: int | None) -> None:
    await run_worker(settings, stop_on_signals(), metrics_port=metrics_port)


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
        raise typer.Exit(0 if asyncio.run(run_probe(settings, healthcheck)) else 1)
    if broker_url(settings) is None:
        Console(stderr=True).print("[red]error[/red] whalefall worker needs WHALEFALL_REDIS_URL (or broker.url); "
                                   "embedded `whalefall serve` already runs an in-process worker")
        raise typer.Exit(2)
    asyncio.run(_worker(settings, metrics_port))
