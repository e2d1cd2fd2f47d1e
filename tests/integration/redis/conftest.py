"""A real Redis at WHALEFALL_TEST_REDIS_URL (default db 15, flushed per test); CI=true makes it mandatory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Final

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

DEFAULT_REDIS_URL: Final = "redis://127.0.0.1:6379/15"


def redis_url() -> str:
    return os.environ.get("WHALEFALL_TEST_REDIS_URL", DEFAULT_REDIS_URL)


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url(), socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"Redis not reachable ({exc}); set WHALEFALL_TEST_REDIS_URL")
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()
