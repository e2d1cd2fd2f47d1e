"""The `retention_cleanup` kind (operations.md §1.9): one record per retention category, each running its purge.

Every slice that owns expiring rows provides the purge of its category (a use case with `execute() ->
outcome{deleted, batches, complete}`); the composition root maps category names to them. This module owns the
category names (the record item keys) and the generic batched purge most categories use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Final, Protocol

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.logs import ExpiredRowPurger
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.application.shared.batched_purge import (
    MAX_BATCH,
    NOTHING_PURGED,
    RowsPurged,
    purge_in_batches,
    runtime_budget,
)

RETENTION_CATEGORIES: Final = (
    "sync_sessions",       # sessions + records, 90 days after finished_at (`retention.sessions_days`)
    "pipeline_runs",       # runs + step runs, 90 days after finished_at (`retention.pipeline_runs_days`)
    "job_fires",           # 30 days after fired_at (`retention.job_fires_days`)
    "unified_logs",        # 30 days (`retention.logs_days`)
    "audit_events",        # 365 days, 0 = forever (`retention.audit_days`)
    "account_changes",     # change log, 400 days (`retention.account_changes_days`); ledger per accounts.md
    "process_heartbeats",  # 1 day after last_seen_at (`retention.heartbeats_days`)
    "capacity_samples",    # SQLite only: samples and aggregations below the partition cutoffs
    "idempotency_keys",    # API idempotency keys past their expires_at (`idempotency.ttl_s`, 24 h)
)
"""Item keys of a `retention_cleanup` session, in the order of the spec's table (names follow the tables)."""
NOT_WIRED_CODE: Final = "NOTHING_TO_DO"


class RetentionOutcome(Protocol):
    """What every purge reports: rows deleted, batches committed, False when `max_runtime_s` cut it short."""

    @property
    def deleted(self) -> int: ...

    @property
    def batches(self) -> int: ...

    @property
    def complete(self) -> bool: ...


RetentionPurge = Callable[[], Awaitable[RetentionOutcome]]
"""Runs one category's purge (resolved lazily, so an unused category builds nothing)."""


@dataclass(frozen=True, slots=True)
class PurgeExpiredRows:
    """Deletes rows whose age timestamp is before now − `days` through `purger`, at most 5000 rows per statement
    and transaction, until a short batch or `max_runtime_s` has passed (`complete = False`; the next run goes on).
    `days ≤ 0` keeps everything (no-op): the settings of these categories have no "0 = delete all" meaning."""

    purger: ExpiredRowPurger
    clock: Clock
    days: float
    batch_size: int = MAX_BATCH
    max_runtime_s: float = 1800.0

    async def execute(self) -> RowsPurged:
        if self.days <= 0:
            return NOTHING_PURGED
        started = self.clock.now()
        cutoff = started - timedelta(days=self.days)
        return await purge_in_batches(lambda limit: self.purger.delete_batch(cutoff, limit), self.batch_size,
                                      runtime_budget(self.clock.now, started, self.max_runtime_s))


@dataclass(frozen=True, slots=True)
class PurgeBeforeCutoffs:
    """Several tables, each with its own cutoff computed from now (the capacity tables on SQLite use the
    partition retention cutoffs of capacity.md §8.1, months in the business calendar); batched like
    PurgeExpiredRows, one table after the other, sharing one `max_runtime_s`. The outcome sums the tables."""

    targets: Sequence[tuple[ExpiredRowPurger, Callable[[datetime], datetime]]]
    clock: Clock
    batch_size: int = MAX_BATCH
    max_runtime_s: float = 1800.0

    async def execute(self) -> RowsPurged:
        started = self.clock.now()
        out_of_time = runtime_budget(self.clock.now, started, self.max_runtime_s)
        deleted = batches = 0
        for purger, cutoff_of in self.targets:
            cutoff = cutoff_of(started)
            outcome = await purge_in_batches(partial(purger.delete_batch, cutoff), self.batch_size, out_of_time)
            deleted, batches = deleted + outcome.deleted, batches + outcome.batches
            if not outcome.complete:
                return RowsPurged(deleted=deleted, batches=batches, complete=False)
        return RowsPurged(deleted=deleted, batches=batches, complete=True)


@dataclass(frozen=True, slots=True)
class RunRetentionCategory(RecordWork):
    """The record work of `retention_cleanup`: runs the purge of the record's category and reports
    `counters.deleted` / `counters.batches`. A category this process has no purge for (e.g. samples on
    PostgreSQL, where partition drops do the job) is `skipped` NOTHING_TO_DO with the reason in details; a purge
    cut short by `retention.max_runtime_s` completes with a RETENTION_INCOMPLETE warning.

    Purges commit their own bounded batches on their own connections, never in the task's unit of work, so no
    transaction stays open across batches; they are idempotent, so no fence is needed (a worker that lost its lease
    can only delete rows that were expired anyway). Cancellation is checked before the purge starts."""

    purges: Mapping[str, RetentionPurge]

    async def run(self, context: RecordContext) -> RecordResult:
        category = context.record.item_key
        purge = self.purges.get(category)
        if purge is None:
            return RecordResult(skipped_code=NOT_WIRED_CODE,
                                details={"category": category,
                                         "reason": "no purge for this category in this deployment"})
        await context.check_cancel()
        outcome = await purge()
        warnings = [] if outcome.complete else [{
            "code": "RETENTION_INCOMPLETE",
            "message": f"stopped after retention.max_runtime_s with {outcome.deleted} rows deleted; the next run "
                       "continues"}]
        return RecordResult(counters={"deleted": outcome.deleted, "batches": outcome.batches},
                            warnings=warnings, details={"category": category, "complete": outcome.complete})
