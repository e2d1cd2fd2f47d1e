"""Retention of unified logs (operations.md §1.9): delete events older than `retention.logs_days` in batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.logs import ExpiredRowPurger
from whalefall.application.shared.batched_purge import MAX_BATCH, RowsPurged, purge_in_batches, runtime_budget


@dataclass(frozen=True, slots=True)
class PurgeExpiredLogs:
    """Deletes events with `ts` before now − `days`, at most 5000 rows per statement and transaction, until none
    is left or `max_runtime_s` has passed (`complete = False`). `days ≤ 0` is refused: logs always expire."""

    purger: ExpiredRowPurger
    clock: Clock
    days: int = 30
    batch_size: int = MAX_BATCH
    max_runtime_s: float = 1800.0

    async def execute(self) -> RowsPurged:
        if self.days <= 0:
            raise ValueError("retention.logs_days must be positive")
        started = self.clock.now()
        cutoff = started - timedelta(days=self.days)
        return await purge_in_batches(lambda limit: self.purger.delete_batch(cutoff, limit), self.batch_size,
                                      runtime_budget(self.clock.now, started, self.max_runtime_s))
