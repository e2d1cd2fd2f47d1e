"""Legacy defect 21: a vanished account has no open assignment after the sync transaction, even when the next
classification run is scoped to another instance; and defect 3: a database error while writing assignments fails
the record and writes nothing (classification.md §14)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text

from tests.fakes.account_sync import FakePgServer
from tests.fakes.sessions import SettableClock
from tests.support.stores import Store
from tests.unit.application.accounts.harness import T0, SyncHarness
from tests.unit.application.classification.fakes import context
from whalefall.adapters.persistence.classification.assignments import SqlAlchemyAssignmentStore
from whalefall.adapters.persistence.classification.facts import SqlAlchemyAccountFactsSource
from whalefall.adapters.persistence.classification.store import SqlAlchemyClassificationStore
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.classification import classifications
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.classification.classify_record import ClassifyRecord
from whalefall.application.classification.rule_sets import RuleSetCache
from whalefall.application.ports.classification import NewRule
from whalefall.domain.classification import parse_rule, to_document
from whalefall.domain.instances import DbEngine

T1, T2, T3 = T0 + timedelta(hours=1), T0 + timedelta(hours=2), T0 + timedelta(hours=3)
CODE = "wf_h4_critical"


@pytest.fixture
async def ledger(store: Store) -> AsyncIterator[SyncHarness]:
    database = Database(store.url)
    try:
        yield SyncHarness(database)
    finally:
        await database.dispose()


async def _superuser_rule(ledger: SyncHarness) -> int:
    rule = parse_rule({"version": 4, "expr": {"fn": "is_superuser"}}, engine=DbEngine.POSTGRESQL)
    async with ledger.database.engine.begin() as connection:
        classification = int((await connection.execute(insert(classifications).values(
            code=CODE, display_name=CODE, display_name_key=CODE, risk_level=1, priority=99, icon="tag",
            is_system=False, is_active=True, created_at=T0, updated_at=T0, revision=1,
        ).returning(classifications.c.id))).scalar_one())
    uow = SqlAlchemyUnitOfWork(ledger.database)
    try:
        store = SqlAlchemyClassificationStore(uow)
        await store.insert_rule(NewRule(
            name="supers", classification_id=classification, db_type=DbEngine.POSTGRESQL, description=None,
            expression=to_document(rule), fingerprint=rule.fingerprint, warnings=(), is_active=True,
            created_by=None, created_by_name=None), now=T0)
        await store.bump_rules_revision()
        await uow.commit()
    finally:
        await uow.close()
    return classification


async def _classify(ledger: SyncHarness, at: Any, session_id: str, instance_ids: list[int] | None = None,
                    ) -> dict[str, Any]:
    uow = SqlAlchemyUnitOfWork(ledger.database)
    try:
        work = ClassifyRecord(SqlAlchemyClassificationStore(uow), SqlAlchemyAssignmentStore(uow),
                              SqlAlchemyAccountFactsSource(uow), RuleSetCache(), uow, SettableClock(at))
        result = await work.run(context(DbEngine.POSTGRESQL, session_id=session_id, instance_ids=instance_ids))
        return dict(result.counters)
    finally:
        await uow.close()


async def _open(ledger: SyncHarness) -> list[tuple[str, Any]]:
    rows = await ledger.rows(
        "SELECT p.key AS key, h.valid_to AS valid_to FROM assignment_history h JOIN principals p "
        "ON p.id = h.account_id ORDER BY p.key, h.valid_from")
    return [(r["key"], r["valid_to"]) for r in rows]


async def test_defect_21_vanished_account_drops_out_in_the_sync_transaction(ledger: SyncHarness) -> None:
    first, second = await ledger.add_instance("pg1"), await ledger.add_instance("pg2")
    pg1, pg2 = FakePgServer(first), FakePgServer(second)
    pg1.add_role("alice", login=True, superuser=True)
    pg2.add_role("carol", login=True, superuser=True)
    await ledger.sync(first, lambda: pg1.rows(T1))
    await ledger.sync(second, lambda: pg2.rows(T1))
    await _superuser_rule(ledger)
    counters = await _classify(ledger, T1, "s-1")
    assert counters["assignments_added"] >= 2
    keys = {r["key"] for r in await ledger.rows(
        "SELECT p.key AS key FROM classification_assignments a JOIN principals p ON p.id = a.account_id")}
    assert {"alice", "carol"} <= keys

    pg1.drop_role("alice")
    await ledger.sync(first, lambda: pg1.rows(T2))
    # Right after the sync transaction, before any classification run:
    alice = await ledger.rows("SELECT a.id FROM classification_assignments a JOIN principals p "
                              "ON p.id = a.account_id WHERE p.key = 'alice'")
    assert alice == []
    history = dict(await _open(ledger))
    assert history["alice"] is not None and history["carol"] is None

    await _classify(ledger, T3, "s-2", instance_ids=[second])
    await _classify(ledger, T3, "s-3")
    assert await ledger.rows("SELECT a.id FROM classification_assignments a JOIN principals p "
                             "ON p.id = a.account_id WHERE p.key = 'alice'") == [], "a deactivated account stays out"
    stretches = [k for k, _ in await _open(ledger)]
    assert stretches.count("alice") == 1, "no new stretch was opened for the vanished account"


async def test_defect_3_a_write_error_fails_the_record_and_writes_nothing(ledger: SyncHarness) -> None:
    instance = await ledger.add_instance("pg1")
    pg = FakePgServer(instance)
    pg.add_role("alice", login=True, superuser=True)
    await ledger.sync(instance, lambda: pg.rows(T1))
    classification = await _superuser_rule(ledger)
    (alice,) = [r["id"] for r in await ledger.rows("SELECT id FROM principals WHERE key = 'alice'")]
    # A row the apply step does not see as its own (another engine's label) makes its insert violate the
    # unique (account, classification, source) constraint: a real database error in the middle of the writes.
    async with ledger.database.engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO classification_assignments (account_id, classification_id, source, instance_id, db_type, "
            "matched_rules, is_primary, assigned_at) VALUES (:a, :c, 'auto', :i, 'oracle', '[]', false, :t)"),
            {"a": alice, "c": classification, "i": instance, "t": T1})
    before = await ledger.rows("SELECT id FROM classification_assignments")
    with pytest.raises(Exception, match=r"(?i)unique"):
        await _classify(ledger, T2, "s-1")
    assert await ledger.rows("SELECT id FROM classification_assignments") == before
    assert await ledger.rows("SELECT id FROM assignment_history") == []
    assert await ledger.rows("SELECT id FROM classification_errors") == []
