"""The migrated schema on both stores: head revision, foreign keys to `instances` (capacity.md defect 16)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from tests.support.stores import Store, sqlite_url
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.migrations.runner import current_revision, head_revision, upgrade


async def test_upgrade_from_empty_to_head(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path / "fresh.db"))
    try:
        assert await current_revision(database) is None
        await upgrade(database)
        assert await current_revision(database) == head_revision()
        await upgrade(database)  # idempotent
        assert await current_revision(database) == head_revision()
    finally:
        await database.dispose()


async def test_store_is_at_head(store: Store) -> None:
    database = Database(store.url)
    try:
        assert await current_revision(database) == head_revision()
    finally:
        await database.dispose()


async def test_every_foreign_key_to_instances_cascades_or_sets_null(store: Store) -> None:
    database = Database(store.url)
    try:
        async with database.connect() as connection:
            def collect(sync_connection: object) -> list[tuple[str, str | None]]:
                inspector = inspect(sync_connection)
                found = []
                for table in inspector.get_table_names():
                    for fk in inspector.get_foreign_keys(table):
                        if fk["referred_table"] == "instances":
                            found.append((table, (fk.get("options") or {}).get("ondelete")))
                return found

            keys = await connection.run_sync(collect)
    finally:
        await database.dispose()
    assert ("instance_tags", "CASCADE") in keys
    wrong = [(table, action) for table, action in keys if (action or "").upper() not in ("CASCADE", "SET NULL")]
    assert wrong == []
