"""Shared fixtures: scratch stores (SQLite and PostgreSQL) and the HTTP app built like `whalefall serve`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.http_client import Api, make_settings, running_api
from tests.support.stores import Store, pg_scratch_url, sqlite_template, store

__all__ = ["api", "pg_scratch_url", "sqlite_template", "store"]


@pytest.fixture
async def api(store: Store, tmp_path: Path) -> AsyncIterator[Api]:
    """The app on a migrated store of each kind, API docs public."""
    async with running_api(make_settings(tmp_path / "data", store.url)) as running:
        yield running
