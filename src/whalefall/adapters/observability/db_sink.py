"""The database log sink (operations.md §5.2): a bounded queue fed from any thread, drained by one writer task."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final

from whalefall.adapters.observability.logging_setup import get_logger
from whalefall.application.ports.logs import LogBatchWriter

DROP_REASONS: Final = ("queue_full", "db_error", "shutdown")
DROPPED_EVENT: Final = "logs.events_dropped"
# DEBUG chatter of the store's own drivers: every batch the writer inserts would log more of it, without end.
STORE_DRIVER_LOGGERS: Final = ("aiosqlite", "psycopg", "sqlalchemy")

_log = get_logger(__name__)


class DatabaseLogSink:
    """A `LogSink` for `configure_logging(extra_sinks=...)`.

    `__call__` never blocks and never raises: it appends to a bounded queue (full → the event is dropped with
    reason `queue_full`) and may be called from any thread. `start()` launches the writer task on the running loop;
    it flushes every `batch_size` events or `flush_interval_s`, each batch as one insert through `writer` (its own
    connection). A failed batch is retried after each of `retry_delays_s`, then dropped (`db_error`). After drops,
    a WARNING `logs.events_dropped {count, reason}` is logged at most once per `report_interval_s`; it goes through
    the whole pipeline, so it reaches stdout and, once the store is back, the table. `shutdown()` flushes for at
    most `shutdown_timeout_s`; whatever is left counts as dropped (`shutdown`).
    """

    def __init__(self, writer: LogBatchWriter, *, queue_size: int = 10_000, batch_size: int = 200,
                 flush_interval_s: float = 1.0, retry_delays_s: tuple[float, ...] = (0.5, 1.0, 2.0),
                 shutdown_timeout_s: float = 5.0, report_interval_s: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._writer = writer
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._retry_delays_s = retry_delays_s
        self._shutdown_timeout_s = shutdown_timeout_s
        self._report_interval_s = report_interval_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._queue: deque[dict[str, Any]] = deque()
        self._written = 0
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self._unreported = dict.fromkeys(DROP_REASONS, 0)
        self._last_report: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._closed = False

    def __call__(self, event: Mapping[str, Any]) -> None:
        if event.get("level") == "DEBUG" and str(event.get("logger", "")).startswith(STORE_DRIVER_LOGGERS):
            return
        with self._lock:
            if self._closed:
                self._count_drop("shutdown", 1)
                return
            if len(self._queue) >= self._queue_size:
                self._count_drop("queue_full", 1)
                return
            self._queue.append(dict(event))
            full = len(self._queue) >= self._batch_size
        if full:
            self._signal()

    @property
    def depth(self) -> int:
        """Events waiting in the queue."""
        return len(self._queue)

    @property
    def written_total(self) -> int:
        return self._written

    def dropped_totals(self) -> dict[str, int]:
        """Dropped events by reason since the process started (every reason present, zeros included)."""
        with self._lock:
            return dict(self._dropped)

    async def start(self) -> None:
        """Start the writer task on the running loop (no-op when already started)."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name="whalefall-log-sink")

    async def shutdown(self) -> None:
        """Flush for at most `shutdown_timeout_s`, then close; later events count as `shutdown` drops."""
        self._stopping = True
        self._signal()
        task, self._task = self._task, None
        # Never started (a short CLI command): one flush attempt, under the same time bound.
        pending = task if task is not None else (self.flush() if self._queue else None)
        if pending is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._shutdown_timeout_s):
                    await pending
        with self._lock:
            self._closed = True
            remainder = len(self._queue)
            self._queue.clear()
            self._count_drop("shutdown", remainder)

    async def flush(self) -> None:
        """Write what is queued now (not what arrives meanwhile); failed batches follow the retry rules."""
        remaining = len(self._queue)
        while remaining > 0 and self._queue:
            remaining -= await self._write_one_batch()
        self._report_drops()

    def _signal(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        # A closed loop raises RuntimeError: the events stay queued for the shutdown accounting.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(wake.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._flush_interval_s)
            self._wake.clear()
            await self.flush()
        await self.flush()

    async def _write_one_batch(self) -> int:
        """Takes one batch off the queue and writes or drops it; returns its size."""
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
        if not batch:
            return 0
        try:
            for delay in (*self._retry_delays_s, None):
                try:
                    await self._writer.write_batch(batch)
                except Exception:  # any failure of the store: the writer task must survive it
                    if delay is None:
                        with self._lock:
                            self._count_drop("db_error", len(batch))
                        return len(batch)
                    await asyncio.sleep(delay)
                else:
                    with self._lock:
                        self._written += len(batch)
                    return len(batch)
        except asyncio.CancelledError:
            with self._lock:
                self._count_drop("shutdown", len(batch))
            raise
        return len(batch)

    def _count_drop(self, reason: str, count: int) -> None:
        """Caller holds the lock."""
        if count:
            self._dropped[reason] += count
            self._unreported[reason] += count

    def _report_drops(self) -> None:
        now = self._monotonic()
        if self._last_report is not None and now - self._last_report < self._report_interval_s:
            return
        with self._lock:
            pending = {reason: count for reason, count in self._unreported.items() if count}
            if not pending:
                return
            self._unreported = dict.fromkeys(DROP_REASONS, 0)
        self._last_report = now
        for reason, count in pending.items():
            _log.warning(DROPPED_EVENT, count=count, reason=reason,
                         message=f"{count} log events were not stored ({reason})")
