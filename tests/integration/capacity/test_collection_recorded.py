"""Capacity collection of SQL Server and Oracle through their connectors fed with recorded catalog rows (no
server in CI): system flags from the catalog, data and log bytes, missing databases (defects 22, 23, 31)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.contracts.connectors import RecordedExecutor, load_recording
from tests.fakes.sessions import SettableClock
from tests.integration.capacity.collection_harness import CollectionHarness
from tests.support.stores import Store
from whalefall.adapters.connectors._shared import ConnectorContext
from whalefall.adapters.connectors._threads import DriverThreads
from whalefall.adapters.connectors.oracle import OracleConnector
from whalefall.adapters.connectors.sqlserver import SqlServerConnector
from whalefall.adapters.persistence.engine import Database
from whalefall.application.ports.connectors import ConnectorTimeouts
from whalefall.domain.instances import ConnectionTarget, DbEngine, InstanceId, SecretText

TARGET = ConnectionTarget(InstanceId(1), DbEngine.SQLSERVER, "mssql.example", 1433, "master", "collector",
                          SecretText("pw"))


@pytest.fixture
def context() -> Iterator[ConnectorContext]:
    threads = DriverThreads(2)
    try:
        yield ConnectorContext(threads=threads, clock=SettableClock())
    finally:
        threads.close()


@pytest.fixture
async def harness(store: Store) -> AsyncIterator[CollectionHarness]:
    database = Database(store.url)
    try:
        yield CollectionHarness(database)
    finally:
        await database.dispose()


async def test_oracle_undo_and_temp_are_system_and_offline_files_are_missing(harness: CollectionHarness,
                                                                            context: ConnectorContext) -> None:
    recording = load_recording("oracle", "oracle-19c-pdb")
    iid = await harness.add_instance("orcl", db_type=DbEngine.ORACLE, port=1521, database_name="orclpdb1")
    harness.connectors.serve_connector(iid, lambda: OracleConnector(
        RecordedExecutor(recording), timeouts=ConnectorTimeouts(), context=context))
    result = await harness.collect(iid)
    ledger = await harness.ledger(iid)
    assert {n for n, r in ledger.items() if r["is_system"]} == {"SYSTEM", "SYSAUX", "UNDOTBS1", "TEMP"}
    samples = await harness.day_samples(iid)
    assert samples == {"SYSTEM": 545259520, "SYSAUX": 650117120, "UNDOTBS1": 110100480, "TEMP": 37748736,
                       "USERS": 5242880}
    assert result.details["missing"] == ["APP_DATA"]
    sample = await harness.instance_sample(iid)
    assert sample is not None
    assert (sample["total_bytes"], sample["database_count"], sample["missing_database_count"]) == (
        sum(samples.values()), 5, 1)


async def test_sqlserver_data_and_log_bytes_and_system_databases(harness: CollectionHarness,
                                                                 context: ConnectorContext) -> None:
    recording = load_recording("sqlserver", "sqlserver-2019-finance")
    iid = await harness.add_instance("mssql", db_type=DbEngine.SQLSERVER, port=1433, database_name="master")
    harness.connectors.serve_connector(iid, lambda: SqlServerConnector(
        RecordedExecutor(recording), target=TARGET, timeouts=ConnectorTimeouts(), context=context))
    result = await harness.collect(iid)
    rows = {r["database_name"]: r for r in await harness.rows(
        "SELECT database_name, size_bytes, data_bytes, log_bytes, is_system FROM database_size_samples "
        "WHERE instance_id = :i", i=iid)}
    assert (rows["FinanceDW"]["data_bytes"], rows["FinanceDW"]["log_bytes"], rows["FinanceDW"]["size_bytes"]) == (
        1_258_291_200, 524_288_000, 1_782_579_200)
    assert rows["tempdb"]["data_bytes"] == 67_108_864 and rows["tempdb"]["log_bytes"] == 16_777_216
    assert "Archive2019" not in rows and result.details["missing"] == ["Archive2019"]
    ledger = await harness.ledger(iid)
    assert {n for n, r in ledger.items() if r["is_system"]} == {"master", "tempdb", "model", "msdb"}
    sample = await harness.instance_sample(iid)
    assert sample is not None
    assert sample["log_bytes"] == sum(r["log_bytes"] for r in rows.values())
    assert sample["total_bytes"] == sum(r["size_bytes"] for r in rows.values())
