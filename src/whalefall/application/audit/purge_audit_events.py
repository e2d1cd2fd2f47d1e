"""Retention of audit events (operations.md §1.9): older than `retention.audit_days` (365; 0 keeps forever)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.logs import ExpiredRowPurger
from whalefall.application.shared.batched_purge import (
    MAX_BATCH,
    NOTHING_PURGED,
    RowsPurged,
    purge_in_batches,
    runtime_budget,
)


@dataclass(frozen=True, slots=True)
class PurgeExpiredAuditEvents:
    """Deletes events with `ts` before now − `days`, at most 5000 rows per statement and transaction, until none
    is left or `max_runtime_s` has passed (`complete = False`). `days = 0` keeps every event (no-op)."""

    purger: ExpiredRowPurger
    clock: Clock
    days: int = 365
    batch_size: int = MAX_BATCH
    max_runtime_s: float = 1800.0

    async def execute(self) -> RowsPurged:
        if self.days <= 0:
            return NOTHING_PURGED
        started = self.clock.now()
        cutoff = started - timedelta(days=self.days)
        return await purge_in_batches(lambda limit: self.purger.delete_batch(cutoff, limit), self.batch_size,
                                      runtime_budget(self.clock.now, started, self.max_runtime_s))
