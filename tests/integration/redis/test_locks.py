"""RedisLockManager against the LockManager contract, plus the key layout operations.md §3.4 names."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from tests.contracts.locks import LockManagerContract
from whalefall.adapters.redis.client import connect_redis
from whalefall.adapters.redis.locks import RedisLockManager
from whalefall.application.ports.locks import LockBackendUnavailableError, LockManager

pytestmark = pytest.mark.redis


class TestRedisLockManager(LockManagerContract):
    @pytest.fixture
    def locks(self, redis_client: Redis) -> LockManager:
        return RedisLockManager(redis_client, prefix="whalefall:lock:")


async def test_leader_key_and_expiry(redis_client: Redis) -> None:
    locks = RedisLockManager(redis_client, prefix="whalefall:lock:")
    lease = await locks.try_acquire("scheduler:leader", owner="h:1:x", ttl_s=15)
    assert lease is not None
    assert await redis_client.get("whalefall:lock:scheduler:leader") == lease.token.encode()
    assert 14_000 < await redis_client.pttl("whalefall:lock:scheduler:leader") <= 15_000


async def test_unreachable_redis_is_a_port_error() -> None:
    client = connect_redis("redis://127.0.0.1:1/0", timeout_s=0.5)
    try:
        with pytest.raises(LockBackendUnavailableError):
            await RedisLockManager(client).try_acquire("x", owner="a", ttl_s=1)
    finally:
        await client.aclose()
