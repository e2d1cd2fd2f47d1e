"""A unified-log pipeline on a scratch store: structlog → redaction → DatabaseLogSink → unified_logs."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.stores import Store
from whalefall.adapters.observability.db_sink import DatabaseLogSink
from whalefall.adapters.observability.logging_setup import configure_logging, reset_logging
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.logs import SqlAlchemyLogWriter
from whalefall.application.ports.logs import LogBatchWriter
from whalefall.domain.logs.redaction import Redactor


@dataclass
class Pipeline:
    database: Database
    sink: DatabaseLogSink
    redactor: Redactor
    stdout: io.StringIO

    async def rows(self, where: str = "1 = 1", **params: object) -> list[dict[str, Any]]:
        async with self.database.connect() as connection:
            result = await connection.execute(text(f"SELECT * FROM unified_logs WHERE {where} ORDER BY id"), params)
            rows = [dict(row) for row in result.mappings()]
        for row in rows:  # raw SQL on SQLite returns the JSON column as text
            if isinstance(row["context"], str):
                row["context"] = json.loads(row["context"])
        return rows


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    reset_logging()


@pytest.fixture
async def database(store: Store) -> AsyncIterator[Database]:
    database = Database(store.url)
    try:
        yield database
    finally:
        await database.dispose()


PipelineFactory = Callable[..., Pipeline]


@pytest.fixture
def pipeline(database: Database) -> Iterator[PipelineFactory]:
    """Configure logging with a database sink; `writer` wraps the real writer (to simulate an outage)."""
    sinks: list[DatabaseLogSink] = []

    def make(*, db_level: str = "INFO", wrap: Callable[[LogBatchWriter], LogBatchWriter] | None = None,
             **options: Any) -> Pipeline:
        writer: LogBatchWriter = SqlAlchemyLogWriter(database)
        sink = DatabaseLogSink(wrap(writer) if wrap else writer, **options)
        sinks.append(sink)
        redactor = Redactor()
        stdout = io.StringIO()
        configure_logging(level="INFO", redactor=redactor, process="worker", extra_sinks=[sink],
                          sink_level=db_level, stream=stdout)
        return Pipeline(database, sink, redactor, stdout)

    yield make
