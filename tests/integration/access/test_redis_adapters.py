"""RedisRateLimiter and RedisCache against their contracts, their key layout and unreachable-Redis errors."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from tests.contracts.cache import CacheContract
from tests.contracts.rate_limits import RateLimiterContract
from whalefall.adapters.redis.cache import RedisCache
from whalefall.adapters.redis.client import connect_redis
from whalefall.adapters.redis.rate_limits import RedisRateLimiter
from whalefall.application.ports.cache import Cache, CacheUnavailableError
from whalefall.application.ports.rate_limits import RateLimitBackendUnavailableError, RateLimiter

pytestmark = pytest.mark.redis


class TestRedisRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self, redis_client: Redis) -> RateLimiter:
        return RedisRateLimiter(redis_client, prefix="whalefall:rl:")


class TestRedisCache(CacheContract):
    @pytest.fixture
    def cache(self, redis_client: Redis) -> Cache:
        return RedisCache(redis_client, prefix="whalefall:cache:")


async def test_counter_keys_carry_the_prefix_and_an_expiry(redis_client: Redis) -> None:
    limiter = RedisRateLimiter(redis_client, prefix="whalefall:rl:")
    await limiter.hit("login:addr:10.0.0.1", window_s=300)
    assert await redis_client.get("whalefall:rl:login:addr:10.0.0.1") == b"1"
    assert 299_000 < await redis_client.pttl("whalefall:rl:login:addr:10.0.0.1") <= 300_000


async def test_unreachable_redis_is_a_port_error() -> None:
    client = connect_redis("redis://127.0.0.1:1/0", timeout_s=0.5)
    try:
        with pytest.raises(RateLimitBackendUnavailableError):
            await RedisRateLimiter(client).hit("x", window_s=1)
        with pytest.raises(CacheUnavailableError):
            await RedisCache(client).get("x")
    finally:
        await client.aclose()
