"""The PostgreSQL scratch store is truncated before each test, which also empties the rows migration 0007 seeds:
put the six system classifications and the counter row back (SQLite copies keep them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.http_client import Api, make_settings, running_api
from tests.support.stores import Store
from whalefall.adapters.persistence.engine import Database

SYSTEM = (("super", "Critical risk", 1, "fa-crown", 100), ("highly", "High risk", 2, "fa-shield-alt", 90),
          ("sensitive", "Sensitive", 3, "fa-exclamation-triangle", 80), ("medium", "Medium risk", 4, "fa-user", 70),
          ("low", "Low risk", 5, "fa-tag", 60), ("public", "Public", 6, "fa-eye", 50))


async def reseed(url: str) -> None:
    database = Database(url)
    try:
        async with database.connect() as connection:
            present = {row[0] for row in await connection.execute(text("SELECT code FROM classifications"))}
            for code, name, risk, icon, priority in SYSTEM:
                if code not in present:
                    await connection.execute(text(
                        "INSERT INTO classifications (code, display_name, display_name_key, risk_level, priority, "
                        "icon, is_system, is_active, created_at, updated_at, revision) VALUES (:c, :n, :k, :r, :p, "
                        ":i, true, true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"),
                        {"c": code, "n": name, "k": name.lower(), "r": risk, "p": priority, "i": icon})
            counter = await connection.execute(text(
                "SELECT 1 FROM classification_counters WHERE name = 'rules_revision'"))
            if counter.first() is None:
                await connection.execute(text(
                    "INSERT INTO classification_counters (name, value) VALUES ('rules_revision', 0)"))
            await connection.commit()
    finally:
        await database.dispose()


@pytest.fixture
async def api(store: Store, tmp_path: Path) -> AsyncIterator[Api]:
    """The shared `api` fixture on a store whose seeded classification rows are present."""
    await reseed(store.url)
    async with running_api(make_settings(tmp_path / "data", store.url)) as running:
        yield running
