"""No record stays `running` after a raw driver error or a failed data commit (accounts.md §10 defect 2): the real
exception classes of the four drivers, raised through the real runner on both stores."""

from __future__ import annotations

from unittest import mock

import oracledb
import psycopg
import pymssql
import pymysql
import pytest
from sqlalchemy import text

from tests.fakes.sessions import MappingRecordWorks, ScriptedWork
from tests.integration.sessions.harness import Harness, quick_config
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.sessions.run_record import RunOutcome, RunRecord
from whalefall.application.sessions.work import RecordContext, RecordResult
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus

SYNC = SessionKind.ACCOUNTS_SYNC

#: What each driver raises when the server goes away mid-catalog-read, untranslated by a connector.
DRIVER_ERRORS: dict[str, Exception] = {
    "psycopg": psycopg.OperationalError("server closed the connection unexpectedly"),
    "pymysql": pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
    "pymssql": pymssql.OperationalError(20047, b"DB-Lib error message 20047, severity 9: DBPROCESS is dead"),
    "oracledb": oracledb.DatabaseError("DPY-4011: the database or network closed the connection"),
}


@pytest.mark.parametrize("driver", sorted(DRIVER_ERRORS))
async def test_defect_2_a_raw_driver_error_fails_the_record_and_the_batch_goes_on(harness: Harness,
                                                                                  driver: str) -> None:
    """Accounts defect 2: an untranslated exception of each of the four drivers ends the instance record `failed`
    (finished, error code set) and the next instance of the session still runs to `completed`."""
    broken_instance, healthy_instance = await harness.add_instance("w1broken"), await harness.add_instance("w1ok")
    session = await harness.open(SYNC, instance_ids=[broken_instance, healthy_instance])
    broken, healthy = await harness.records(session.id)

    async def explode(context: RecordContext) -> RecordResult:
        if context.record.id == broken.id:
            raise DRIVER_ERRORS[driver]
        return RecordResult()

    work = ScriptedWork(explode)
    assert await harness.run(broken.id, work, SYNC) is RunOutcome.FAILED
    assert await harness.run(healthy.id, work, SYNC) is RunOutcome.COMPLETED
    stored = await harness.record(broken.id)
    assert stored.status is RecordStatus.FAILED and stored.finished_at is not None and stored.error_code
    assert (await harness.record(healthy.id)).status is RecordStatus.COMPLETED
    assert (await harness.session(session.id)).status is SessionStatus.PARTIAL


async def test_defect_2_a_failed_data_commit_fails_the_record_and_writes_nothing(harness: Harness) -> None:
    """Accounts defect 2 (commit failure): the work shares the runner's unit of work, as in the worker; its data
    commit raises a driver error after the write was sent. The record ends `failed`, the write is rolled back, and
    the next instance completes."""
    broken_instance, healthy_instance = await harness.add_instance("w1commit"), await harness.add_instance("w1next")
    session = await harness.open(SYNC, instance_ids=[broken_instance, healthy_instance])
    broken, healthy = await harness.records(session.id)

    async def run(record_id: int) -> RunOutcome:
        async with harness.unit() as (store, uow):
            async def write_then_commit(context: RecordContext) -> RecordResult:
                await context.fence()
                connection = await uow.connection()
                await connection.execute(text("UPDATE instances SET name = 'w1renamed' WHERE id = :i"),
                                         {"i": context.record.instance_id})
                if context.record.id == broken.id:
                    with mock.patch.object(SqlAlchemyUnitOfWork, "commit",
                                           side_effect=psycopg.OperationalError("could not send data to server")):
                        await uow.commit()
                await uow.commit()
                return RecordResult()

            runner = RunRecord(store, uow, harness.transactions,
                               MappingRecordWorks({SYNC: ScriptedWork(write_then_commit)}), harness.clock,
                               "test:1:w1commit", quick_config(), harness.finalised, harness.finisher,
                               harness.claimer, harness.cancel_watch)
            return await runner.execute(record_id)

    assert await run(broken.id) is RunOutcome.FAILED
    stored = await harness.record(broken.id)
    assert stored.status is RecordStatus.FAILED and stored.finished_at is not None
    async with harness.database.connect() as connection:
        rows = (await connection.execute(text("SELECT id, name FROM instances WHERE id IN (:a, :b)"),
                                         {"a": broken_instance, "b": healthy_instance})).all()
    names = {row[0]: row[1] for row in rows}
    assert names[broken_instance] == "w1commit"  # the uncommitted rename was rolled back

    assert await run(healthy.id) is RunOutcome.COMPLETED
    assert (await harness.session(session.id)).status is SessionStatus.PARTIAL
