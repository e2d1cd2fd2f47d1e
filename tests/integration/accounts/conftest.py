"""Fixtures: `ledger` (a SyncHarness on a migrated store of each kind) and `accounts_api` (the app with a
recording task queue)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from dishka.integrations.litestar import LitestarProvider
from litestar.testing import AsyncTestClient

from tests.fakes.sessions import RecordingQueueProvider, RecordingTaskQueue
from tests.support.http_client import Api, make_settings
from tests.support.stores import Store
from tests.unit.application.accounts.harness import SyncHarness
from whalefall.adapters.persistence.engine import Database
from whalefall.application.ports.clock import Clock
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.http.app import create_app
from whalefall.entrypoints.http.auth import HttpAuthProvider


@pytest.fixture
async def ledger(store: Store) -> AsyncIterator[SyncHarness]:
    database = Database(store.url)
    try:
        yield SyncHarness(database)
    finally:
        await database.dispose()


@pytest.fixture
async def queue() -> RecordingTaskQueue:
    return RecordingTaskQueue()


@pytest.fixture
async def accounts_api(store: Store, tmp_path: Path, queue: RecordingTaskQueue) -> AsyncIterator[Api]:
    """The app as `whalefall serve` builds it, with a recording task queue."""
    settings = make_settings(tmp_path / "data", store.url)
    container = make_container(settings, HttpAuthProvider(), LitestarProvider(), RecordingQueueProvider(queue))
    try:
        app = create_app(container, settings, await container.get(Clock))
        async with AsyncTestClient(app) as client:
            yield Api(app=app, container=container, client=client, settings=settings)
    finally:
        await container.close()
