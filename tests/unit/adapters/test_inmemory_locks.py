"""InMemoryLockManager against the LockManager contract."""

from __future__ import annotations

import pytest

from tests.contracts.locks import LockManagerContract
from whalefall.adapters.inmemory.locks import InMemoryLockManager
from whalefall.application.ports.locks import LockManager


class TestInMemoryLockManager(LockManagerContract):
    @pytest.fixture
    def locks(self) -> LockManager:
        return InMemoryLockManager()


async def test_expiry_follows_the_injected_clock() -> None:
    now = [100.0]
    locks = InMemoryLockManager(monotonic=lambda: now[0])
    lease = await locks.try_acquire("leader", owner="a", ttl_s=15)
    assert lease is not None
    now[0] += 14.9
    assert await locks.try_acquire("leader", owner="b", ttl_s=15) is None
    now[0] += 0.2
    assert await locks.try_acquire("leader", owner="b", ttl_s=15) is not None
