"""Records that complete with item errors end their session `partial` (classification.md §9 step 9, legacy
defect 2), on the real stores with the real runner."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.fakes.sessions import ScriptedWork, SettableClock
from tests.integration.sessions.harness import Harness
from tests.unit.application.classification.fakes import (
    T0,
    FixedFactsSource,
    MemoryAssignmentStore,
    MemoryClassificationStore,
    MemoryUnitOfWork,
    classification,
)
from whalefall.application.classification.classify_record import ClassifyRecord
from whalefall.application.classification.rule_sets import RuleSetCache
from whalefall.application.ports.sessions import NewRecord, RecordFinish
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.sessions.run_record import RunOutcome
from whalefall.application.sessions.work import RecordContext, RecordResult
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import AccountRef, PermissionFacts
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger

ACCOUNTS = 1000


async def _open(harness: Harness, kind: SessionKind, keys: list[str], item_type: str) -> list[int]:
    async with harness.unit() as (store, uow):
        view = await OpenSession(store, store, harness.queue, uow, harness.clock).execute(OpenSessionInput(
            kind=kind, scope=SessionScope.FLEET, trigger=SessionTrigger.MANUAL,
            records=[NewRecord(item_type=item_type, item_key=key) for key in keys]))
    return [r.id for r in await harness.records(view.id)]


def _classify_work() -> tuple[ClassifyRecord, MemoryAssignmentStore]:
    """ClassifyRecord over in-memory classification ports: 1,000 MySQL accounts, the last without facts."""
    store, assignments = MemoryClassificationStore(), MemoryAssignmentStore()
    store.classifications = {1: classification(1, "low", priority=60, risk=5)}
    store.add_rule(1, 1, DbEngine.MYSQL, {"fn": "has_capability", "args": {"name": "LOGIN"}})
    source = FixedFactsSource(instances={1: DbEngine.MYSQL})
    for n in range(ACCOUNTS):
        source.accounts[100 + n] = (1, DbEngine.MYSQL, None if n == ACCOUNTS - 1 else PermissionFacts(
            engine=DbEngine.MYSQL, flavor="mysql", account=AccountRef("", f"u{n}@%", "user"), as_of=T0,
            capabilities=("LOGIN",)))
    clock = SettableClock(datetime(2026, 5, 1, 2, tzinfo=T0.tzinfo))
    work = ClassifyRecord(store=store, assignments=assignments, facts=source, cache=RuleSetCache(),
                          uow=MemoryUnitOfWork(assignments), clock=clock)
    return work, assignments


async def test_defect_2_one_account_without_facts_never_aborts_and_the_session_ends_partial(
        harness: Harness) -> None:
    [record_id] = await _open(harness, SessionKind.CLASSIFICATION, ["mysql"], "engine")
    work, assignments = _classify_work()
    assert await harness.run(record_id, work, SessionKind.CLASSIFICATION) is RunOutcome.COMPLETED
    record = await harness.record(record_id)
    assert (record.status, record.error_items) == (RecordStatus.COMPLETED, 1)
    assert (record.counters["accounts_evaluated"], record.counters["accounts_without_facts"]) == (ACCOUNTS - 1, 1)
    session = await harness.session(record.session_id)
    assert (session.status, session.succeeded, session.failed) == (SessionStatus.PARTIAL, 1, 0)
    assert len(assignments.auto()) == ACCOUNTS - 1
    assert [(e.account_id, e.code) for e in assignments.errors] == [(100 + ACCOUNTS - 1, "facts_missing")]


async def _errors(_context: RecordContext) -> RecordResult:
    return RecordResult(counters={"seen": 3}, error_items=2)


async def test_item_errors_are_generic_and_the_o1_table_still_holds_without_them(harness: Harness) -> None:
    """Decision (final_status): any kind may report item errors; one clean record and one with errors → partial;
    a session whose records report none follows O1 (completed)."""
    first, second = await _open(harness, SessionKind.CAPACITY_AGGREGATION, ["daily", "weekly"], "period")
    assert await harness.run(first, ScriptedWork(), SessionKind.CAPACITY_AGGREGATION) is RunOutcome.COMPLETED
    assert await harness.run(second, ScriptedWork(_errors), SessionKind.CAPACITY_AGGREGATION) is RunOutcome.COMPLETED
    session = await harness.session((await harness.record(first)).session_id)
    assert (session.status, session.succeeded) == (SessionStatus.PARTIAL, 2)
    assert [(await harness.record(r)).error_items for r in (first, second)] == [0, 2]
    clean = await _open(harness, SessionKind.CAPACITY_AGGREGATION, ["monthly"], "period")
    assert await harness.run(clean[0], ScriptedWork(), SessionKind.CAPACITY_AGGREGATION) is RunOutcome.COMPLETED
    assert (await harness.session((await harness.record(clean[0])).session_id)).status is SessionStatus.COMPLETED


def test_only_completed_records_carry_item_errors() -> None:
    with pytest.raises(ValueError, match="completed"):
        RecordFinish(status=RecordStatus.FAILED, error_items=1)
    with pytest.raises(ValueError, match=">= 0"):
        RecordFinish(status=RecordStatus.COMPLETED, error_items=-1)
