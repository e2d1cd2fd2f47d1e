"""Process-level wiring the entrypoints need without importing adapters: logging, migrations, ASGI server."""

from __future__ import annotations

from dishka import AsyncContainer

from whalefall.adapters.observability.logging_setup import configure_logging
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.migrations.runner import current_revision, head_revision, upgrade
from whalefall.domain.logs.redaction import Redactor
from whalefall.entrypoints.settings import Settings


async def setup_logging(container: AsyncContainer, settings: Settings, *, process: str) -> None:
    """structlog JSON on stdout with redaction of every loaded key and secret."""
    redactor = await container.get(Redactor)
    configure_logging(level=settings.log_level, redactor=redactor, process=process)


async def upgrade_store(container: AsyncContainer) -> tuple[str | None, str]:
    """Apply every pending migration; returns (revision before, head)."""
    database = await container.get(Database)
    before = await current_revision(database)
    await upgrade(database)
    return before, head_revision()
