"""Process-level wiring the entrypoints need without importing adapters: logging, migrations, ASGI server."""

from __future__ import annotations

from dishka import AsyncContainer

from whalefall.adapters.observability.db_sink import DatabaseLogSink
from whalefall.adapters.observability.logging_setup import configure_logging
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.migrations.runner import current_revision, head_revision, upgrade
from whalefall.domain.logs.redaction import Redactor
from whalefall.entrypoints.settings import Settings


async def setup_logging(container: AsyncContainer, settings: Settings, *, process: str,
                        db_sink: bool = True) -> None:
    """structlog JSON on stdout with redaction of every loaded key and secret; with `db_sink`, events at or above
    `WHALEFALL_LOG_DB_LEVEL` are also queued for `unified_logs` (written once `start_log_sink` runs, or flushed
    when the container closes)."""
    redactor = await container.get(Redactor)
    sinks = [await container.get(DatabaseLogSink)] if db_sink else []
    configure_logging(level=settings.log_level, redactor=redactor, process=process, extra_sinks=sinks,
                      sink_level=settings.log_db_level if db_sink else None)


async def start_log_sink(container: AsyncContainer) -> None:
    """Start the database log writer on the running loop (after migrations, so the table exists)."""
    await (await container.get(DatabaseLogSink)).start()


async def stop_log_sink(container: AsyncContainer) -> None:
    """Flush the database log sink for at most 5 s; the remainder counts as dropped (`shutdown`)."""
    await (await container.get(DatabaseLogSink)).shutdown()


async def upgrade_store(container: AsyncContainer) -> tuple[str | None, str]:
    """Apply every pending migration; returns (revision before, head)."""
    database = await container.get(Database)
    before = await current_revision(database)
    await upgrade(database)
    return before, head_revision()
