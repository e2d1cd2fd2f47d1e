"""The database sink on both stores: redaction (defect 20), levels (19), modules (21), outage (19), defect 27."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from tests.integration.logs.conftest import PipelineFactory
from whalefall.adapters.observability.db_sink import DROPPED_EVENT
from whalefall.adapters.observability.logging_setup import get_logger
from whalefall.application.errors import StoreUnavailableError
from whalefall.application.ports.logs import LogBatchWriter

SECRET = "Tr0ub4dor-Secret-77"
LIVE = "Live-Credential-4242"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXZhbHVl"


async def test_no_secret_of_the_corpus_reaches_the_table_or_stdout(pipeline: PipelineFactory) -> None:
    logs = pipeline()
    log = get_logger("whalefall.adapters.connectors.mysql")
    log.info("connectors.connect.started", message=f"connecting with postgresql://app:{SECRET}@db:5432/x",
             dsn=f"host=db user=app password={SECRET}")
    log.info("connectors.options", options={"ssl": {"db_password": SECRET}, "retries": 2})
    log.warning("http.upstream", headers={"X-Trace": "1"}, header_line=f"Authorization: Bearer {JWT}")
    with logs.redactor.live_secret(LIVE):
        try:
            raise RuntimeError(f"login failed for app using {LIVE}")
        except RuntimeError:
            log.exception("connectors.connect.failed")
    logging.getLogger("whalefall.adapters.connectors.mysql").error("driver said password=%s", SECRET)
    await logs.sink.flush()
    rows = await logs.rows()
    assert len(rows) == 5
    stored = repr(rows)
    for secret in (SECRET, LIVE, JWT):
        assert secret not in stored
        assert secret not in logs.stdout.getvalue()
    failed = next(r for r in rows if r["event"] == "connectors.connect.failed")
    assert failed["exception_type"] == "RuntimeError"
    assert "***" in failed["traceback"]
    assert {r["module"] for r in rows} == {"connectors"}


async def test_debug_is_stored_only_when_the_db_level_says_so(pipeline: PipelineFactory) -> None:
    logs = pipeline(db_level="DEBUG")
    get_logger("whalefall.application.capacity.collect").debug("capacity.debug.detail", step=1)
    await logs.sink.flush()
    rows = await logs.rows("logger LIKE 'whalefall.%'")
    assert [(r["level"], r["event"]) for r in rows] == [("DEBUG", "capacity.debug.detail")]
    assert "capacity.debug.detail" not in logs.stdout.getvalue()


async def test_debug_is_not_stored_at_the_default_level(pipeline: PipelineFactory) -> None:
    logs = pipeline()
    get_logger("whalefall.application.capacity.collect").debug("capacity.debug.detail")
    get_logger("whalefall.application.capacity.collect").info("capacity.info.detail")
    await logs.sink.flush()
    assert [r["event"] for r in await logs.rows()] == ["capacity.info.detail"]


async def test_modules_follow_the_fixed_mapping(pipeline: PipelineFactory) -> None:
    logs = pipeline()
    for name in ("whalefall.adapters.connectors.mysql", "whalefall.adapters.persistence.logs",
                 "whalefall.entrypoints.http.app", "alembic.runtime", "somelib.x"):
        get_logger(name).info("test.module_probe")
    await logs.sink.flush()
    assert [r["module"] for r in await logs.rows()] == ["connectors", "database", "api", "database", "system"]


async def test_sql_words_in_an_error_are_stored_at_their_level_without_a_security_event(
        pipeline: PipelineFactory) -> None:
    """Defect 27: no keyword heuristics; one event in, one event out, at its own level."""
    logs = pipeline()
    log = get_logger("whalefall.application.accounts.sync")
    log.error("accounts.sync.failed", message="cannot select from table; drop of the view failed")
    log.info("accounts.sync.note", message="user asked to DROP TABLE x; select * from y")
    await logs.sink.flush()
    rows = await logs.rows()
    assert [(r["level"], r["event"]) for r in rows] == [("ERROR", "accounts.sync.failed"),
                                                        ("INFO", "accounts.sync.note")]


class OutageWriter(LogBatchWriter):
    """The real writer behind a switch: while `down`, the store refuses every batch."""

    def __init__(self, inner: LogBatchWriter) -> None:
        self.inner = inner
        self.down = False

    async def write_batch(self, events: Sequence[Mapping[str, object]]) -> None:
        if self.down:
            raise StoreUnavailableError()
        await self.inner.write_batch(events)


async def test_an_outage_is_counted_and_marked_in_the_table_after_recovery(pipeline: PipelineFactory) -> None:
    """Defect 19: the dropped counter rises while the store is down; a `logs.events_dropped` row follows."""
    outage: list[OutageWriter] = []

    def wrap(writer: LogBatchWriter) -> LogBatchWriter:
        outage.append(OutageWriter(writer))
        return outage[0]

    logs = pipeline(wrap=wrap, retry_delays_s=(0.0, 0.0, 0.0))
    log = get_logger("whalefall.application.capacity.collect")
    outage[0].down = True
    for n in range(4):
        log.info("capacity.instance.collected", n=n)
    await logs.sink.flush()
    assert logs.sink.dropped_totals()["db_error"] == 4
    assert await logs.rows() == []
    outage[0].down = False
    log.info("capacity.instance.collected", n=4)
    await logs.sink.flush()
    rows = await logs.rows()
    marker = [r for r in rows if r["event"] == DROPPED_EVENT]
    assert len(marker) == 1
    assert marker[0]["level"] == "WARNING"
    assert marker[0]["context"] == {"count": 4, "reason": "db_error"}
    assert [r["context"] for r in rows if r["event"] != DROPPED_EVENT] == [{"n": 4}]


async def test_a_burst_beyond_the_queue_is_dropped_and_the_rest_stored(pipeline: PipelineFactory) -> None:
    logs = pipeline(queue_size=100, batch_size=40)
    log = get_logger("whalefall.application.capacity.collect")
    for n in range(150):
        log.info("capacity.instance.collected", n=n)
    assert logs.sink.dropped_totals()["queue_full"] == 50
    await logs.sink.flush()
    await logs.sink.flush()  # the drop report is logged after the first flush's writes
    rows = await logs.rows()
    assert len([r for r in rows if r["event"] == "capacity.instance.collected"]) == 100
    assert [r["context"] for r in rows if r["event"] == DROPPED_EVENT] == [{"count": 50, "reason": "queue_full"}]
