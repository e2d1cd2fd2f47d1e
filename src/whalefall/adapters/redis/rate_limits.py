"""RedisRateLimiter: fixed-window counters (INCR + PEXPIRE on creation, one Lua call) shared by every process."""

from __future__ import annotations

import math
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from whalefall.application.ports.rate_limits import Hits, RateLimitBackendUnavailableError, RateLimiter

# INCR and the expiry of a new counter in one atomic step, so a crash between them cannot leave a counter that
# never expires; returns the count and the remaining lifetime in milliseconds.
_HIT: Final = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""
_PEEK: Final = """
local value = redis.call('GET', KEYS[1])
if not value then return nil end
return {tonumber(value), redis.call('PTTL', KEYS[1])}
"""


def _seconds(ms: int) -> int:
    return max(1, math.ceil(ms / 1000))


class RedisRateLimiter(RateLimiter):
    """Keys are `<prefix><key>` (`whalefall:rl:login:addr:10.0.0.1`)."""

    def __init__(self, client: Redis, *, prefix: str = "whalefall:rl:") -> None:
        self._client = client
        self._prefix = prefix
        self._hit = client.register_script(_HIT)
        self._peek = client.register_script(_PEEK)

    async def hit(self, key: str, *, window_s: int) -> Hits:
        try:
            count, ttl_ms = await self._hit(keys=[self._prefix + key], args=[window_s * 1000])
        except (RedisError, OSError) as exc:
            raise RateLimitBackendUnavailableError() from exc
        return Hits(int(count), _seconds(int(ttl_ms)))

    async def peek(self, key: str) -> Hits | None:
        try:
            result = await self._peek(keys=[self._prefix + key])
        except (RedisError, OSError) as exc:
            raise RateLimitBackendUnavailableError() from exc
        if result is None or int(result[1]) < 0:
            return None
        return Hits(int(result[0]), _seconds(int(result[1])))

    async def hold(self, key: str, *, value: int, ttl_s: int) -> None:
        try:
            await self._client.set(self._prefix + key, value, ex=ttl_s)
        except (RedisError, OSError) as exc:
            raise RateLimitBackendUnavailableError() from exc

    async def clear(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self._client.delete(*(self._prefix + key for key in keys))
        except (RedisError, OSError) as exc:
            raise RateLimitBackendUnavailableError() from exc
