"""Retention of the accounts history (accounts.md §6.2): change log after N days, closed ledger rows after
`ledger.retention_days`, state queries before the cut-off answer `unknown` / `outside_retention`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.fakes.account_sync import FakePgServer
from tests.unit.application.accounts.harness import T0, SyncHarness
from whalefall.adapters.persistence.accounts.reader import SqlAlchemyLedgerReader
from whalefall.adapters.persistence.accounts.retention import SqlAlchemyAccountHistoryPurger
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.accounts.history import GetAccountStateAt, GetNetDiff
from whalefall.application.accounts.purge_account_history import LedgerRetention, PurgeExpiredAccountHistory
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor

DAY = timedelta(days=1)
T1, T2, T3 = T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY
NOW = T0 + 4 * DAY + timedelta(hours=12)  # cut-offs fall between the syncs: N days → T(4-N) + 12 h
ACTOR = Actor.system("wf_h1_test")


@dataclass(frozen=True)
class FixedClock(Clock):
    at: datetime

    def now(self) -> datetime:
        return self.at


async def _history(ledger: SyncHarness) -> dict[str, int]:
    """alice: INSERT on orders at T1, revoked at T2 (a closed version and a closed interval);
    bob: dropped at T2 (his closed version is his last known state); carol: added at T3."""
    instance = await ledger.add_instance()
    pg = FakePgServer(instance)
    pg.add_role("alice", login=True)
    pg.grant("alice", "INSERT", "orders")
    pg.add_role("bob", login=True)
    await ledger.sync(instance, lambda: pg.rows(T1))
    pg.revoke("alice", "INSERT", "orders")
    pg.drop_role("bob")
    await ledger.sync(instance, lambda: pg.rows(T2))
    pg.add_role("carol", login=True)
    await ledger.sync(instance, lambda: pg.rows(T3))
    return {r["key"]: int(r["id"]) for r in await ledger.rows("SELECT id, key FROM principals")}


def _purge(ledger: SyncHarness, **options: object) -> PurgeExpiredAccountHistory:
    return PurgeExpiredAccountHistory(SqlAlchemyAccountHistoryPurger(ledger.database), FixedClock(NOW),
                                      **options)  # type: ignore[arg-type]


async def test_change_log_expires_and_the_ledger_is_kept_by_default(ledger: SyncHarness) -> None:
    await _history(ledger)
    versions = await ledger.scalar("SELECT count(*) FROM principal_state_versions")
    first = await ledger.scalar("SELECT count(*) FROM principal_changes WHERE observed_at < :c", c=T2)
    assert first > 0

    outcome = await _purge(ledger, change_log_days=3, batch_size=2).execute()

    assert outcome.complete and outcome.per_table == {"principal_changes": first}
    assert outcome.deleted == first and outcome.batches == -(-first // 2)
    assert await ledger.scalar("SELECT min(observed_at) FROM principal_changes") is not None
    assert await ledger.scalar("SELECT count(*) FROM principal_changes WHERE observed_at < :c", c=T2) == 0
    assert await ledger.scalar("SELECT count(*) FROM principal_state_versions") == versions
    again = await _purge(ledger, change_log_days=3).execute()
    assert again.deleted == 0 and again.complete


async def test_ledger_retention_removes_closed_rows_but_keeps_current_and_last_known(ledger: SyncHarness) -> None:
    ids = await _history(ledger)

    cutoff = T3 + timedelta(hours=12)
    # postgres and whalefall change too (the fake renumbers oids, a stable_id attribute).
    expected = await ledger.scalar(
        "SELECT count(*) FROM principal_state_versions v WHERE valid_to < :c AND NOT EXISTS "
        "(SELECT 1 FROM principals p WHERE p.current_state_version_id = v.id)", c=cutoff)
    assert expected >= 1

    outcome = await _purge(ledger, change_log_days=0, ledger_days=1).execute()

    assert outcome.complete
    assert outcome.per_table["principal_state_versions"] == expected
    assert outcome.per_table["grant_intervals"] == 1           # alice's INSERT, closed at T2
    assert "principal_changes" not in outcome.per_table        # 0 days = keep the change log
    remaining = {(r["principal_id"], r["valid_to"] is None) for r in await ledger.rows(
        "SELECT principal_id, valid_to FROM principal_state_versions")}
    assert (ids["alice"], True) in remaining and (ids["alice"], False) not in remaining
    assert (ids["bob"], False) in remaining                    # last known state of an inactive account
    assert await ledger.scalar("SELECT count(*) FROM grant_intervals WHERE valid_to IS NOT NULL") == 0
    assert await ledger.scalar("SELECT count(*) FROM grant_intervals WHERE valid_to IS NULL") > 0


async def test_state_before_the_cutoff_is_unknown_outside_retention(ledger: SyncHarness) -> None:
    ids = await _history(ledger)
    retention = LedgerRetention(1, FixedClock(NOW))  # cut-off T3 + 12 h
    uow = SqlAlchemyUnitOfWork(ledger.database)
    try:
        accounts = SqlAlchemyLedgerReader(uow)
        state_at = GetAccountStateAt(accounts, FixedClock(NOW), retention)
        before = await state_at.execute(ACTOR, ids["alice"], T1 + timedelta(hours=1))
        after = await state_at.execute(ACTOR, ids["alice"], T3 + timedelta(hours=18))
        unlimited = await GetAccountStateAt(accounts, FixedClock(NOW)).execute(ACTOR, ids["alice"], T1)
        diff = await GetNetDiff(accounts, retention).execute(ACTOR, ids["alice"], T1, T3 + timedelta(hours=18))
    finally:
        await uow.close()
    assert (before.status, before.reason, before.grants) == ("unknown", "outside_retention", None)
    assert (after.status, after.reason) == ("known", None)
    assert unlimited.status == "known" and unlimited.grants
    assert diff.status_from == "unknown" and diff.status_to == "known"


async def test_runtime_budget_stops_early(ledger: SyncHarness) -> None:
    await _history(ledger)
    before = await ledger.scalar("SELECT count(*) FROM principal_changes")

    outcome = await _purge(ledger, change_log_days=1, max_runtime_s=0.0).execute()

    assert not outcome.complete and outcome.deleted == 0
    assert await ledger.scalar("SELECT count(*) FROM principal_changes") == before
