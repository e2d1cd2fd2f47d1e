"""Worker fixtures: settings on a scratch store, a test kind registry, and the real Redis when reachable."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.support.http_client import make_settings
from tests.support.stores import Store
from whalefall.adapters.taskqueue.broker import STREAM
from whalefall.entrypoints.settings import Settings

DEFAULT_REDIS_URL: Final = "redis://127.0.0.1:6379/15"


@pytest.fixture
def settings(store: Store, tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", store.url, WHALEFALL_RETRY_JITTER="0",
                         WHALEFALL_WORKER_SHUTDOWN_GRACE_S="0.2")


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The test Redis (stream `whalefall:tasks` removed before and after); CI=true makes it mandatory."""
    url = os.environ.get("WHALEFALL_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client: Redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"Redis not reachable ({exc}); set WHALEFALL_TEST_REDIS_URL")
    await client.delete(STREAM)
    try:
        yield url
    finally:
        await client.delete(STREAM)
        await client.aclose()
