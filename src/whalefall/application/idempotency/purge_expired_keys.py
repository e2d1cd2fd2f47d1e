"""Retention of idempotency keys: delete keys past their `expires_at` in bounded batches."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.idempotency import IdempotencyStore
from whalefall.application.shared.batched_purge import MAX_BATCH, RowsPurged, purge_in_batches, runtime_budget


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
        return await purge_in_batches(lambda limit: self.store.purge_expired(now=started, batch_size=limit),
                                      self.batch_size, runtime_budget(self.clock.now, started, self.max_runtime_s))
