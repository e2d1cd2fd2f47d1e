"""InMemoryRateLimiter and InMemoryCache against their contracts, plus expiry on an injected clock."""

from __future__ import annotations

import pytest

from tests.contracts.cache import CacheContract
from tests.contracts.rate_limits import RateLimiterContract
from whalefall.adapters.inmemory.cache import InMemoryCache
from whalefall.adapters.inmemory.rate_limits import InMemoryRateLimiter
from whalefall.application.ports.cache import Cache
from whalefall.application.ports.rate_limits import Hits, RateLimiter


class TestInMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self) -> RateLimiter:
        return InMemoryRateLimiter()


class TestInMemoryCache(CacheContract):
    @pytest.fixture
    def cache(self) -> Cache:
        return InMemoryCache()


async def test_windows_follow_the_injected_clock() -> None:
    now = [100.0]
    limiter = InMemoryRateLimiter(monotonic=lambda: now[0])
    assert await limiter.hit("k", window_s=300) == Hits(1, 300)
    now[0] += 299.5
    assert await limiter.hit("k", window_s=300) == Hits(2, 1)
    now[0] += 0.5
    assert await limiter.hit("k", window_s=300) == Hits(1, 300)


async def test_expired_counters_are_pruned_when_the_table_is_full() -> None:
    now = [0.0]
    limiter = InMemoryRateLimiter(monotonic=lambda: now[0], max_keys=3)
    for key in "abc":
        await limiter.hit(key, window_s=10)
    now[0] += 11
    await limiter.hit("d", window_s=10)
    assert len(limiter._counters) == 1
