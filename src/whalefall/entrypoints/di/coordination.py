"""Provider of the LockManager (APP scope): in-memory in embedded mode, Redis when WHALEFALL_REDIS_URL is set."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide

from whalefall.adapters.inmemory.locks import InMemoryLockManager
from whalefall.adapters.redis.client import connect_redis
from whalefall.adapters.redis.locks import RedisLockManager
from whalefall.application.ports.locks import LockManager
from whalefall.entrypoints.settings import Settings


class CoordinationProvider(Provider):
    scope = Scope.APP

    @provide
    async def locks(self, settings: Settings) -> AsyncIterator[LockManager]:
        if settings.redis_url is None:  # embedded mode: a single process
            yield InMemoryLockManager()
            return
        client = connect_redis(settings.redis_url)
        try:
            yield RedisLockManager(client, prefix="whalefall:lock:")
        finally:
            await client.aclose()
