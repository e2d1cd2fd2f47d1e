"""Retention of unified logs (operations.md §1.9): delete events older than `retention.logs_days` in batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.logs import ExpiredRowPurger

MAX_BATCH: Final = 5000


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeOutcome:
    deleted: int
    batches: int
    complete: bool


@dataclass(frozen=True, slots=True)
class PurgeExpiredLogs:
    """Deletes events with `ts` before now − `days`, at most 5000 rows per statement and transaction, until none
    is left or `max_runtime_s` has passed (`complete = False`). `days ≤ 0` is refused: logs always expire."""

    purger: ExpiredRowPurger
    clock: Clock
    days: int = 30
    batch_size: int = MAX_BATCH
    max_runtime_s: float = 1800.0

    async def execute(self) -> PurgeOutcome:
        if self.days <= 0:
            raise ValueError("retention.logs_days must be positive")
        started = self.clock.now()
        cutoff = started - timedelta(days=self.days)
        limit = min(self.batch_size, MAX_BATCH)
        deleted = batches = 0
        while True:
            count = await self.purger.delete_batch(cutoff, limit)
            deleted += count
            batches += 1 if count else 0
            if count < limit:
                return PurgeOutcome(deleted=deleted, batches=batches, complete=True)
            if (self.clock.now() - started).total_seconds() >= self.max_runtime_s:
                return PurgeOutcome(deleted=deleted, batches=batches, complete=False)
