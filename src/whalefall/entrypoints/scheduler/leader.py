"""Leader election through the LockManager (operations.md §3.4): one leader, standbys, fail-fast renewal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Final

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.locks import Lease, LockManager

logger = logging.getLogger("whalefall.entrypoints.scheduler.leader")
LEADER_LOCK: Final = "scheduler:leader"


class LeaderElector:
    """Standbys try to take `scheduler:leader` every `interval_s`; the leader renews it every `interval_s` with
    compare-and-extend. A failed, erroring or late renewal ends leadership at once: `is_leader` also turns false by
    itself when the last successful acquire/renewal is older than the lease (a stalled event loop cannot keep
    firing on an expired lock). `renewals_enabled = False` cuts this process off from the lock (no renewal, no
acquisition), which is how failover tests model a frozen or partitioned leader."""

    def __init__(self, locks: LockManager, owner: str, clock: Clock, *, ttl_s: float = 15.0,
                 interval_s: float = 5.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._locks = locks
        self.owner = owner
        self._clock = clock
        self.ttl_s = ttl_s
        self.interval_s = interval_s
        self._monotonic = monotonic
        self._lease: Lease | None = None
        self._valid_until = 0.0
        self.since: datetime | None = None
        self.renewals_enabled = True
        self.changed = asyncio.Event()

    def is_leader(self) -> bool:
        return self._lease is not None and self._monotonic() < self._valid_until

    async def step(self) -> bool:
        """One acquire-or-renew attempt; returns whether this process leads afterwards."""
        started = self._monotonic()
        was_leader = self.is_leader()
        if not self.renewals_enabled:
            if self._lease is not None:
                self._lose("renewal_stopped")
            return False
        try:
            if self._lease is not None and was_leader:
                if not await self._locks.extend(self._lease, ttl_s=self.ttl_s):
                    self._lose("renewal_refused")
                else:
                    self._valid_until = started + self.ttl_s
            else:
                if self._lease is not None:
                    self._lose("lease_expired")
                lease = await self._locks.try_acquire(LEADER_LOCK, owner=self.owner, ttl_s=self.ttl_s)
                if lease is not None:
                    self._lease, self._valid_until, self.since = lease, started + self.ttl_s, self._clock.now()
                    logger.info("scheduler.leader_acquired", extra={"owner": self.owner})
                    self.changed.set()
        except Exception:  # the lock backend's errors: leadership cannot be proven, so it is given up
            logger.exception("scheduler.leader_check_failed")
            if self._lease is not None:
                self._lose("backend_error")
        return self.is_leader()

    def _lose(self, reason: str) -> None:
        logger.warning("scheduler.leader_lost", extra={"owner": self.owner, "reason": reason})
        self._lease, self._valid_until, self.since = None, 0.0, None
        self.changed.set()

    async def run(self) -> None:
        """Acquire/renew forever, every `interval_s`."""
        while True:
            await self.step()
            await asyncio.sleep(self.interval_s)

    async def resign(self) -> None:
        """Release the lock on shutdown so a standby takes over at its next attempt."""
        lease, self._lease = self._lease, None
        if lease is not None:
            with contextlib.suppress(Exception):
                await self._locks.release(lease)
