"""`whalefall scheduler [--healthcheck]`: the leader-elected scheduler process (operations.md §3.4, §8)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from whalefall.entrypoints.cli.process_control import run_probe, stop_on_signals
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.di.operations import ProcessMetrics, metrics_endpoint
from whalefall.entrypoints.di.runtime import setup_logging, start_log_sink, stop_log_sink
from whalefall.entrypoints.scheduler.app import build_runtime, healthcheck
from whalefall.entrypoints.settings import Settings


async def _scheduler(settings: Settings, metrics_port: int | None) -> None:
    container = make_container(settings)
    try:
        await setup_logging(container, settings, process="scheduler")
        await start_log_sink(container)
        stop = stop_on_signals()
        runtime = await build_runtime(container)
        async with metrics_endpoint(await container.get(ProcessMetrics), metrics_port):
            await runtime.run(stop)
    finally:
        await stop_log_sink(container)
        await container.close()


def scheduler_command(
    check: Annotated[bool, typer.Option("--healthcheck", help="exit 0 when a scheduler on this host beat "
                                                              "within 45 s, else 1")] = False,
    metrics_port: Annotated[int | None, typer.Option("--metrics-port", min=1, max=65535,
                                                     help="serve Prometheus metrics on this port")] = None,
) -> None:
    """Run a scheduler: leader election through Redis (standbys wait), taskiq's scheduler over the job rows, one
    `job_fires` row per instant. It creates sessions and pipeline runs and enqueues them; it never runs work.
    Needs WHALEFALL_REDIS_URL; embedded `whalefall serve` runs its own scheduler."""
    settings = Settings.from_environ()
    if check:
        raise typer.Exit(0 if asyncio.run(run_probe(settings, healthcheck)) else 1)
    if settings.redis_url is None:
        Console(stderr=True).print("[red]error[/red] whalefall scheduler needs WHALEFALL_REDIS_URL; embedded "
                                   "`whalefall serve` already runs an in-process scheduler")
        raise typer.Exit(2)
    asyncio.run(_scheduler(settings, metrics_port))
