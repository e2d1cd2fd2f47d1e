"""Alembic environment: runs on the connection handed over by the runner, or opens one from the URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import whalefall.adapters.persistence.tables.access
import whalefall.adapters.persistence.tables.accounts
import whalefall.adapters.persistence.tables.audit
import whalefall.adapters.persistence.tables.capacity
import whalefall.adapters.persistence.tables.classification
import whalefall.adapters.persistence.tables.identity
import whalefall.adapters.persistence.tables.instances
import whalefall.adapters.persistence.tables.logs
import whalefall.adapters.persistence.tables.operations
import whalefall.adapters.persistence.tables.sessions  # noqa: F401  (registers the tables on the metadata)
from whalefall.adapters.persistence.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_from_url(config.get_main_option("sqlalchemy.url") or ""))
