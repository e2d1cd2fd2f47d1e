"""LockManager contract: what every lock manager does, stated once (STYLE.md §11)."""

from __future__ import annotations

import asyncio

from whalefall.application.ports.locks import Lease, LockManager


class LockManagerContract:
    """Behaviour every LockManager shows. Subclasses provide the `locks` fixture."""

    async def test_second_holder_is_refused_until_release(self, locks: LockManager) -> None:
        first = await locks.try_acquire("scheduler:leader", owner="a", ttl_s=30)
        assert first is not None
        assert await locks.try_acquire("scheduler:leader", owner="b", ttl_s=30) is None
        await locks.release(first)
        assert await locks.try_acquire("scheduler:leader", owner="b", ttl_s=30) is not None

    async def test_the_same_owner_cannot_acquire_twice(self, locks: LockManager) -> None:
        assert await locks.try_acquire("job", owner="a", ttl_s=30) is not None
        assert await locks.try_acquire("job", owner="a", ttl_s=30) is None

    async def test_holder_names_the_owner(self, locks: LockManager) -> None:
        assert await locks.holder("scheduler:leader") is None
        lease = await locks.try_acquire("scheduler:leader", owner="host-1:42:ab", ttl_s=30)
        assert lease is not None
        assert await locks.holder("scheduler:leader") == "host-1:42:ab"

    async def test_names_are_independent(self, locks: LockManager) -> None:
        assert await locks.try_acquire("one", owner="a", ttl_s=30) is not None
        assert await locks.try_acquire("two", owner="b", ttl_s=30) is not None

    async def test_lock_expires_and_can_be_taken_over(self, locks: LockManager) -> None:
        first = await locks.try_acquire("leader", owner="a", ttl_s=0.2)
        assert first is not None
        await asyncio.sleep(0.35)
        second = await locks.try_acquire("leader", owner="b", ttl_s=30)
        assert second is not None
        assert await locks.holder("leader") == "b"

    async def test_extend_keeps_the_lock_past_its_first_expiry(self, locks: LockManager) -> None:
        lease = await locks.try_acquire("leader", owner="a", ttl_s=0.3)
        assert lease is not None
        await asyncio.sleep(0.15)
        assert await locks.extend(lease, ttl_s=1.0)
        await asyncio.sleep(0.3)
        assert await locks.try_acquire("leader", owner="b", ttl_s=30) is None
        assert await locks.holder("leader") == "a"

    async def test_an_expired_lease_cannot_extend_or_release_the_new_holders_lock(self, locks: LockManager) -> None:
        old = await locks.try_acquire("leader", owner="a", ttl_s=0.2)
        assert old is not None
        await asyncio.sleep(0.35)
        assert not await locks.extend(old, ttl_s=30)
        new = await locks.try_acquire("leader", owner="b", ttl_s=30)
        assert new is not None
        assert not await locks.extend(old, ttl_s=30)
        assert not await locks.release(old)
        assert await locks.holder("leader") == "b"
        assert await locks.extend(new, ttl_s=30)

    async def test_a_forged_lease_is_refused(self, locks: LockManager) -> None:
        real = await locks.try_acquire("leader", owner="a", ttl_s=30)
        assert real is not None
        forged = Lease(name="leader", owner="a", token="a#not-the-token")
        assert not await locks.extend(forged, ttl_s=30)
        assert not await locks.release(forged)
        assert await locks.holder("leader") == "a"

    async def test_release_is_idempotent(self, locks: LockManager) -> None:
        lease = await locks.try_acquire("leader", owner="a", ttl_s=30)
        assert lease is not None
        assert await locks.release(lease)
        assert not await locks.release(lease)
        assert await locks.holder("leader") is None

    async def test_only_one_of_many_concurrent_acquirers_wins(self, locks: LockManager) -> None:
        results = await asyncio.gather(*(locks.try_acquire("race", owner=f"o{i}", ttl_s=30) for i in range(20)))
        assert sum(r is not None for r in results) == 1
