"""Ledger queries on SQLite and PostgreSQL (accounts.md §6.2): state at T, changes between, net diff, holders,
timeline, effective privileges at T."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.fakes.account_sync import FakePgServer
from tests.unit.application.accounts.harness import T0, SyncHarness
from whalefall.adapters.persistence.accounts.reader import SqlAlchemyLedgerReader
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.accounts.history import (
    FindHolders,
    GetAccountStateAt,
    GetAccountTimeline,
    GetEffectivePrivileges,
    GetNetDiff,
)
from whalefall.application.accounts.queries import GetAccountPermissions, ListAccountChanges, ListAccounts
from whalefall.application.ports.accounts import AccountQuery, HolderQuery
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import PageRequest, SortKey

T1, T2, T3, T4 = (T0 + timedelta(hours=h) for h in (1, 2, 3, 4))
NOW = T0 + timedelta(days=1)
ACTOR = Actor.system("test")
PAGE = PageRequest(1, 200, (SortKey("observed_at"),))


@dataclass(frozen=True)
class FixedClock(Clock):
    at: datetime

    def now(self) -> datetime:
        return self.at


@asynccontextmanager
async def reader(ledger: SyncHarness) -> AsyncIterator[SqlAlchemyLedgerReader]:
    uow = SqlAlchemyUnitOfWork(ledger.database)
    try:
        yield SqlAlchemyLedgerReader(uow)
    finally:
        await uow.close()


async def history(ledger: SyncHarness) -> dict[str, int]:
    """T1 first sync; T2 alice gains UPDATE t2; T3 loses it again; T4 bob vanishes."""
    instance = await ledger.add_instance()
    pg = FakePgServer(instance)
    pg.add_role("app_ro")
    pg.grant("app_ro", "SELECT", "orders")
    pg.add_role("alice", login=True)
    pg.grant("alice", "INSERT", "t1")
    pg.grant_role("app_ro", "alice")
    pg.add_role("bob", login=True)
    await ledger.sync(instance, lambda: pg.rows(T1))
    pg.grant("alice", "UPDATE", "t2")
    await ledger.sync(instance, lambda: pg.rows(T2))
    pg.revoke("alice", "UPDATE", "t2")
    await ledger.sync(instance, lambda: pg.rows(T3))
    pg.drop_role("bob")
    await ledger.sync(instance, lambda: pg.rows(T4))
    async with reader(ledger) as accounts:
        page = await accounts.list_accounts(AccountQuery(include_inactive=True), PageRequest(1, 50, (SortKey("key"),)))
    return {a.key: a.id for a in page.items} | {"instance": instance}


async def test_state_at_known_absent_unknown(ledger: SyncHarness) -> None:
    ids = await history(ledger)
    async with reader(ledger) as accounts:
        use_case = GetAccountStateAt(accounts, FixedClock(NOW))
        before = await use_case.execute(ACTOR, ids["alice"], T0)
        assert (before.status, before.reason) == ("unknown", "before_first_observation")
        at_t1 = await use_case.execute(ACTOR, ids["alice"], T1)
        assert at_t1.status == "known" and at_t1.observed_at == T1
        assert at_t1.grants is not None
        assert {(g.privilege, g.object_path) for g in at_t1.grants} == {("INSERT", "app.public.t1")}
        during = await use_case.execute(ACTOR, ids["alice"], T2 + timedelta(minutes=30))
        assert during.grants is not None and ("UPDATE", "app.public.t2") in {
            (g.privilege, g.object_path) for g in during.grants}
        gone = await use_case.execute(ACTOR, ids["bob"], T4)
        assert (gone.status, gone.reason) == ("absent", "deactivated")
        still = await use_case.execute(ACTOR, ids["bob"], T4 - timedelta(seconds=1))
        assert still.status == "known"


async def test_changes_between_is_from_exclusive_to_inclusive(ledger: SyncHarness) -> None:
    ids = await history(ledger)
    async with reader(ledger) as accounts:
        use_case = ListAccountChanges(accounts, FixedClock(NOW))
        first = await use_case.execute(ACTOR, ids["alice"], since=T0, until=T1, types=frozenset(), page=PAGE)
        assert [c.type for c in first.items] == ["added"]
        later = await use_case.execute(ACTOR, ids["alice"], since=T1, until=T2, types=frozenset(), page=PAGE)
        assert [(c.type, c.observed_at) for c in later.items] == [("privileges_granted", T2)]
        everything = await use_case.execute(ACTOR, ids["alice"], since=None, until=None, types=frozenset(),
                                            page=PAGE)
        assert [c.type for c in everything.items] == ["added", "privileges_granted", "privileges_revoked"]


async def test_net_diff_cancels_grant_then_revoke(ledger: SyncHarness) -> None:
    ids = await history(ledger)
    async with reader(ledger) as accounts:
        use_case = GetNetDiff(accounts)
        assert (await use_case.execute(ACTOR, ids["alice"], T1, T3)).diff.is_empty
        gained = (await use_case.execute(ACTOR, ids["alice"], T1, T2)).diff
        assert [(g.privilege, g.object) for g in gained.granted] == [("UPDATE", ("app", "public", "t2"))]
        assert gained.revoked == ()


async def test_holders_at_and_effective_holders(ledger: SyncHarness) -> None:
    ids = await history(ledger)
    async with reader(ledger) as accounts:
        use_case = FindHolders(accounts, FixedClock(NOW))
        page = PageRequest(1, 50)
        update_t2 = HolderQuery(privilege="UPDATE", scope="table", at=T2, object_path="app.public.t2")
        assert [h.account.key for h in (await use_case.execute(ACTOR, update_t2, effective=False, page=page)).items] \
            == ["alice"]
        later = HolderQuery(privilege="UPDATE", scope="table", at=T3, object_path="app.public.t2")
        assert (await use_case.execute(ACTOR, later, effective=False, page=page)).total == 0
        select_orders = HolderQuery(privilege="SELECT", scope="table", at=T1, object_path="app.public.orders")
        stored = await use_case.execute(ACTOR, select_orders, effective=False, page=page)
        assert [h.account.key for h in stored.items] == ["app_ro"]
        effective = await use_case.execute(ACTOR, select_orders, effective=True, page=page)
        by_key = {h.account.key: h for h in effective.items}
        assert {"alice", "app_ro"} <= set(by_key)
        assert by_key["alice"].paths is not None and by_key["alice"].paths[0].source == "role:app_ro"
    assert ids["alice"] != ids["app_ro"]


async def test_effective_privileges_at_an_instant(ledger: SyncHarness) -> None:
    ids = await history(ledger)
    async with reader(ledger) as accounts:
        use_case = GetEffectivePrivileges(accounts, FixedClock(NOW))
        now = await use_case.execute(ACTOR, ids["alice"])
        assert {(g.privilege, g.object_path) for g in now.items} >= {("SELECT", "app.public.orders"),
                                                                       ("INSERT", "app.public.t1")}
        at_t2 = await use_case.execute(ACTOR, ids["alice"], at=T2, privilege="update")
        assert [g.object_path for g in at_t2.items] == ["app.public.t2"]


async def test_timeline_and_permissions(ledger: SyncHarness) -> None:
    ids = await history(ledger)
    async with reader(ledger) as accounts:
        timeline = await GetAccountTimeline(accounts).execute(ACTOR, ids["alice"],
                                                              PageRequest(1, 20, (SortKey("valid_from"),)))
        assert [(v.valid_from, [c.type for c in v.changes]) for v in timeline.items] == [
            (T1, ["added"]), (T2, ["privileges_granted"]), (T3, ["privileges_revoked"])]
        bob = await GetAccountTimeline(accounts).execute(ACTOR, ids["bob"],
                                                         PageRequest(1, 20, (SortKey("valid_from"),)))
        assert [[c.type for c in v.changes] for v in bob.items] == [["added", "removed"]]
        permissions = await GetAccountPermissions(accounts).execute(ACTOR, ids["alice"])
        assert [m.role.key for m in permissions.memberships] == ["app_ro"]
        assert permissions.observed_at == T4
        listed = await ListAccounts(accounts).execute(ACTOR, AccountQuery(), PageRequest(1, 50, (SortKey("key"),)))
        assert "bob" not in {a.key for a in listed.items}
        assert "postgres" in {a.key for a in (await ListAccounts(accounts).execute(
            ACTOR, AccountQuery(is_superuser=True), PageRequest(1, 50, (SortKey("key"),)))).items}
