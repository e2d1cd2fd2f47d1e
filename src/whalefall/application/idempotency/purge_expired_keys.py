"""Retention of idempotency keys: delete keys past their `expires_at` in bounded batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.idempotency import IdempotencyStore
from whalefall.application.sessions.retention import RowsPurged

MAX_BATCH: Final = 5000


@dataclass(frozen=True, slots=True)
class PurgeExpiredIdempotencyKeys:
    """Deletes keys whose `expires_at` is at or before now, at most `batch_size` (≤ 5000) per statement and
    transaction, until a short batch or `max_runtime_s` has passed (`complete = False`). Expired keys are already
    ignored by claims, so purging is housekeeping only; it is idempotent and safe beside live traffic."""

    store: IdempotencyStore
    clock: Clock
    batch_size: int = MAX_BATCH
    max_runtime_s: float = 1800.0

    async def execute(self) -> RowsPurged:
        started = self.clock.now()
        limit = max(1, min(self.batch_size, MAX_BATCH))
        deleted = batches = 0
        while True:
            count = await self.store.purge_expired(now=started, batch_size=limit)
            deleted += count
            batches += 1 if count else 0
            if count < limit:
                return RowsPurged(deleted=deleted, batches=batches, complete=True)
            if (self.clock.now() - started).total_seconds() >= self.max_runtime_s:
                return RowsPurged(deleted=deleted, batches=batches, complete=False)
