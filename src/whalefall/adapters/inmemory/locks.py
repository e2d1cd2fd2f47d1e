"""InMemoryLockManager: the LockManager of embedded mode (one process, so a dict is the whole truth)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from whalefall.application.ports.locks import Lease, LockManager


class InMemoryLockManager(LockManager):
    """Locks with monotonic-clock expiry; `monotonic` is injectable so tests can move time."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._held: dict[str, tuple[Lease, float]] = {}
        self._mutex = asyncio.Lock()

    def _live(self, name: str) -> Lease | None:
        entry = self._held.get(name)
        if entry is None:
            return None
        if entry[1] <= self._monotonic():
            del self._held[name]
            return None
        return entry[0]

    async def try_acquire(self, name: str, *, owner: str, ttl_s: float) -> Lease | None:
        async with self._mutex:
            if self._live(name) is not None:
                return None
            lease = Lease(name=name, owner=owner, token=f"{owner}#{uuid.uuid4().hex}")
            self._held[name] = (lease, self._monotonic() + ttl_s)
            return lease

    async def extend(self, lease: Lease, *, ttl_s: float) -> bool:
        async with self._mutex:
            if self._live(lease.name) != lease:
                return False
            self._held[lease.name] = (lease, self._monotonic() + ttl_s)
            return True

    async def release(self, lease: Lease) -> bool:
        async with self._mutex:
            if self._live(lease.name) != lease:
                return False
            del self._held[lease.name]
            return True

    async def holder(self, name: str) -> str | None:
        async with self._mutex:
            lease = self._live(name)
            return lease.owner if lease else None
