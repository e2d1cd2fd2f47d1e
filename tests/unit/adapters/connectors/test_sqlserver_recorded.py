"""SQL Server connector over recorded catalog rows (no server in CI): the connector contract, then the
accounts.md §10 defects 5, 9, 10, 14 and 28, capacity E14, through the executor seam and the normaliser."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.contracts.connectors import ConnectorContract, Normalize, RecordedExecutor, load_recording
from whalefall.adapters.connectors._shared import ConnectorContext
from whalefall.adapters.connectors.sqlserver import SqlServerConnector
from whalefall.application.ports.connectors import ConnectorError, ConnectorTimeouts
from whalefall.domain.accounts.model import GrantEffect, InstanceSnapshot, PrincipalKind, PrincipalRef, PrincipalState
from whalefall.domain.accounts.normalize import normalize_sqlserver
from whalefall.domain.accounts.rows.sqlserver import SqlServerCatalogRows
from whalefall.domain.instances import ConnectionTarget, DbEngine, InstanceId, SecretText
from whalefall.domain.privileges.names import Scope
from whalefall.domain.sessions.backoff import ErrorClass

TARGET = ConnectionTarget(InstanceId(7), DbEngine.SQLSERVER, "mssql.example", 1433, "master", "whalefall_collector",
                          SecretText("s3cret"))


def connector_for(recording: dict[str, Any], context: ConnectorContext) -> tuple[SqlServerConnector,
                                                                                 RecordedExecutor]:
    executor = RecordedExecutor(recording)
    return SqlServerConnector(executor, target=TARGET, timeouts=ConnectorTimeouts(), context=context), executor


@pytest.fixture
def recording() -> dict[str, Any]:
    return load_recording("sqlserver", "sqlserver-2019-finance")


@pytest.fixture
def connector(recording: dict[str, Any], context: ConnectorContext) -> SqlServerConnector:
    return connector_for(recording, context)[0]


@pytest.fixture
def normalize() -> Normalize:
    return normalize_sqlserver


@pytest.fixture
def engine_databases() -> list[str]:
    return ["master", "FinanceDW", "O'Brien]Data", "Archive2019"]


class TestRecordedSqlServerConnector(ConnectorContract):
    pass


async def snapshot_of(connector: SqlServerConnector) -> tuple[SqlServerCatalogRows, InstanceSnapshot]:
    rows = await connector.read_account_catalog(instance_id=7)
    assert isinstance(rows, SqlServerCatalogRows)
    return rows, normalize_sqlserver(rows)


def state(snapshot: InstanceSnapshot, kind: PrincipalKind, key: str, namespace: str = "") -> PrincipalState:
    ref = PrincipalRef.of(kind, key, namespace)
    return next(p for p in snapshot.principals if p.ref == ref)


async def test_names_are_resolved_in_their_own_database_with_states_kept(connector: SqlServerConnector) -> None:
    """Defect 9: rpt.Invoices in FinanceDW keeps its schema/object names, W is grant_option, D is deny."""
    _, snapshot = await snapshot_of(connector)
    readers = state(snapshot, PrincipalKind.DB_ROLE, "rpt_readers", "FinanceDW")
    [select] = [g for g in readers.grants if g.privilege == "SELECT" and g.scope is Scope.TABLE]
    assert select.object == ("FinanceDW", "rpt", "Invoices") and select.grant_option and select.object_kind == "table"
    report = state(snapshot, PrincipalKind.LOGIN, "report_login")
    denied = [g for g in report.grants if g.effect is GrantEffect.DENY]
    assert [(g.privilege, g.object) for g in denied] == [("DELETE", ("FinanceDW", "rpt", "Invoices"))]
    assert ("UPDATE", Scope.COLUMN, ("FinanceDW", "rpt", "Invoices", "Amount")) in {
        (g.privilege, g.scope, g.object) for g in report.grants}
    assert not any(g.effect is GrantEffect.DENY for g in state(snapshot, PrincipalKind.LOGIN, "denied_login").grants
                   if g.scope is not Scope.GLOBAL)
    assert state(snapshot, PrincipalKind.LOGIN, "denied_login").attributes["locked"] is True


async def test_database_owner_edges(connector: SqlServerConnector) -> None:
    """The owner's login reaches db_owner: explicitly through dbo in FinanceDW, implicitly in O'Brien]Data,
    whose role members do not list dbo."""
    _, snapshot = await snapshot_of(connector)
    etl = state(snapshot, PrincipalKind.LOGIN, "etl_login")
    [finance] = [m for m in etl.memberships if m.role.namespace == "FinanceDW"]
    assert finance.role.key == "db_owner" and not finance.implicit
    sa = state(snapshot, PrincipalKind.LOGIN, "sa")
    [obrien] = [m for m in sa.memberships if m.role.namespace == "O'Brien]Data"]
    assert obrien.role.key == "db_owner" and obrien.implicit


async def test_users_map_to_logins_by_sid_only(connector: SqlServerConnector) -> None:
    """Defect 28: `reporting` is report_login's user (names differ); orphan_user stays an orphaned db_user;
    the contained user is an account of its database."""
    _, snapshot = await snapshot_of(connector)
    assert state(snapshot, PrincipalKind.LOGIN, "report_login").attributes["db_user_mappings"] == {
        "FinanceDW": "reporting"}
    orphan = state(snapshot, PrincipalKind.DB_USER, "orphan_user", "FinanceDW")
    assert orphan.attributes["orphaned"] is True and not orphan.is_account
    contained = state(snapshot, PrincipalKind.DB_USER, "contained_analyst", "FinanceDW")
    assert contained.is_account and contained.attributes["login_capable"] is True


async def test_quoted_database_name_is_collected(connector: SqlServerConnector) -> None:
    """Defect 10: `O'Brien]Data` is bracket-quoted with `]` doubled and bound as a value; its grants are read."""
    rows, snapshot = await snapshot_of(connector)
    assert "O'Brien]Data" in {d.database for d in rows.database_rows}
    public = state(snapshot, PrincipalKind.PUBLIC, "PUBLIC", "O'Brien]Data")
    assert [g.object for g in public.grants] == [("O'Brien]Data", "dbo", "Customers")]


async def test_offline_restricted_and_failing_databases_are_gaps(recording: dict[str, Any],
                                                                 context: ConnectorContext) -> None:
    """Defect 5: offline and inaccessible databases are gaps; a database failing its batch (916) is re-run
    alone and becomes the only other gap while the rest of its batch is read."""
    failing = copy.deepcopy(recording)
    failing["failing_databases"] = ["FinanceDW"]
    connector, executor = connector_for(failing, context)
    rows, snapshot = await snapshot_of(connector)
    assert {g.database: g.reason.value for g in snapshot.coverage.gaps} == {
        "Archive2019": "offline", "HR_Restricted": "not_accessible", "FinanceDW": "query_failed"}
    assert {d.database for d in rows.database_rows} == {"master", "tempdb", "model", "msdb", "O'Brien]Data"}
    # 6 server statements, one failed batch (D1 only), then 3 per database of the six re-run (FinanceDW stops at D1).
    assert executor.catalog_statements().count("D1") == 1 + 6
    assert rows.meta.query_count == len(executor.catalog_statements())


async def test_query_count_does_not_depend_on_principals(recording: dict[str, Any], context: ConnectorContext) -> None:
    """Defect 14: 10 and 5,000 logins (each with a user and a grant in FinanceDW) cost the same statements."""
    counts = []
    for size in (10, 5000):
        scaled = copy.deepcopy(recording)
        for i in range(size):
            sid = {"$bytes": f"0x{0xAB000000 + i:08X}"}
            scaled["queries"]["Q1"]["rows"].append([10000 + i, sid, f"user{i}", "S", "SQL_LOGIN", False, "master",
                                                    False, None, True, False, 0, 0, 0, None])
            scaled["per_database"]["D1"]["rows"].append(["FinanceDW", 20000 + i, f"user{i}", "S", sid, "dbo",
                                                         "INSTANCE", None, False])
            scaled["per_database"]["D3"]["rows"].append(["FinanceDW", 0, "DATABASE", 0, 0, 20000 + i, "CONNECT",
                                                         "G", None, None, None, None, None])
        connector, _ = connector_for(scaled, context)
        rows, snapshot = await snapshot_of(connector)
        assert len(snapshot.principals) > size
        counts.append(rows.meta.query_count)
    assert counts[0] == counts[1] == 6 + 3


async def test_batches_hold_at_most_twenty_databases(recording: dict[str, Any], context: ConnectorContext) -> None:
    many = copy.deepcopy(recording)
    for i in range(45):
        many["queries"]["Q5"]["rows"].append([100 + i, f"tenant_{i:02d}", {"$bytes": "0x01"}, 0, "ONLINE", False,
                                              "MULTI_USER", 0, 1])
    connector, executor = connector_for(many, context)
    rows, _ = await snapshot_of(connector)
    batches = [params for name, _, params in executor.statements if name == "D1"]
    assert [len(b) for b in batches] == [20, 20, 11]      # 6 readable system/user databases + 45 tenants
    assert rows.meta.query_count == 6 + 3 * 3


async def test_a_failing_server_query_fails_the_instance(recording: dict[str, Any],
                                                         context: ConnectorContext) -> None:
    broken = copy.deepcopy(recording)
    broken["errors"] = {"Q3": {"class": "PERMISSION_DENIED", "driver_code": 300, "message": "VIEW SERVER STATE"}}
    connector, _ = connector_for(broken, context)
    with pytest.raises(ConnectorError) as caught:
        await connector.read_account_catalog(instance_id=7)
    assert caught.value.error_code == "CATALOG_READ_FAILED"
    assert caught.value.error_class is ErrorClass.PERMISSION_DENIED


async def test_sizes_keep_data_and_log_apart(connector: SqlServerConnector) -> None:
    """E14: FinanceDW data 153,600 pages and log 64,000 pages; tempdb from its own files; no files → missing."""
    sizes = {row.name: row for row in (await connector.database_sizes(["FinanceDW", "tempdb", "Archive2019"])).sizes}
    finance = sizes["FinanceDW"]
    assert (finance.data_bytes, finance.log_bytes, finance.size_bytes) == (1258291200, 524288000, 1782579200)
    assert sizes["tempdb"].size_bytes == 67108864 + 16777216
    assert sizes["Archive2019"].size_bytes is None


async def test_server_info_names_the_product(connector: SqlServerConnector) -> None:
    info = await connector.server_info()
    assert (info.version, info.version_major, info.version_minor) == ("15.0.4355.3", 15, 0)
    assert info.product == "SQL Server 2019" and info.edition == "Developer Edition (64-bit)"
    assert await connector.missing_collector_privileges() == ()
