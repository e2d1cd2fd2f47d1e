"""Accounts legacy defects that concern the stored sync record (accounts.md §10 defects 1, 5, 20 and 22): a
single-instance manual sync, opened like the HTTP action and run by the real runner with the real RunInstanceSync on
both stores, over a scripted PostgreSQL catalog."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from unittest import mock

import pytest
from sqlalchemy import event

from tests.fakes.account_sync import FakePgServer
from tests.fakes.sessions import MappingRecordWorks
from tests.integration.sessions.harness import Harness, quick_config
from tests.unit.application.accounts.harness import T0, SyncHarness
from whalefall.adapters.persistence.accounts.writer import SqlAlchemyLedgerWriter
from whalefall.adapters.persistence.classification.deactivation import SqlAlchemyDeactivatedAccountAssignments
from whalefall.adapters.persistence.instances import SqlAlchemyCredentialRepository, SqlAlchemyInstanceRepository
from whalefall.application.accounts.run_instance_sync import RunInstanceSync
from whalefall.application.ports.connectors import ConnectorTimeouts
from whalefall.application.ports.sessions import RecordView
from whalefall.application.sessions.run_record import RunOutcome, RunRecord
from whalefall.domain.accounts.rows.common import DatabaseFailure
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus

SYNC = SessionKind.ACCOUNTS_SYNC


async def _sync_once(ledger: SyncHarness, runtime: Harness, instance: int,
                     expected: RunOutcome = RunOutcome.COMPLETED) -> RecordView:
    """Open a targeted manual session for one instance (what POST /instances/{id}/actions/sync-accounts does) and
    run its record; the work shares the runner's unit of work, as in the worker. Returns the stored record."""
    session = await runtime.open(SYNC, instance_ids=[instance])
    [record] = await runtime.records(session.id)
    async with runtime.unit() as (store, uow):
        work = RunInstanceSync(
            instances=SqlAlchemyInstanceRepository(uow), credentials=SqlAlchemyCredentialRepository(uow),
            cipher=ledger.cipher, connectors=ledger.connectors, timeouts=ConnectorTimeouts(),
            ledger=SqlAlchemyLedgerWriter(uow), filters=ledger.filters, uow=uow,
            assignments=SqlAlchemyDeactivatedAccountAssignments(uow))
        runner = RunRecord(store, uow, runtime.transactions, MappingRecordWorks({SYNC: work}), runtime.clock,
                           "test:1:w1refs", quick_config(), runtime.finalised, runtime.finisher, runtime.claimer,
                           runtime.cancel_watch)
        assert await runner.execute(record.id) is expected
    terminal = SessionStatus.COMPLETED if expected is RunOutcome.COMPLETED else SessionStatus.FAILED
    assert (await runtime.session(session.id)).status is terminal
    runtime.clock.advance(3600)
    return await runtime.record(record.id)


@pytest.fixture
def runtime(ledger: SyncHarness) -> Harness:
    harness = Harness(ledger.database)
    harness.clock.current = T0 + timedelta(days=1)
    return harness


async def _server(ledger: SyncHarness, runtime: Harness, name: str) -> tuple[int, FakePgServer]:
    instance = await ledger.add_instance(name)
    pg = FakePgServer(instance)
    pg.add_role("w1_app", login=True)
    pg.grant("w1_app", "SELECT", "orders")
    ledger.connectors.serve(instance, lambda: pg.rows(runtime.clock.now()))
    return instance, pg


async def test_defect_1_a_failure_writing_the_change_log_fails_the_record_and_changes_nothing(
        ledger: SyncHarness, runtime: Harness) -> None:
    """Accounts defect 1: with the change-log insert failing, the record ends `failed` and principals, state
    versions, intervals and change log are identical to before the sync."""
    instance, pg = await _server(ledger, runtime, "w1atomic")
    await _sync_once(ledger, runtime, instance)
    before = await ledger.dump()
    pg.revoke("w1_app", "SELECT", "orders")
    pg.add_role("w1_new", login=True)
    with mock.patch.object(SqlAlchemyLedgerWriter, "_insert_changes", side_effect=RuntimeError("disk full")):
        record = await _sync_once(ledger, runtime, instance, RunOutcome.FAILED)
    assert record.status is RecordStatus.FAILED and record.finished_at is not None
    assert await ledger.dump() == before


