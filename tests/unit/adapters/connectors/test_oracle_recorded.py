"""Oracle connector over recorded catalog rows (no server in CI): the connector contract, then accounts.md §10
defects 8, 14, 16 and 24, version fallbacks and tablespace sizes, through the executor seam and the normaliser."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.contracts.connectors import ConnectorContract, Normalize, RecordedExecutor, load_recording
from whalefall.adapters.connectors._shared import ConnectorContext
from whalefall.adapters.connectors.oracle import OracleConnector
from whalefall.application.ports.connectors import ConnectorError, ConnectorTimeouts
from whalefall.domain.accounts.model import InstanceSnapshot, PrincipalKind, PrincipalRef, PrincipalState
from whalefall.domain.accounts.normalize import normalize_oracle
from whalefall.domain.accounts.rows.oracle import OracleCatalogRows
from whalefall.domain.privileges.names import Scope
from whalefall.domain.sessions.backoff import ErrorClass


def connector_for(recording: dict[str, Any], context: ConnectorContext) -> tuple[OracleConnector, RecordedExecutor]:
    executor = RecordedExecutor(recording)
    return OracleConnector(executor, timeouts=ConnectorTimeouts(), context=context), executor


@pytest.fixture
def recording() -> dict[str, Any]:
    return load_recording("oracle", "oracle-19c-pdb")


@pytest.fixture
def connector(recording: dict[str, Any], context: ConnectorContext) -> OracleConnector:
    return connector_for(recording, context)[0]


@pytest.fixture
def normalize() -> Normalize:
    return normalize_oracle


@pytest.fixture
def engine_databases() -> list[str]:
    return ["USERS", "APP_DATA", "TEMP"]


class TestRecordedOracleConnector(ConnectorContract):
    pass


async def snapshot_of(connector: OracleConnector) -> tuple[OracleCatalogRows, InstanceSnapshot]:
    rows = await connector.read_account_catalog(instance_id=7)
    assert isinstance(rows, OracleCatalogRows)
    return rows, normalize_oracle(rows)


def principal(snapshot: InstanceSnapshot, kind: PrincipalKind, key: str) -> PrincipalState:
    ref = PrincipalRef.of(kind, key)
    return next(p for p in snapshot.principals if p.ref == ref)


@pytest.mark.parametrize(("user", "locked"), [
    ("LOCKED_USER", True), ("TIMED_USER", True), ("OLD_USER", True), ("GRACE_USER", False), ("ROLLING_USER", False),
    ("WHALEFALL", False)])
async def test_lock_state_follows_the_status_tokens(connector: OracleConnector, user: str, locked: bool) -> None:
    """Defect 8: LOCKED, LOCKED(TIMED) and EXPIRED & LOCKED lock; EXPIRED(GRACE) and IN ROLLOVER do not; the raw
    status is kept."""
    _, snapshot = await snapshot_of(connector)
    state = principal(snapshot, PrincipalKind.USER, user)
    assert state.attributes["locked"] is locked
    assert state.attributes["account_status"]


async def test_quoted_lower_case_user_keeps_its_name(connector: OracleConnector) -> None:
    """Defect 24: a user created as "svc_lower" keeps its case, with its role, object, column and quota grants."""
    _, snapshot = await snapshot_of(connector)
    svc = principal(snapshot, PrincipalKind.USER, "svc_lower")
    assert [m.role.key for m in svc.memberships] == ["APP_READ"]
    assert svc.memberships[0].delegate_option and svc.memberships[0].default
    grants = {(g.privilege, g.scope, g.object) for g in svc.grants}
    assert ("EXECUTE", Scope.ROUTINE, ("APP_OWNER", "PKG_API")) in grants
    assert ("UPDATE", Scope.COLUMN, ("APP_OWNER", "ORDERS", "STATUS")) in grants
    assert ("QUOTA", Scope.TABLESPACE, ("USERS",)) in grants


async def test_administrative_privileges_and_schema_only_accounts(connector: OracleConnector) -> None:
    _, snapshot = await snapshot_of(connector)
    sys_grants = {g.privilege for g in principal(snapshot, PrincipalKind.USER, "SYS").grants if g.scope is Scope.GLOBAL}
    assert {"SYSDBA", "SYSOPER"} <= sys_grants
    assert principal(snapshot, PrincipalKind.USER, "APP_OWNER").attributes["login_capable"] is False


async def test_only_23ai_reads_schema_privileges_and_binds_are_positional(recording: dict[str, Any],
                                                                          context: ConnectorContext) -> None:
    connector, executor = connector_for(recording, context)
    rows, _ = await snapshot_of(connector)
    assert "Q9" not in executor.catalog_statements() and rows.meta.query_count == 9
    await connector.table_sizes("USERS", max_tables=5)
    [(_, sql, params)] = [s for s in executor.statements if s[0] == "TABLE_SIZES"]
    assert ":1" in sql and ":2" in sql and params == ("USERS", 5)

    newer = copy.deepcopy(recording)
    newer["queries"]["Q0"]["rows"][0][0] = "23.4.0.24.05"
    newer["queries"]["Q9"] = {"columns": ["GRANTEE", "PRIVILEGE", "SCHEMA", "ADMIN_OPTION"],
                              "rows": [["APP_READ", "SELECT ANY TABLE", "APP_OWNER", "NO"]]}
    connector, executor = connector_for(newer, context)
    rows, snapshot = await snapshot_of(connector)
    assert rows.meta.query_count == 10
    [schema_grant] = [g for g in principal(snapshot, PrincipalKind.ROLE, "APP_READ").grants if g.scope is Scope.SCHEMA]
    assert schema_grant.object == ("APP_OWNER",)


async def test_12c_falls_back_without_version_full_and_oracle_maintained(recording: dict[str, Any],
                                                                          context: ConnectorContext) -> None:
    old = copy.deepcopy(recording)
    old["errors"] = {"Q0": {"class": "INTERNAL", "driver_code": "ORA-00904", "when_sql_contains": "version_full"},
                     "Q5": {"class": "INTERNAL", "driver_code": "ORA-00904", "when_sql_contains": "oracle_maintained"},
                     "VERSION": {"class": "INTERNAL", "driver_code": "ORA-00904", "when_sql_contains": "version_full"}}
    connector, executor = connector_for(old, context)
    rows, _ = await snapshot_of(connector)
    assert executor.catalog_statements().count("Q0") == 2 and executor.catalog_statements().count("Q5") == 2
    assert rows.meta.query_count == 11
    assert (await connector.server_info()).version == "19.22.0.0.0"


async def test_query_count_does_not_depend_on_principals(recording: dict[str, Any], context: ConnectorContext) -> None:
    """Defect 14."""
    counts = []
    for size in (10, 5000):
        scaled = copy.deepcopy(recording)
        for i in range(size):
            scaled["queries"]["Q1"]["rows"].append([f"U{i}", 1000 + i, "OPEN", None, None, None, "DEFAULT",
                                                    "PASSWORD", "USERS", "NO", "N"])
            scaled["queries"]["Q4"]["rows"].append([f"U{i}", "CREATE SESSION", "NO", "NO", "NO"])
        rows, snapshot = await snapshot_of(connector_for(scaled, context)[0])
        assert len(snapshot.principals) > size
        counts.append(rows.meta.query_count)
    assert counts == [9, 9]


async def test_a_missing_dictionary_grant_fails_the_catalog_and_is_listed(recording: dict[str, Any],
                                                                          context: ConnectorContext) -> None:
    denied = copy.deepcopy(recording)
    denied["errors"] = {"Q8": {"class": "PERMISSION_DENIED", "driver_code": "ORA-00942"},
                        "PROBE": {"class": "PERMISSION_DENIED", "driver_code": "ORA-00942",
                                  "when_sql_contains": "V_$PWFILE_USERS"}}
    connector, _ = connector_for(denied, context)
    with pytest.raises(ConnectorError) as caught:
        await connector.read_account_catalog(instance_id=7)
    assert (caught.value.error_code, caught.value.error_class) == ("CATALOG_READ_FAILED", ErrorClass.PERMISSION_DENIED)
    assert await connector.missing_collector_privileges() == ("SELECT ON SYS.V_$PWFILE_USERS",)


async def test_tablespace_sizes_and_version(connector: OracleConnector) -> None:
    """The ledger unit is the tablespace; one offline data file makes APP_DATA missing, never under-counted."""
    sizes = {r.name: r.size_bytes for r in (await connector.database_sizes(["USERS", "APP_DATA", "TEMP"])).sizes}
    assert sizes == {"USERS": 5242880, "APP_DATA": None, "TEMP": 37748736}
    info = await connector.server_info()
    assert (info.version_major, info.version_minor, info.edition) == (19, 22, "Enterprise Edition")
