"""Fixtures of the capacity integration tests: a `Database` on each kind of migrated store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.stores import Store
from whalefall.adapters.persistence.engine import Database


@pytest.fixture
async def database(store: Store) -> AsyncIterator[Database]:
    db = Database(store.url)
    try:
        yield db
    finally:
        await db.dispose()
