"""PostgreSQL stores migrated with a frozen "today" (capacity.md §8.2: partitions are created at migration time)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

import whalefall.adapters.persistence.migrations as migrations_package
from tests.support.stores import create_scratch_pg, drop_scratch_pg
from whalefall.adapters.persistence.engine import Database

FROZEN_TODAY = date(2027, 5, 19)


async def migrate_frozen(database: Database, today: date) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations_package.__file__).parent))
    config.set_main_option("sqlalchemy.url", database.url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        config.attributes["today"] = today
        command.upgrade(config, "head")

    async with database.connect() as connection:
        await connection.run_sync(run)
        await connection.commit()


@pytest.fixture
def frozen_pg_url() -> Iterator[str]:
    url, admin = create_scratch_pg()
    try:
        yield url
    finally:
        drop_scratch_pg(url, admin)


@pytest.fixture
async def pg(frozen_pg_url: str) -> AsyncIterator[Database]:
    """A fresh PostgreSQL store migrated on FROZEN_TODAY (2027-05-19)."""
    database = Database(frozen_pg_url)
    try:
        await migrate_frozen(database, FROZEN_TODAY)
        yield database
    finally:
        await database.dispose()
