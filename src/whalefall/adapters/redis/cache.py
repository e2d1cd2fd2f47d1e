"""RedisCache: text values under `<prefix><key>` with SET EX; shared by every process."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from whalefall.application.ports.cache import Cache, CacheUnavailableError


class RedisCache(Cache):
    def __init__(self, client: Redis, *, prefix: str = "whalefall:cache:") -> None:
        self._client = client
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        try:
            value = await self._client.get(self._prefix + key)
        except (RedisError, OSError) as exc:
            raise CacheUnavailableError() from exc
        if value is None:
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    async def set(self, key: str, value: str, *, ttl_s: int) -> None:
        try:
            await self._client.set(self._prefix + key, value.encode("utf-8"), ex=ttl_s)
        except (RedisError, OSError) as exc:
            raise CacheUnavailableError() from exc

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self._client.delete(*(self._prefix + key for key in keys))
        except (RedisError, OSError) as exc:
            raise CacheUnavailableError() from exc
