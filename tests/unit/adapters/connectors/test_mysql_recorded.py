"""MySQL 5.7 / 8.0 catalog paths (CI has MariaDB only) over catalog rows in pymysql's shapes: the path follows the
live version, 8.0 reads role edges, default roles and dynamic privileges, the strict column grant falls back
without the hash-adjacent expressions (accounts.md §2.1, §2.6; defects 14, 15)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.contracts.connectors import RecordedExecutor
from whalefall.adapters.connectors._shared import ConnectorContext
from whalefall.adapters.connectors.mysql import MySqlConnector
from whalefall.adapters.connectors.mysql.queries import MYSQL_USER_PRIV_COLUMNS_57, MYSQL_USER_PRIV_COLUMNS_80
from whalefall.application.ports.connectors import ConnectorTimeouts
from whalefall.domain.accounts.model import PrincipalKind, PrincipalRef
from whalefall.domain.accounts.normalize import normalize_mysql
from whalefall.domain.accounts.rows.mysql import MySqlCatalogRows
from whalefall.domain.privileges.names import Scope

USER_COLUMNS = ["User", "Host", "plugin", "account_locked", "password_expired", "password_last_changed",
                "password_lifetime", "ssl_type", "max_questions", "max_updates", "max_connections",
                "max_user_connections"]


def user_row(user: str, host: str, privileges: set[str], columns: tuple[str, ...], *, locked: str = "N",
             expired: str = "N") -> list[Any]:
    return [user, host, "caching_sha2_password", locked, expired, datetime(2024, 5, 1, 12, 0), None, "", 0, 0, 0, 0,
            *("Y" if c in privileges else "N" for c in columns)]


def recording(version: str, *, users: int = 3) -> dict[str, Any]:
    is_80 = version.startswith("8")
    columns = MYSQL_USER_PRIV_COLUMNS_80 if is_80 else MYSQL_USER_PRIV_COLUMNS_57
    rows = [user_row("whalefall", "%", {"Process_priv", "Show_db_priv", "Show_view_priv"}, columns),
            user_row("app", "10.0.0.%", set(), columns)]
    if is_80:
        rows.append(user_row("r_reader", "%", set(), columns, locked="Y", expired="Y"))
    rows += [user_row(f"bulk{i}", "%", {"Select_priv"}, columns) for i in range(users)]
    q0_columns = ["version", "version_comment", "default_password_lifetime", "lower_case_table_names"]
    q0_row: list[Any] = [version, "MySQL Community Server - GPL", 0, 0]
    if is_80:
        q0_columns += ["mandatory_roles", "activate_all_roles_on_login", "partial_revokes"]
        q0_row += ["", 0, 0]
    q0 = {"columns": q0_columns, "rows": [q0_row]}
    queries: dict[str, Any] = {
        "VERSION": {"columns": ["version", "version_comment", "collector"],
                    "rows": [[version, "MySQL Community Server - GPL", "whalefall@%"]]},
        "Q0": q0,
        "Q1": {"columns": [*USER_COLUMNS, *columns], "rows": rows},
        "Q2": {"columns": ["Host", "Db", "User", "Select_priv", "Insert_priv"],
               "rows": [["10.0.0.%", "Shop", "app", "Y", "N"]]},
        "Q3": {"columns": ["Host", "Db", "User", "Table_name", "Grantor", "Table_priv"],
               "rows": [["10.0.0.%", "Shop", "app", "Orders", "root@localhost", "Select,Show view"]]},
        "Q4": {"columns": ["Host", "Db", "User", "Table_name", "Column_name", "Column_priv"], "rows": []},
        "Q5": {"columns": ["Host", "Db", "User", "Routine_name", "Routine_type", "Grantor", "Proc_priv"], "rows": []},
        "Q6": {"columns": ["Host", "User", "Proxied_host", "Proxied_user", "With_grant"], "rows": []},
    }
    if is_80:
        queries["Q7"] = {"columns": ["FROM_HOST", "FROM_USER", "TO_HOST", "TO_USER", "WITH_ADMIN_OPTION"],
                         "rows": [["%", "r_reader", "10.0.0.%", "app", "Y"]]}
        queries["Q8"] = {"columns": ["HOST", "USER", "DEFAULT_ROLE_HOST", "DEFAULT_ROLE_USER"],
                         "rows": [["10.0.0.%", "app", "%", "r_reader"]]}
        queries["Q9"] = {"columns": ["USER", "HOST", "PRIV", "WITH_GRANT_OPTION"],
                         "rows": [["whalefall", "%", "BACKUP_ADMIN", "N"]]}
    return {"queries": queries}


def connector_for(data: dict[str, Any], context: ConnectorContext) -> tuple[MySqlConnector, RecordedExecutor]:
    executor = RecordedExecutor(data)
    return MySqlConnector(executor, context=context, timeouts=ConnectorTimeouts()), executor


async def test_mysql_80_reads_roles_defaults_and_dynamic_privileges(context: ConnectorContext) -> None:
    connector, executor = connector_for(recording("8.0.36"), context)
    rows = await connector.read_account_catalog(instance_id=3)
    assert isinstance(rows, MySqlCatalogRows) and rows.meta.query_count == 11
    assert executor.statements[1][0] == "BEGIN" and "CONSISTENT SNAPSHOT" in executor.statements[1][1]
    snapshot = normalize_mysql(rows)
    app = next(p for p in snapshot.principals if p.ref.key == "app@10.0.0.%")
    [edge] = app.memberships
    assert edge.role == PrincipalRef.of(PrincipalKind.ROLE, "r_reader@%") and edge.admin_option and edge.default
    assert {(g.privilege, g.object) for g in app.grants if g.scope is Scope.TABLE} == {
        ("SELECT", ("Shop", "Orders")), ("SHOW VIEW", ("Shop", "Orders"))}
    collector = next(p for p in snapshot.principals if p.ref.key == "whalefall@%")
    assert "BACKUP_ADMIN" in {g.privilege for g in collector.grants}


async def test_mysql_57_has_no_role_tables(context: ConnectorContext) -> None:
    connector, executor = connector_for(recording("5.7.44-log"), context)
    rows = await connector.read_account_catalog(instance_id=3)
    assert isinstance(rows, MySqlCatalogRows) and rows.meta.query_count == 8
    assert not {"Q7", "Q8", "Q9"} & set(executor.catalog_statements())
    [(_, q1, _)] = [s for s in executor.statements if s[0] == "Q1"]
    assert "Create_role_priv" not in q1 and "User_attributes" not in q1


async def test_strict_column_grant_falls_back_without_hash_expressions(context: ConnectorContext) -> None:
    data = recording("8.0.36")
    data["errors"] = {"Q1": {"class": "PERMISSION_DENIED", "driver_code": 1143,
                             "when_sql_contains": "authentication_string"}}
    connector, executor = connector_for(data, context)
    rows = await connector.read_account_catalog(instance_id=3)
    assert isinstance(rows, MySqlCatalogRows)
    [first, second] = [sql for name, sql, _ in executor.statements if name == "Q1"]
    assert "authentication_string" in first and "User_attributes" in first
    assert "authentication_string" not in second and "User_attributes" not in second
    assert all(u.empty_authentication_string is None for u in rows.users)


@pytest.mark.parametrize("version", ["8.0.36", "5.7.44"])
async def test_query_count_does_not_depend_on_accounts(context: ConnectorContext, version: str) -> None:
    counts = set()
    for size in (10, 5000):
        rows = await connector_for(recording(version, users=size), context)[0].read_account_catalog(instance_id=3)
        counts.add(rows.meta.query_count)
    assert len(counts) == 1
