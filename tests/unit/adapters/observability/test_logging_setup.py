"""configure_logging: one redacted JSON line per event for structlog and stdlib loggers, context, sinks, levels."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from whalefall.adapters.observability.logging_setup import (
    bind_log_context,
    clear_log_context,
    configure_logging,
    get_logger,
    log_context,
    reset_logging,
)
from whalefall.domain.logs.redaction import Redactor

CANARY = "Canary-9f2c1e"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    reset_logging()


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def stream(redactor: Redactor) -> io.StringIO:
    out = io.StringIO()
    configure_logging(level="INFO", redactor=redactor, process="worker", stream=out)
    return out


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_canary_never_reaches_stdout(stream: io.StringIO, redactor: Redactor) -> None:
    log = get_logger("whalefall.adapters.connectors.postgresql")
    log.info("connectors.connect.started", message=f"connecting to postgresql://app:{CANARY}@db/x",
             options={"ssl": {"client_password": CANARY}, "attempt": 1})
    with redactor.live_secret(CANARY):
        try:
            raise RuntimeError(f"FATAL: password authentication failed ({CANARY})")
        except RuntimeError:
            log.exception("connectors.connect.failed", dsn=f"host=db password={CANARY} user=app")
    assert CANARY not in stream.getvalue()
    first, second = lines(stream)
    assert first["message"] == "connecting to postgresql://app:***@db/x"
    assert first["context"] == {"options": {"ssl": {"client_password": "***"}, "attempt": 1}}
    assert second["level"] == "ERROR"
    assert second["exception_type"] == "RuntimeError"
    assert "password authentication failed (***)" in second["traceback"]
    assert second["context"] == {"dsn": "host=db password=*** user=app"}


def test_the_line_has_the_unified_logs_shape(stream: io.StringIO) -> None:
    bind_log_context(request_id="req-1", user_id=5)
    try:
        get_logger("whalefall.application.capacity.collect").warning(
            "capacity.instance.sizes_missing", message="2 databases had no readable size", instance_id=42,
            missing=["hr", "audit"])
    finally:
        clear_log_context()
    (line,) = lines(stream)
    assert line["ts"].endswith("Z") and line["ts"][10] == "T"
    assert {key: line[key] for key in ("level", "logger", "module", "event", "message", "process")} == {
        "level": "WARNING", "logger": "whalefall.application.capacity.collect", "module": "capacity",
        "event": "capacity.instance.sizes_missing", "message": "2 databases had no readable size",
        "process": "worker"}
    assert (line["request_id"], line["user_id"], line["instance_id"], line["session_id"]) == ("req-1", 5, 42, None)
    assert line["context"] == {"missing": ["hr", "audit"]}
    assert isinstance(line["pid"], int) and line["host"]


def test_stdlib_library_logging_goes_through_the_same_pipeline(stream: io.StringIO) -> None:
    with log_context(session_id="s-1"):
        logging.getLogger("sqlalchemy.engine.Engine").warning("cannot connect to %s", f"mysql://root:{CANARY}@h/db")
        try:
            raise KeyError("missing")
        except KeyError:
            logging.getLogger("whalefall.entrypoints.http.app").exception(
                "request failed", extra={"token": CANARY, "path": "/x"})
    logging.getLogger("whalefall.entrypoints.http.app").info("after")
    assert CANARY not in stream.getvalue()
    library, own, after = lines(stream)
    assert (library["module"], library["event"], library["level"]) == ("database", "log.message", "WARNING")
    assert library["message"] == "cannot connect to mysql://root:***@h/db"
    assert library["session_id"] == "s-1"
    assert (own["module"], own["exception_type"], own["message"]) == ("api", "KeyError", "request failed")
    assert own["context"] == {"token": "***", "path": "/x"}
    assert after["session_id"] is None


def test_sinks_get_redacted_events_and_a_failing_sink_never_raises(redactor: Redactor) -> None:
    received: list[dict[str, Any]] = []

    def broken(_: dict[str, Any]) -> None:
        raise RuntimeError(f"database is down {CANARY}")

    out = io.StringIO()
    configure_logging(level="INFO", redactor=redactor, process="api", extra_sinks=[broken, received.append],
                      stream=out)
    get_logger("whalefall.application.logs.write").info("logs.test", secret=CANARY)
    get_logger("whalefall.application.logs.write").info("logs.test", secret=CANARY)
    assert len(received) == 2
    assert received[0]["context"] == {"secret": "***"}
    assert received[0]["module"] == "logs"
    assert len(lines(out)) == 2
    assert CANARY not in out.getvalue()


def test_levels_for_stdout_and_sinks(redactor: Redactor) -> None:
    received: list[dict[str, Any]] = []
    out = io.StringIO()
    configure_logging(level="warning", redactor=redactor, process="api", extra_sinks=[received.append],
                      sink_level="DEBUG", stream=out)
    log = get_logger("whalefall.application.pipelines.advance")
    log.debug("pipelines.debug")
    log.info("pipelines.info")
    log.warning("pipelines.warning")
    assert [event["event"] for event in received] == ["pipelines.debug", "pipelines.info", "pipelines.warning"]
    assert [line["event"] for line in lines(out)] == ["pipelines.warning"]


def test_configuring_again_replaces_the_previous_configuration(redactor: Redactor) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(level="INFO", redactor=redactor, process="api", stream=first)
    configure_logging(level="INFO", redactor=redactor, process="cli", stream=second)
    get_logger("whalefall.entrypoints.cli.main").info("cli.started")
    logging.getLogger("alembic").info("migrating")
    assert first.getvalue() == ""
    assert [(line["process"], line["module"]) for line in lines(second)] == [("cli", "system"), ("cli", "database")]


def test_console_renderer_for_development(redactor: Redactor) -> None:
    out = io.StringIO()
    configure_logging(level="INFO", json=False, redactor=redactor, process="cli", stream=out)
    structlog.get_logger("whalefall.entrypoints.cli.main").info("cli.started", password=CANARY)
    assert "cli.started" in out.getvalue()
    assert CANARY not in out.getvalue()


def test_long_messages_and_contexts_are_truncated(stream: io.StringIO) -> None:
    get_logger("whalefall.application.logs.write").info("logs.big", message="x" * 20_000, blob="y" * 20_000, n=1)
    (line,) = lines(stream)
    assert len(line["message"].encode()) <= 8 * 1024 and line["message"].endswith("…[truncated]")
    assert line["context"] == {"_truncated": True, "n": 1}
