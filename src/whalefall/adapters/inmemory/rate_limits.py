"""InMemoryRateLimiter: the RateLimiter of embedded mode (one process, so a dict is the whole truth)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from whalefall.application.ports.rate_limits import Hits, RateLimiter


class InMemoryRateLimiter(RateLimiter):
    """Fixed-window counters with monotonic-clock expiry; `monotonic` is injectable so tests can move time.
    Every method runs without awaiting, so concurrent coroutines cannot interleave inside one."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic, *, max_keys: int = 100_000) -> None:
        self._monotonic = monotonic
        self._max_keys = max_keys
        self._counters: dict[str, tuple[int, float]] = {}

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._counters.get(key)
        if entry is not None and entry[1] <= now:
            del self._counters[key]
            return None
        return entry

    def _prune(self, now: float) -> None:
        if len(self._counters) >= self._max_keys:
            for key in [k for k, (_, expires) in self._counters.items() if expires <= now]:
                del self._counters[key]

    @staticmethod
    def _hits(count: int, expires: float, now: float) -> Hits:
        # Round away float noise first: (now + 300) - now can be 300.00000000000006, which ceil() makes 301.
        return Hits(count, max(1, math.ceil(round(expires - now, 6))))

    async def hit(self, key: str, *, window_s: int) -> Hits:
        now = self._monotonic()
        entry = self._live(key, now)
        if entry is None:
            self._prune(now)
            entry = (0, now + window_s)
        count, expires = entry[0] + 1, entry[1]
        self._counters[key] = (count, expires)
        return self._hits(count, expires, now)

    async def peek(self, key: str) -> Hits | None:
        now = self._monotonic()
        entry = self._live(key, now)
        return None if entry is None else self._hits(entry[0], entry[1], now)

    async def hold(self, key: str, *, value: int, ttl_s: int) -> None:
        now = self._monotonic()
        self._prune(now)
        self._counters[key] = (value, now + ttl_s)

    async def clear(self, *keys: str) -> None:
        for key in keys:
            self._counters.pop(key, None)
