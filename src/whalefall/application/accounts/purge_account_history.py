"""Retention of the accounts history (accounts.md §6.2, operations.md §1.9 `account_changes`): the change log
after `retention.account_changes_days` (400), and, only when `ledger.retention_days` is set, the ledger rows that
ended before that cut-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from whalefall.application.ports.accounts import AccountHistoryPurger, HistoryTable
from whalefall.application.ports.clock import Clock

MAX_BATCH: Final = 5000
DEFAULT_CHANGE_LOG_DAYS: Final = 400
#: Ledger tables in deletion order (intervals and settings before the versions they accompany).
LEDGER_TABLES: Final = (HistoryTable.GRANT_INTERVALS, HistoryTable.MEMBERSHIP_INTERVALS, HistoryTable.SETTINGS,
                        HistoryTable.STATE_VERSIONS)


@dataclass(frozen=True, slots=True)
class LedgerRetention:
    """`ledger.retention_days` (None: the ledger is kept forever). Queries for an instant before `cutoff()` answer
    `unknown` with reason `outside_retention`, whether or not the purge has already run (one answer for every
    instant, independent of the job's timing)."""

    days: int | None = None
    clock: Clock | None = None

    def cutoff(self) -> datetime | None:
        if self.days is None or self.days <= 0 or self.clock is None:
            return None
        return self.clock.now() - timedelta(days=self.days)


NO_RETENTION: Final = LedgerRetention()


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountHistoryPurged:
    """Rows deleted per table (`deleted` is their sum), batches committed, False when `max_runtime_s` cut the run
    short (the next run goes on)."""

    deleted: int
    batches: int
    complete: bool
    per_table: dict[str, int]


@dataclass(frozen=True, slots=True)
class PurgeExpiredAccountHistory:
    """Deletes change entries observed before now − `change_log_days` (default 400; ≤ 0 keeps them forever) and,
    when `ledger_days` is set (> 0), grant/membership intervals, settings versions and state versions that ended
    before now − `ledger_days`. Open intervals and the current (or last known) state version of every principal
    are never deleted, so current data and reactivation diffs stay intact. At most 5000 rows per statement and
    transaction; stops after `max_runtime_s` with `complete = False`."""

    purger: AccountHistoryPurger
    clock: Clock
    change_log_days: int = DEFAULT_CHANGE_LOG_DAYS
    ledger_days: int | None = None
    batch_size: int = MAX_BATCH
    max_runtime_s: float = 1800.0

    async def execute(self) -> AccountHistoryPurged:
        started = self.clock.now()
        plan: list[tuple[HistoryTable, datetime]] = []
        if self.change_log_days > 0:
            plan.append((HistoryTable.CHANGES, started - timedelta(days=self.change_log_days)))
        if self.ledger_days is not None and self.ledger_days > 0:
            plan += [(table, started - timedelta(days=self.ledger_days)) for table in LEDGER_TABLES]
        limit = max(1, min(self.batch_size, MAX_BATCH))
        per_table: dict[str, int] = {}
        batches = 0
        for table, cutoff in plan:
            deleted = 0
            while True:
                if (self.clock.now() - started).total_seconds() >= self.max_runtime_s:
                    per_table[table.value] = deleted
                    return AccountHistoryPurged(deleted=sum(per_table.values()), batches=batches, complete=False,
                                                per_table=per_table)
                count = await self.purger.delete_batch(table, cutoff, limit)
                deleted += count
                batches += 1 if count else 0
                if count < limit:
                    break
            per_table[table.value] = deleted
        return AccountHistoryPurged(deleted=sum(per_table.values()), batches=batches, complete=True,
                                    per_table=per_table)
