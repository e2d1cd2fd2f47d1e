"""CollectInstanceCapacity over both metadata stores with a scripted server (capacity.md §1.4–1.7, §3.1, §3.5;
legacy defects 25–29)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text

from tests.fakes.capacity import FakeCapacityServer
from tests.integration.capacity.collection_harness import CollectionHarness
from tests.support.stores import Store
from whalefall.adapters.persistence.engine import Database
from whalefall.application.capacity.collection_settings import CapacityCollectionSettings
from whalefall.application.ports.connectors import ConnectorError, ConnectorTimeouts, TableSizeRow
from whalefall.application.sessions.work import LeaseLostError, RecordCancelledError
from whalefall.domain.capacity import DatabaseFilter
from whalefall.domain.instances import DbEngine
from whalefall.domain.sessions.backoff import ErrorClass


@pytest.fixture
async def harness(store: Store) -> AsyncIterator[CollectionHarness]:
    database = Database(store.url)
    try:
        yield CollectionHarness(database)
    finally:
        await database.dispose()


def excluding(*patterns: str, names: frozenset[str] = frozenset()) -> CapacityCollectionSettings:
    return CapacityCollectionSettings(filters={DbEngine.POSTGRESQL: DatabaseFilter(names, patterns,
                                                                                   case_sensitive=True)})


async def test_first_collection_writes_ledger_samples_and_counters(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1")
    harness.connectors.serve(iid, FakeCapacityServer(databases={"postgres": 8_000_000, "template1": 7_000_000,
                                                                "app": 123_456_789}, unattributed_bytes=None))
    result = await harness.collect(iid)
    assert result.skipped_code is None
    assert result.counters == {"seen": 0, "created": 3, "reactivated": 0, "deactivated": 0, "updated": 3}
    ledger = await harness.ledger(iid)
    assert {n: (r["status"], r["is_system"], r["last_size_bytes"]) for n, r in ledger.items()} == {
        "postgres": ("active", True, 8_000_000), "template1": ("active", True, 7_000_000),
        "app": ("active", False, 123_456_789)}
    sample = await harness.instance_sample(iid)
    assert sample is not None
    assert (sample["total_bytes"], sample["database_count"], sample["missing_database_count"]) == (
        138_456_789, 3, 0)
    assert result.details["total_bytes"] == 138_456_789 and result.details["system_count"] == 2
    # Defect 30: freshness reads the ledger's own copy of the latest collection day.
    assert {str(r["last_collected_on"]) for r in ledger.values()} == {str(harness.clock.now().date())}
    assert harness.last_probe is not None and harness.last_probe.fenced == 1


async def test_recollection_same_day_keeps_the_instance_invariant(harness: CollectionHarness) -> None:
    """Defect 29: a database dropped between two collections of one day leaves no sample behind."""
    iid = await harness.add_instance("pg1")
    server = harness.connectors.serve(iid, FakeCapacityServer(databases={"postgres": 10, "a": 100, "b": 1000}))
    await harness.collect(iid)
    del server.databases["b"]
    result = await harness.collect(iid)
    assert await harness.day_samples(iid) == {"postgres": 10, "a": 100}
    sample = await harness.instance_sample(iid)
    assert sample is not None and (sample["total_bytes"], sample["database_count"]) == (110, 2)
    assert result.counters["deactivated"] == 1
    assert (await harness.ledger(iid))["b"]["status"] == "gone"


async def test_reactivation_keeps_first_seen(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1")
    server = harness.connectors.serve(iid, FakeCapacityServer(databases={"postgres": 1, "app": 2}))
    await harness.collect(iid)
    first_seen = (await harness.ledger(iid))["app"]["first_seen_on"]
    del server.databases["app"]
    harness.clock.advance(86_400)
    await harness.collect(iid)
    assert (await harness.ledger(iid))["app"]["status"] == "gone"
    server.databases["app"] = 5
    harness.clock.advance(86_400)
    result = await harness.collect(iid)
    row = (await harness.ledger(iid))["app"]
    assert (row["status"], row["gone_since"], row["first_seen_on"]) == ("active", None, first_seen)
    assert result.counters["reactivated"] == 1


async def test_unreadable_database_is_missing_not_zero(harness: CollectionHarness) -> None:
    """Defect 25: one database without CONNECT is missing; the others are sampled."""
    iid = await harness.add_instance("pg1")
    harness.connectors.serve(iid, FakeCapacityServer(databases={"postgres": 10, "secret": None, "app": 20}))
    result = await harness.collect(iid)
    assert result.skipped_code is None
    assert await harness.day_samples(iid) == {"postgres": 10, "app": 20}
    sample = await harness.instance_sample(iid)
    assert sample is not None and sample["missing_database_count"] == 1
    assert result.details["missing"] == ["secret"]
    assert [w["code"] for w in result.warnings] == ["SIZES_MISSING"]


async def test_excluded_databases_are_flagged_kept_and_not_sized(harness: CollectionHarness) -> None:
    """Defect 26: `_` is literal, `\\_` one character; an exclusion added later keeps the row active."""
    iid = await harness.add_instance("pg1")
    server = harness.connectors.serve(iid, FakeCapacityServer(databases={
        "postgres": 1, "tmp_load": 2, "tmpload": 3, "ordersXbak": 4, "bak": 5}))
    await harness.collect(iid)
    assert all(not r["is_excluded"] for r in (await harness.ledger(iid)).values())
    harness.settings = excluding("tmp_*", "*\\_bak")  # defect 27: the next run reads the new settings
    result = await harness.collect(iid)
    ledger = await harness.ledger(iid)
    assert {n for n, r in ledger.items() if r["is_excluded"]} == {"tmp_load", "ordersXbak"}
    assert all(r["status"] == "active" for r in ledger.values())
    assert server.size_requests[-1] == ("postgres", "tmpload", "bak")
    assert await harness.day_samples(iid) == {"postgres": 1, "tmpload": 3, "bak": 5}
    assert result.details["excluded_count"] == 2


async def test_nothing_to_size_commits_ledger_and_ends_skipped(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1")
    harness.connectors.serve(iid, FakeCapacityServer(databases={"scratch1": 1, "scratch2": 2}))
    harness.settings = excluding("scratch*")
    result = await harness.collect(iid)
    assert result.skipped_code == "NOTHING_TO_DO"
    assert set(await harness.ledger(iid)) == {"scratch1", "scratch2"}
    sample = await harness.instance_sample(iid)
    assert sample is not None and (sample["total_bytes"], sample["database_count"]) == (0, 0)


async def test_size_failure_changes_nothing(harness: CollectionHarness) -> None:
    """Defect 28: a failure in the size step leaves no ledger or sample change; the error class survives."""
    iid = await harness.add_instance("pg1")
    server = harness.connectors.serve(iid, FakeCapacityServer(databases={"postgres": 1, "app": 2}))
    await harness.collect(iid)
    before = await harness.snapshot()
    server.databases["new_db"] = 3
    server.fail = "sizes"
    harness.clock.advance(86_400)
    with pytest.raises(ConnectorError) as caught:
        await harness.collect(iid)
    assert caught.value.error_class is ErrorClass.CONNECTION_LOST and caught.value.retryable
    assert await harness.snapshot() == before


async def test_lost_lease_and_cancel_write_nothing(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1")
    harness.connectors.serve(iid, FakeCapacityServer(databases={"postgres": 1}))
    before = await harness.snapshot()
    for check in (1, 2, 3):  # before connecting, after reading, inside the data transaction before its commit
        with pytest.raises(RecordCancelledError):
            await harness.collect(iid, cancel_at=check)
        assert await harness.snapshot() == before

    with pytest.raises(LeaseLostError):
        await harness.collect(iid, lease_lost=True)
    assert await harness.snapshot() == before


async def test_empty_inventory_fails_and_changes_nothing(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1")
    server = harness.connectors.serve(iid, FakeCapacityServer(databases={"postgres": 1, "app": 2}))
    await harness.collect(iid)
    before = await harness.snapshot()
    server.databases.clear()
    with pytest.raises(ConnectorError) as caught:
        await harness.collect(iid)
    assert caught.value.error_code == "EMPTY_INVENTORY" and not caught.value.retryable
    assert await harness.snapshot() == before


async def test_inactive_and_deleted_instances_are_skipped(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1", is_active=False)
    assert (await harness.collect(iid)).skipped_code == "INSTANCE_INACTIVE"
    assert (await harness.collect(987_654)).skipped_code == "INSTANCE_DELETED"
    assert harness.connectors.opened == []


async def test_mass_deactivation_is_held_with_a_warning(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1")
    names = {f"db{i}": 10 for i in range(8)}
    server = harness.connectors.serve(iid, FakeCapacityServer(databases=dict(names)))
    await harness.collect(iid)
    server.databases = {"db0": 10, "db1": 10}
    harness.clock.advance(86_400)
    result = await harness.collect(iid)
    assert [w["code"] for w in result.warnings] == ["SIZES_MISSING", "MASS_DEACTIVATION_HELD"]
    assert result.counters["deactivated"] == 0
    assert all(r["status"] == "active" for r in (await harness.ledger(iid)).values())
    sample = await harness.instance_sample(iid)
    assert sample is not None and sample["missing_database_count"] == 6
    harness.clock.advance(86_400)
    result = await harness.collect(iid)
    assert result.counters["deactivated"] == 6
    assert sum(r["status"] == "gone" for r in (await harness.ledger(iid)).values()) == 6


async def test_table_sizes_follow_the_flag_or_the_request(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1")
    tables = [TableSizeRow(schema_name="public", table_name=f"t{i}", total_bytes=1000 - i) for i in range(4)]
    harness.connectors.serve(iid, FakeCapacityServer(databases={"postgres": 1, "app": 2}, tables={"app": tables}))
    await harness.collect(iid)
    assert await harness.rows("SELECT * FROM table_size_snapshots") == []
    harness.settings = CapacityCollectionSettings(max_tables=3)
    result = await harness.collect(iid, params={"include_tables": True})
    stored = await harness.rows("SELECT database_name, table_name, total_bytes FROM table_size_snapshots "
                                "ORDER BY total_bytes DESC")
    assert [(r["database_name"], r["table_name"]) for r in stored] == [("app", "t0"), ("app", "t1"), ("app", "t2")]
    assert bool((await harness.ledger(iid))["app"]["tables_truncated"])
    assert result.details["truncated"] is True and "TABLE_SIZES_TRUNCATED" in [w["code"] for w in result.warnings]


async def test_refresh_table_sizes_replaces_one_databases_snapshot(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1")
    server = harness.connectors.serve(iid, FakeCapacityServer(
        databases={"postgres": 1, "app": 2, "other": 3},
        tables={"app": [TableSizeRow(schema_name="public", table_name="orders", total_bytes=500, data_bytes=400,
                                     index_bytes=100, row_estimate=42)],
                "other": [TableSizeRow(schema_name="s", table_name="keep", total_bytes=7)]}))
    await harness.collect(iid, params={"include_tables": True})
    ids = {r["name"]: r["id"] for r in (await harness.ledger(iid)).values()}
    server.tables["app"] = [TableSizeRow(schema_name="public", table_name="orders", total_bytes=900),
                            TableSizeRow(schema_name="public", table_name="lines", total_bytes=300)]
    harness.clock.advance(3600)
    result = await harness.refresh(ids["app"], iid)
    assert result.skipped_code is None and result.counters == {"updated": 2}
    assert result.details == {"database": "app", "table_count": 2, "truncated": False}
    rows = await harness.rows("SELECT database_name, table_name, total_bytes FROM table_size_snapshots "
                              "ORDER BY database_name, total_bytes DESC")
    assert [(r["database_name"], r["table_name"], r["total_bytes"]) for r in rows] == [
        ("app", "orders", 900), ("app", "lines", 300), ("other", "keep", 7)]
    before = await harness.snapshot()
    server.fail = "tables"
    with pytest.raises(ConnectorError):
        await harness.refresh(ids["app"], iid)
    assert await harness.snapshot() == before  # a failed refresh keeps the previous snapshot
    server.fail = None
    del server.databases["app"]
    harness.clock.advance(86_400)
    await harness.collect(iid)
    assert (await harness.refresh(ids["app"], iid)).skipped_code == "NOTHING_TO_DO"  # gone since the request
    # Ledger rows disappear only with their instance's purge.
    assert (await harness.refresh(987_654, iid)).skipped_code == "INSTANCE_DELETED"


async def test_table_size_failure_of_one_database_is_a_warning(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1")
    server = harness.connectors.serve(iid, FakeCapacityServer(databases={"postgres": 1, "app": 2}))
    server.fail = "tables"
    result = await harness.collect(iid, params={"include_tables": True})
    assert result.skipped_code is None
    assert [w["code"] for w in result.warnings] == ["TABLE_SIZES_FAILED"]
    assert await harness.day_samples(iid) == {"postgres": 1, "app": 2}


async def test_e13_unattributed_bytes_are_stored_outside_the_total(harness: CollectionHarness) -> None:
    """E13 / defect 24 at the storage step: the connector's attribution is stored as given, the unattributed
    InnoDB bytes in `unattributed_bytes`, never in a database nor in `total_bytes`."""
    iid = await harness.add_instance("maria", db_type=DbEngine.MYSQL, port=3306)
    harness.connectors.serve(iid, FakeCapacityServer(databases={
        "information_schema": 0, "mysql": 0, "performance_schema": 0, "sys": 0, "shop": 4_218_880,
        "my-db": 98_304, "销售": 65_536}, unattributed_bytes=37_748_736,
        warnings=("TABLESPACE_UNATTRIBUTED: old@002ddb/t",)))
    result = await harness.collect(iid)
    sample = await harness.instance_sample(iid)
    assert sample is not None
    assert (sample["total_bytes"], sample["database_count"], sample["unattributed_bytes"]) == (
        4_382_720, 7, 37_748_736)
    assert result.details["unattributed_bytes"] == 37_748_736 and result.details["system_count"] == 4
    assert (await harness.ledger(iid))["销售"]["last_size_bytes"] == 65_536
    assert result.warnings == [{"code": "TABLESPACE_UNATTRIBUTED", "message": "TABLESPACE_UNATTRIBUTED: old@002ddb/t"}]


async def test_write_statements_do_not_depend_on_the_database_count(harness: CollectionHarness) -> None:
    """The data transaction is set-based: a 400-database instance costs as many statements as a 3-database one.
    (executemany batches count once: SQLAlchemy issues one cursor call per batch.)"""
    statements: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    small = await harness.add_instance("small")
    large = await harness.add_instance("large")
    harness.connectors.serve(small, FakeCapacityServer(databases={f"d{i}": i for i in range(3)}))
    harness.connectors.serve(large, FakeCapacityServer(databases={f"d{i}": i for i in range(400)}))
    counts = []
    event.listen(harness.database.engine.sync_engine, "before_cursor_execute", listener)
    try:
        for instance in (small, large):
            statements.clear()
            await harness.collect(instance)
            counts.append(len(statements))
    finally:
        event.remove(harness.database.engine.sync_engine, "before_cursor_execute", listener)
    assert counts[0] == counts[1] < 20, counts


async def test_the_instance_deadline_bounds_the_remote_work(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1")
    harness.connectors.serve(iid, FakeCapacityServer(databases={"postgres": 1}, sizes_delay_s=5))
    harness.timeouts = ConnectorTimeouts(connect_s=1, statement_s=1, instance_deadline_s=0.2)
    before = await harness.snapshot()
    with pytest.raises(ConnectorError) as caught:
        await harness.collect(iid)
    assert caught.value.error_class is ErrorClass.TIMEOUT and caught.value.retryable
    assert await harness.snapshot() == before


async def test_instance_flag_collects_tables_unless_the_session_says_no(harness: CollectionHarness) -> None:
    iid = await harness.add_instance("pg1")
    async with harness.database.connect() as connection:
        await connection.execute(text("UPDATE instances SET collect_table_sizes = :on WHERE id = :i"),
                                 {"on": True, "i": iid})
        await connection.commit()
    server = harness.connectors.serve(iid, FakeCapacityServer(databases={"postgres": 1, "app": 2}, tables={
        "app": [TableSizeRow(schema_name="public", table_name="t", total_bytes=10)]}))
    await harness.collect(iid)
    assert [r["total_bytes"] for r in await harness.rows("SELECT total_bytes FROM table_size_snapshots")] == [10]
    server.tables["app"] = [TableSizeRow(schema_name="public", table_name="t", total_bytes=99)]
    await harness.collect(iid, params={"include_tables": False})
    assert [r["total_bytes"] for r in await harness.rows("SELECT total_bytes FROM table_size_snapshots")] == [10]
