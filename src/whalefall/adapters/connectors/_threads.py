"""A bounded thread pool for the synchronous drivers (pymysql, pymssql) with an outer deadline per call."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class DriverThreads:
    """Blocking driver calls in a dedicated pool; a slot frees when the call returns, not when we give up.

    `run` raises TimeoutError when the outer deadline passes; the abandoned thread keeps its slot until the driver
    returns (capacity.md §2.1) and is counted in `abandoned_calls` (`whalefall_connector_abandoned_calls_total`).
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("the driver thread pool needs at least one thread")
        self.size = size
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="whalefall-driver")
        self._slots = asyncio.Semaphore(size)
        self._lock = threading.Lock()
        self._abandoned = 0

    @property
    def abandoned_calls(self) -> int:
        """Calls given up by their deadline since start (their threads may still be running)."""
        with self._lock:
            return self._abandoned

    async def run(self, fn: Callable[[], T], *, deadline_s: float) -> T:
        """Run `fn` in the pool; waiting for a free slot counts towards the deadline too."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(deadline_s):
                await self._slots.acquire()
        except TimeoutError:
            self._count_abandoned()
            raise

        def call() -> T:
            try:
                return fn()
            finally:
                with contextlib.suppress(RuntimeError):   # the loop closed while the driver was still running
                    loop.call_soon_threadsafe(self._slots.release)

        future = loop.run_in_executor(self._pool, call)
        try:
            async with asyncio.timeout(deadline_s):
                return await asyncio.shield(future)
        except TimeoutError:
            self._count_abandoned()
            future.add_done_callback(_consume)
            raise

    def _count_abandoned(self) -> None:
        with self._lock:
            self._abandoned += 1

    def close(self) -> None:
        """Stop accepting work; running driver calls finish in the background."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve the late result or exception of an abandoned call so asyncio does not log it as unhandled."""
    if not future.cancelled():
        future.exception()
