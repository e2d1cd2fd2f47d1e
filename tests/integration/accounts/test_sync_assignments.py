"""A sync that deactivates an account closes its auto classification assignments in the same transaction
(accounts.md §4 step 3, §5.3), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import select

from tests.fakes.account_sync import FakePgServer
from tests.integration.accounts.classified import add_classification, assign
from tests.unit.application.accounts.harness import T0, SyncHarness
from whalefall.adapters.persistence.classification.deactivation import SqlAlchemyDeactivatedAccountAssignments
from whalefall.adapters.persistence.tables.classification import assignment_history, classification_assignments
from whalefall.application.accounts.run_instance_sync import AccountFilterSettings
from whalefall.domain.accounts.filters import AccountFilter
from whalefall.domain.instances import DbEngine

T1, T2, T3 = T0 + timedelta(hours=1), T0 + timedelta(hours=2), T0 + timedelta(hours=3)


async def _state(ledger: SyncHarness) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    a, h = classification_assignments.c, assignment_history.c
    async with ledger.database.connect() as connection:
        rows = (await connection.execute(select(a.account_id, a.classification_id, a.source, a.is_primary)
                                         .order_by(a.account_id, a.classification_id, a.source))).all()
        history = (await connection.execute(select(h.account_id, h.classification_id, h.source, h.valid_to)
                                            .order_by(h.account_id, h.classification_id, h.source))).all()
    return [tuple(r) for r in rows], [tuple(r) for r in history]


async def _setup(ledger: SyncHarness) -> tuple[FakePgServer, int, dict[str, int], int, int]:
    instance = await ledger.add_instance()
    pg = FakePgServer(instance)
    pg.add_role("alice", login=True)
    pg.add_role("bob", login=True)
    await ledger.sync(instance, lambda: pg.rows(T1))
    ids = {r["key"]: int(r["id"]) for r in await ledger.rows("SELECT id, key FROM principals")}
    high, low = await add_classification(ledger, "wf_h1_high", 90), await add_classification(ledger, "wf_h1_low", 10)
    await assign(ledger, ids["alice"], instance, high, "auto", primary=True, at=T1)
    await assign(ledger, ids["alice"], instance, low, "manual", primary=False, at=T1)
    await assign(ledger, ids["bob"], instance, high, "auto", primary=True, at=T1)
    return pg, instance, ids, high, low


async def test_vanished_account_loses_auto_assignments_and_keeps_manual_ones(ledger: SyncHarness) -> None:
    pg, instance, ids, high, low = await _setup(ledger)
    pg.drop_role("alice")

    result = await ledger.sync(instance, lambda: pg.rows(T2))

    assert result.counters["accounts_removed"] == 1
    rows, history = await _state(ledger)
    alice, bob = ids["alice"], ids["bob"]
    # The manual one remains and, being all that is left, becomes alice's primary (§9 step 7).
    assert rows == sorted([(alice, low, "manual", True), (bob, high, "auto", True)])
    closed = {(a, c, s): to for a, c, s, to in history}
    assert closed[(alice, high, "auto")] == T2
    assert closed[(alice, low, "manual")] is None
    assert closed[(bob, high, "auto")] is None


async def test_failure_after_closing_rolls_back_ledger_and_assignments(ledger: SyncHarness) -> None:
    pg, instance, _ids, _high, _low = await _setup(ledger)
    before_ledger, before_assignments = await ledger.dump(), await _state(ledger)
    pg.drop_role("alice")
    original = SqlAlchemyDeactivatedAccountAssignments.close_auto
    closed: list[int] = []

    async def close_then_fail(self: SqlAlchemyDeactivatedAccountAssignments, account_ids: Any, *, at: Any) -> int:
        closed.append(await original(self, account_ids, at=at))
        raise RuntimeError("injected failure after the assignments were closed")

    with mock.patch.object(SqlAlchemyDeactivatedAccountAssignments, "close_auto", close_then_fail), \
            pytest.raises(RuntimeError, match="injected"):
        await ledger.sync(instance, lambda: pg.rows(T2))

    assert closed == [1]
    assert await _state(ledger) == before_assignments
    assert await ledger.dump() == before_ledger


async def test_filtered_account_loses_auto_assignments_and_unchanged_resync_touches_none(
        ledger: SyncHarness) -> None:
    pg, instance, ids, high, low = await _setup(ledger)
    await ledger.sync(instance, lambda: pg.rows(T2))
    assert len((await _state(ledger))[0]) == 3  # nothing deactivated → nothing closed

    ledger.filters = AccountFilterSettings({DbEngine.POSTGRESQL: AccountFilter(
        engine=DbEngine.POSTGRESQL, exclude=("pg_*", "bob"))})
    await ledger.sync(instance, lambda: pg.rows(T3))

    rows, history = await _state(ledger)
    assert rows == sorted([(ids["alice"], high, "auto", True), (ids["alice"], low, "manual", False)])
    assert {(a, c, s): to for a, c, s, to in history}[(ids["bob"], high, "auto")] == T3