async def test_defect_5_an_unreadable_database_is_a_record_warning_and_its_grants_are_carried(
        ledger: SyncHarness, runtime: Harness) -> None:
    """Accounts defect 5: the database `app` cannot be read on the second sync → the record completes with a
    COVERAGE_GAP warning naming it, no `privileges_revoked` entry is written, and the grant interval stays open."""
    instance, pg = await _server(ledger, runtime, "w1gap")
    await _sync_once(ledger, runtime, instance)
    open_before = await ledger.scalar("SELECT count(*) FROM grant_intervals WHERE valid_to IS NULL")
    blind = replace(pg.rows(runtime.clock.now()), databases=(),
                    failed_databases=(DatabaseFailure(database="app", connect_failed=True, detail="denied"),))
    ledger.connectors.serve(instance, lambda: blind)

    record = await _sync_once(ledger, runtime, instance)

    assert record.status is RecordStatus.COMPLETED
    assert [w for w in record.warnings if w["code"] == "COVERAGE_GAP" and "app" in str(w["message"])]
    assert record.counters["coverage_gaps"] == 1
    revoked = await ledger.scalar("SELECT count(*) FROM principal_changes WHERE sync_record_id = :r "
                                  "AND type = 'privileges_revoked'", r=record.id)
    assert revoked == 0
    assert await ledger.scalar("SELECT count(*) FROM grant_intervals WHERE valid_to IS NULL") == open_before


async def test_defect_22_the_record_counts_reactivations_apart_and_stores_no_usernames(
        ledger: SyncHarness, runtime: Harness) -> None:
    """Accounts defect 22: a returning account counts in `accounts_reactivated`, not `accounts_added`, in the
    stored record; the stored counters and warnings hold no account names."""
    instance, pg = await _server(ledger, runtime, "w1count")
    await _sync_once(ledger, runtime, instance)
    pg.drop_role("w1_app")
    await _sync_once(ledger, runtime, instance)
    pg.add_role("w1_app", login=True)
    pg.add_role("w1_brand_new", login=True)

    record = await _sync_once(ledger, runtime, instance)

    assert (record.counters["accounts_added"], record.counters["accounts_reactivated"]) == (1, 1)
    assert "w1_app" not in str(record.counters) and "w1_brand_new" not in str(record.counters)
    assert "w1_app" not in str(record.warnings)


async def test_defect_20_every_change_entry_references_an_existing_sync_record(ledger: SyncHarness,
                                                                                runtime: Harness) -> None:
    """Accounts defect 20: after a first and a changing single-instance manual sync, every change entry's
    `sync_record_id` is a stored record of that instance whose session is the entry's `session_id`."""
    instance, pg = await _server(ledger, runtime, "w1refs")
    first = (await _sync_once(ledger, runtime, instance)).session_id
    pg.grant("w1_app", "INSERT", "orders")
    pg.add_role("w1_new", login=True)
    second = (await _sync_once(ledger, runtime, instance)).session_id

    entries = await ledger.rows(
        "SELECT c.id, c.type, c.session_id AS change_session, r.id AS record_id, r.session_id AS record_session, "
        "r.instance_id FROM principal_changes c LEFT JOIN sync_records r ON r.id = c.sync_record_id ORDER BY c.id")
    assert {e["type"] for e in entries} >= {"added", "privileges_granted"}
    assert all(e["record_id"] is not None for e in entries), entries
    assert all(str(e["change_session"]) == str(e["record_session"]) for e in entries)
    assert {e["instance_id"] for e in entries} == {instance}
    assert {str(e["change_session"]) for e in entries} == {first, second}


async def test_defect_23_an_unchanged_resync_of_5000_accounts_writes_no_ledger_row(ledger: SyncHarness) -> None:
    """Accounts defect 23 at the specified size, on both stores: re-syncing 5,000 unchanged accounts sends no
    INSERT/UPDATE/DELETE to principal, ledger or change-log tables (only the instance's sync stamp moves)."""
    instance = await ledger.add_instance("w1big")
    pg = FakePgServer(instance)
    for i in range(5000):
        pg.add_role(f"w1_u{i:05d}", login=True)
        pg.grant(f"w1_u{i:05d}", "SELECT", f"t{i % 13}")
    await ledger.sync(instance, lambda: pg.rows(T0 + timedelta(hours=1)))
    changes = await ledger.scalar("SELECT count(*) FROM principal_changes")

    def capture(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        ledger.statements.append(statement)

    event.listen(ledger.database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        ledger.reset_statements()
        result = await ledger.sync(instance, lambda: pg.rows(T0 + timedelta(hours=2)))
    finally:
        event.remove(ledger.database.engine.sync_engine, "before_cursor_execute", capture)

    assert ledger.statements, "the capture saw the sync's statements"
    assert ledger.ledger_writes() == []
    assert result.counters["accounts_unchanged"] == 5002  # + whalefall and postgres
    assert await ledger.scalar("SELECT count(*) FROM principal_changes") == changes
