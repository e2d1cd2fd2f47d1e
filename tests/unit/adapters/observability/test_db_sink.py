"""DatabaseLogSink: bounded non-blocking queue, batching, retries then counted drops, drop reports, shutdown."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from whalefall.adapters.observability.db_sink import DROPPED_EVENT, DatabaseLogSink
from whalefall.adapters.observability.logging_setup import configure_logging, get_logger, reset_logging
from whalefall.application.errors import StoreUnavailableError
from whalefall.application.ports.logs import LogBatchWriter
from whalefall.domain.logs.redaction import Redactor


class RecordingLogWriter(LogBatchWriter):
    """Keeps every batch it accepted; refuses while `down` is set."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.batches: list[list[Mapping[str, object]]] = []
        self.attempts = 0
        self.down = False
        self.delay_s = delay_s

    async def write_batch(self, events: Sequence[Mapping[str, object]]) -> None:
        self.attempts += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.down:
            raise StoreUnavailableError()
        self.batches.append(list(events))

    @property
    def events(self) -> list[Mapping[str, object]]:
        return [event for batch in self.batches for event in batch]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    reset_logging()


def event(n: int) -> dict[str, Any]:
    return {"ts": "2027-05-19T03:00:04.512381Z", "level": "INFO", "logger": "whalefall.test", "module": "system",
            "event": "test.event", "message": f"event {n}", "context": {"n": n}}


async def wait_until(predicate: Any, timeout_s: float = 3.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110  (polls state another task or thread changes)
            await asyncio.sleep(0.01)


async def test_a_burst_over_the_queue_size_is_dropped_and_counted_without_blocking() -> None:
    writer = RecordingLogWriter()
    sink = DatabaseLogSink(writer, queue_size=50, batch_size=20)
    for n in range(80):
        sink(event(n))
    assert sink.depth == 50
    assert sink.dropped_totals() == {"queue_full": 30, "db_error": 0, "shutdown": 0}
    await sink.start()
    await sink.shutdown()
    assert [e["message"] for e in writer.events] == [f"event {n}" for n in range(50)]
    assert sink.written_total == 50


async def test_batches_are_flushed_at_batch_size_and_on_the_interval() -> None:
    writer = RecordingLogWriter()
    sink = DatabaseLogSink(writer, batch_size=10, flush_interval_s=0.05)
    await sink.start()
    for n in range(25):
        sink(event(n))
    await wait_until(lambda: len(writer.events) == 25)
    assert all(len(batch) <= 10 for batch in writer.batches)
    await sink.shutdown()
    assert sink.dropped_totals() == {"queue_full": 0, "db_error": 0, "shutdown": 0}


async def test_events_from_other_threads_are_all_written() -> None:
    writer = RecordingLogWriter()
    sink = DatabaseLogSink(writer, batch_size=50, flush_interval_s=0.05)
    await sink.start()

    def produce(base: int) -> None:
        for i in range(100):
            sink(event(base * 100 + i))

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    await wait_until(lambda: len(writer.events) == 400)
    await sink.shutdown()
    assert sorted(e["context"]["n"] for e in writer.events) == sorted(  # type: ignore[index]
        t * 100 + i for t in range(4) for i in range(100))


async def test_a_failing_store_is_retried_then_the_batch_is_dropped_as_db_error() -> None:
    writer = RecordingLogWriter()
    writer.down = True
    sink = DatabaseLogSink(writer, batch_size=5, flush_interval_s=0.01, retry_delays_s=(0.0, 0.0, 0.0))
    for n in range(5):
        sink(event(n))
    await sink.flush()
    assert writer.attempts == 4
    assert sink.dropped_totals()["db_error"] == 5
    assert sink.written_total == 0


async def test_after_an_outage_one_dropped_report_reaches_the_store() -> None:
    """Defect 19: drops are counted while the store is down and a `logs.events_dropped` event is stored after."""
    clock = [0.0]
    writer = RecordingLogWriter()
    sink = DatabaseLogSink(writer, batch_size=10, flush_interval_s=0.01, retry_delays_s=(0.0,),
                           report_interval_s=60.0, monotonic=lambda: clock[0])
    configure_logging(level="INFO", redactor=Redactor(), process="api", extra_sinks=[sink], stream=io.StringIO())
    log = get_logger("whalefall.application.capacity.collect")
    writer.down = True
    for n in range(3):
        log.info("capacity.instance.collected", n=n)
    await sink.flush()
    assert sink.dropped_totals()["db_error"] == 3
    writer.down = False
    log.info("capacity.instance.collected", n=99)
    await sink.flush()
    reports = [e for e in writer.events if e["event"] == DROPPED_EVENT]
    assert len(reports) == 1
    assert reports[0]["level"] == "WARNING"
    assert reports[0]["module"] == "logs"
    assert reports[0]["context"] == {"count": 3, "reason": "db_error"}
    assert [e["context"] for e in writer.events if e["event"] != DROPPED_EVENT] == [{"n": 99}]


async def test_reports_are_rate_limited_to_one_per_interval() -> None:
    clock = [100.0]
    writer = RecordingLogWriter()
    sink = DatabaseLogSink(writer, queue_size=1, report_interval_s=60.0, monotonic=lambda: clock[0])
    configure_logging(level="INFO", redactor=Redactor(), process="api", extra_sinks=[sink], stream=io.StringIO())
    sink(event(1))
    sink(event(2))
    await sink.flush()
    sink(event(3))
    sink(event(4))
    clock[0] += 30.0
    await sink.flush()
    reports = [e for e in writer.events if e["event"] == DROPPED_EVENT]
    assert [r["context"] for r in reports] == [{"count": 1, "reason": "queue_full"}]


async def test_shutdown_flushes_within_its_bound_and_counts_the_rest() -> None:
    writer = RecordingLogWriter(delay_s=0.2)
    sink = DatabaseLogSink(writer, batch_size=2, flush_interval_s=10.0, shutdown_timeout_s=0.3)
    await sink.start()
    for n in range(10):
        sink(event(n))
    await sink.shutdown()
    written = sink.written_total
    assert written < 10
    assert sink.dropped_totals()["shutdown"] == 10 - written
    sink(event(11))
    assert sink.dropped_totals()["shutdown"] == 11 - written


async def test_a_sink_that_was_never_started_still_flushes_on_shutdown() -> None:
    writer = RecordingLogWriter()
    sink = DatabaseLogSink(writer)
    sink(event(1))
    await sink.shutdown()
    assert sink.written_total == 1
