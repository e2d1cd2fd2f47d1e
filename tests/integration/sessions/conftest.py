"""Fixtures of the session-runtime tests: a Harness on each kind of store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.sessions.harness import Harness
from tests.support.stores import Store
from whalefall.adapters.persistence.engine import Database


@pytest.fixture
async def harness(store: Store) -> AsyncIterator[Harness]:
    database = Database(store.url)
    try:
        yield Harness(database)
    finally:
        await database.dispose()
