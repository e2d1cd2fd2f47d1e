"""RateLimiter contract: what every rate-limit counter store does, stated once (STYLE.md §11)."""

from __future__ import annotations

import asyncio

from whalefall.application.ports.rate_limits import Hits, RateLimiter


class RateLimiterContract:
    """Behaviour every RateLimiter shows. Subclasses provide the `limiter` fixture."""

    async def test_hits_count_up_within_the_window(self, limiter: RateLimiter) -> None:
        assert await limiter.hit("login:addr:a", window_s=300) == Hits(1, 300)
        second = await limiter.hit("login:addr:a", window_s=300)
        assert second.count == 2 and 299 <= second.expires_in_s <= 300

    async def test_counters_are_independent(self, limiter: RateLimiter) -> None:
        await limiter.hit("one", window_s=60)
        await limiter.hit("one", window_s=60)
        assert (await limiter.hit("two", window_s=60)).count == 1

    async def test_peek_reads_without_counting(self, limiter: RateLimiter) -> None:
        assert await limiter.peek("missing") is None
        await limiter.hit("seen", window_s=60)
        peeked = await limiter.peek("seen")
        assert peeked is not None and peeked.count == 1
        assert (await limiter.hit("seen", window_s=60)).count == 2

    async def test_a_counter_expires_after_its_window(self, limiter: RateLimiter) -> None:
        await limiter.hit("short", window_s=1)
        await asyncio.sleep(1.2)
        assert await limiter.peek("short") is None
        assert (await limiter.hit("short", window_s=1)).count == 1

    async def test_later_hits_do_not_extend_a_fixed_window(self, limiter: RateLimiter) -> None:
        await limiter.hit("fixed", window_s=1)
        await asyncio.sleep(0.6)
        assert (await limiter.hit("fixed", window_s=1)).count == 2
        await asyncio.sleep(0.6)
        assert (await limiter.hit("fixed", window_s=1)).count == 1

    async def test_hold_sets_a_value_with_its_own_expiry(self, limiter: RateLimiter) -> None:
        await limiter.hold("login:lock:u", value=3, ttl_s=900)
        held = await limiter.peek("login:lock:u")
        assert held is not None and held.count == 3 and 899 <= held.expires_in_s <= 900
        await limiter.hold("login:lock:u", value=1, ttl_s=1)
        await asyncio.sleep(1.2)
        assert await limiter.peek("login:lock:u") is None

    async def test_clear_removes_counters_and_ignores_unknown_keys(self, limiter: RateLimiter) -> None:
        await limiter.hit("a", window_s=60)
        await limiter.hold("b", value=1, ttl_s=60)
        await limiter.clear("a", "b", "never-set")
        await limiter.clear()
        assert await limiter.peek("a") is None and await limiter.peek("b") is None
        assert (await limiter.hit("a", window_s=60)).count == 1

    async def test_concurrent_hits_are_all_counted_once(self, limiter: RateLimiter) -> None:
        results = await asyncio.gather(*(limiter.hit("race", window_s=60) for _ in range(50)))
        assert sorted(r.count for r in results) == list(range(1, 51))
