"""Apply and inspect migrations programmatically (serve in embedded mode, `whalefall db upgrade`, readiness)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from whalefall.adapters.persistence.engine import Database
from whalefall.application.ports.health import StoreDescription, StoreProbe

_HERE = Path(__file__).parent


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.set_main_option("sqlalchemy.url", url)
    return config


def head_revision() -> str:
    """The newest revision shipped with this release."""
    head = ScriptDirectory.from_config(_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def upgrade(database: Database, revision: str = "head") -> None:
    """Upgrade the store to `revision` on one connection (no nested event loop)."""
    config = _config(database.url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with database.connect() as connection:
        await connection.run_sync(run)
        await connection.commit()


async def current_revision(database: Database) -> str | None:
    """The store's revision, or None before the first migration."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with database.connect() as connection:
        return await connection.run_sync(read)


class SqlAlchemyStoreProbe(StoreProbe):
    """StoreProbe over the Database: reachability and migration head."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def reachable(self, timeout_s: float) -> bool:
        return await self._database.ping(timeout_s)

    async def at_migration_head(self) -> bool:
        try:
            return await current_revision(self._database) == head_revision()
        except Exception:
            return False

    async def describe(self) -> StoreDescription:
        current = await current_revision(self._database)  # connects first: the dialect then knows the version
        dialect = self._database.engine.dialect
        version_info = getattr(dialect, "server_version_info", None)
        return StoreDescription(
            dialect=dialect.name, current_revision=current, head_revision=head_revision(),
            server_version=".".join(str(p) for p in version_info) if version_info else None)
