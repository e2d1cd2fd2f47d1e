"""What the long-running process commands (`worker`, `scheduler`) share: stop on a signal, a one-shot probe."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from dishka import AsyncContainer

from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.settings import Settings


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (call inside the running loop): the process drains, then exits."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def run_probe(settings: Settings, probe: Callable[[AsyncContainer], Awaitable[bool]]) -> bool:
    """Run a `--healthcheck` probe against a fresh container and always close it."""
    container = make_container(settings)
    try:
        return await probe(container)
    finally:
        await container.close()
