"""MySQL 8 / 5.7 and MariaDB normalisers over hand-built catalog rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from whalefall.domain.accounts.model import GrantEffect, InstanceSnapshot, PrincipalKind, PrincipalRef, PrivilegeGrant
from whalefall.domain.accounts.normalize import CatalogVisibilityError, normalize_mariadb, normalize_mysql
from whalefall.domain.accounts.normalize.mariadb import ALL_BITS, decode_access
from whalefall.domain.accounts.normalize.mysql import has_pattern, parse_role_list
from whalefall.domain.accounts.rows.common import CatalogMeta
from whalefall.domain.accounts.rows.mysql import (
    MariaDbCatalogRows,
    MariaDbGlobalPrivRow,
    MariaDbRoleMappingRow,
    MariaDbServerRow,
    MySqlCatalogRows,
    MySqlColumnPrivRow,
    MySqlDbPrivRow,
    MySqlDefaultRoleRow,
    MySqlGlobalGrantRow,
    MySqlProcPrivRow,
    MySqlProxyPrivRow,
    MySqlRoleEdgeRow,
    MySqlServerRow,
    MySqlTablePrivRow,
    MySqlUserRow,
)
from whalefall.domain.instances import Flavor, InstanceId
from whalefall.domain.privileges.names import Scope

T0 = datetime(2025, 1, 10, 3, 0, tzinfo=UTC)


def meta(collector: str = "whalefall@%") -> CatalogMeta:
    return CatalogMeta(instance_id=InstanceId(7), observed_at=T0, query_count=10, collector=collector)


def user(name: str, host: str = "%", **kw: Any) -> MySqlUserRow:
    return MySqlUserRow(user=name, host=host, plugin=str(kw.pop("plugin", "caching_sha2_password")), **kw)


ROLE_FOOTPRINT: dict[str, Any] = {"account_locked": True, "password_expired": True,
                                  "empty_authentication_string": True}


def mysql8_rows(**server: object) -> MySqlCatalogRows:
    return MySqlCatalogRows(
        meta=meta(),
        server=MySqlServerRow(version=str(server.pop("version", "8.0.36")), mandatory_roles="`r_mand`@`%`",
                              activate_all_roles_on_login=False, partial_revokes=True,
                              default_password_lifetime=0),
        users=(
            user("root", "localhost", priv_columns={"Select_priv": True, "Super_priv": True, "Grant_priv": True}),
            user("app", max_user_connections=10, empty_authentication_string=False,
                 restrictions_json='[{"Database": "mysql", "Privileges": ["SELECT", "INSERT"]}]',
                 password_last_changed=datetime(2024, 6, 1, 8, 0)),
            user("r_read", **ROLE_FOOTPRINT),
            user("r_mand", **ROLE_FOOTPRINT),
            user("r_foot", **ROLE_FOOTPRINT),
            user("", "localhost", plugin="mysql_native_password", empty_authentication_string=True),
            user("whalefall", account_locked=False),
        ),
        db_privs=(
            MySqlDbPrivRow(host="%", db="Sales_DB", user="app",
                           priv_columns={"Select_priv": True, "Insert_priv": True, "Grant_priv": True,
                                         "Drop_priv": False}),
            MySqlDbPrivRow(host="%", db="rpt%", user="r_read", priv_columns={"Select_priv": True}),
            MySqlDbPrivRow(host="%", db="my\\_db", user="r_read", priv_columns={"Select_priv": True}),
            MySqlDbPrivRow(host="%", db="x", user="ghost", priv_columns={"Select_priv": True}),
        ),
        table_privs=(MySqlTablePrivRow(host="%", db="Sales_DB", user="app", table_name="Orders",
                                       grantor="root@localhost", table_priv=("Select", "Show view", "Grant")),),
        column_privs=(MySqlColumnPrivRow(host="%", db="Sales_DB", user="app", table_name="Orders",
                                         column_name="amount", column_priv=("Update",)),),
        proc_privs=(MySqlProcPrivRow(host="%", db="Sales_DB", user="app", routine_name="calc_tax",
                                     routine_type="PROCEDURE", proc_priv=("Execute",)),),
        proxy_privs=(MySqlProxyPrivRow(host="%", user="app", proxied_host="%", proxied_user="svc",
                                       with_grant=True),),
        role_edges=(MySqlRoleEdgeRow(from_host="%", from_user="r_read", to_host="%", to_user="app",
                                     with_admin_option=True),),
        default_roles=(MySqlDefaultRoleRow(host="%", user="app", default_role_host="%",
                                           default_role_user="r_read"),),
        global_grants=(MySqlGlobalGrantRow(user="root", host="localhost", priv="SYSTEM_USER",
                                           with_grant_option=True),
                       MySqlGlobalGrantRow(user="app", host="%", priv="backup_admin")),
    )


def state(snapshot: InstanceSnapshot, key: str, kind: PrincipalKind = PrincipalKind.USER,
          namespace: str = "") -> tuple[PrivilegeGrant, ...]:
    return snapshot.states_by_ref()[PrincipalRef.of(kind, key, namespace)].grants


def test_mysql8_kinds_follow_role_detection() -> None:
    snap = normalize_mysql(mysql8_rows())
    kinds = {s.ref.key: (s.kind, s.attributes["kind_inferred"]) for s in snap.principals}
    assert kinds["app@%"] == (PrincipalKind.USER, False)
    assert kinds["r_read@%"] == (PrincipalKind.ROLE, False)
    assert kinds["r_mand@%"] == (PrincipalKind.ROLE, False)
    assert kinds["r_foot@%"] == (PrincipalKind.ROLE, True)
    assert kinds["@localhost"] == (PrincipalKind.USER, False)   # anonymous account, kept
    assert snap.flavor is Flavor.MYSQL
    assert snap.settings["mandatory_roles"] == ("r_mand@%",)


def test_mysql8_grant_tables_map_to_canonical_grants() -> None:
    snap = normalize_mysql(mysql8_rows())
    app = {(g.privilege, g.scope, g.object, g.effect): g for g in state(snap, "app@%")}
    assert ("GRANT OPTION", Scope.DATABASE, ("Sales_DB",), GrantEffect.GRANT) in app   # case kept
    assert ("SHOW VIEW", Scope.TABLE, ("Sales_DB", "Orders"), GrantEffect.GRANT) in app
    assert ("GRANT OPTION", Scope.TABLE, ("Sales_DB", "Orders"), GrantEffect.GRANT) in app
    assert ("UPDATE", Scope.COLUMN, ("Sales_DB", "Orders", "amount"), GrantEffect.GRANT) in app
    routine = app[("EXECUTE", Scope.ROUTINE, ("Sales_DB", "calc_tax"), GrantEffect.GRANT)]
    assert routine.object_kind == "procedure"
    assert app[("PROXY", Scope.GLOBAL, ("svc@%",), GrantEffect.GRANT)].grant_option is True
    assert ("BACKUP_ADMIN", Scope.GLOBAL, (), GrantEffect.GRANT) in app
    assert ("DROP", Scope.DATABASE, ("Sales_DB",), GrantEffect.GRANT) not in app
    assert ("SELECT", Scope.DATABASE, ("mysql",), GrantEffect.DENY) in app   # partial revoke


def test_mysql_pattern_flag_and_static_columns() -> None:
    snap = normalize_mysql(mysql8_rows())
    patterns = {g.object: g.pattern for g in state(snap, "r_read@%", PrincipalKind.ROLE)}
    assert patterns == {("rpt%",): True, ("my\\_db",): False}
    root = {g.privilege: g for g in state(snap, "root@localhost")}
    assert set(root) == {"SELECT", "SUPER", "GRANT OPTION", "SYSTEM_USER"}
    assert root["SYSTEM_USER"].grant_option is True


def test_mysql8_edges_defaults_and_mandatory_roles() -> None:
    snap = normalize_mysql(mysql8_rows())
    app = snap.states_by_ref()[PrincipalRef.of(PrincipalKind.USER, "app@%")]
    edges = {e.role.key: e for e in app.memberships}
    assert edges["r_read@%"].admin_option is True
    assert edges["r_read@%"].default is True
    assert edges["r_read@%"].implicit is False
    assert edges["r_mand@%"].implicit is True
    role = snap.states_by_ref()[PrincipalRef.of(PrincipalKind.ROLE, "r_read@%")]
    assert role.memberships == ()           # mandatory roles go to user accounts only
    assert role.attributes["locked"] is False


def test_mysql_attributes_and_ignored_rows() -> None:
    snap = normalize_mysql(mysql8_rows())
    by_key = {s.ref.key: s.attributes for s in snap.principals}
    assert by_key["app@%"]["connection_limit"] == 10
    assert by_key["app@%"]["password_changed_at"] == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    assert by_key["@localhost"]["has_empty_password"] is True
    assert by_key["app@%"]["has_empty_password"] is False
    assert by_key["r_read@%"]["login_capable"] is False
    assert any(w.code == "unknown_principal_rows" and "mysql.db" in w.message for w in snap.warnings)
    assert snap.observed_at == T0
    assert snap.query_count == 10


def test_mysql57_has_no_roles() -> None:
    snap = normalize_mysql(mysql8_rows(version="5.7.44"))
    kinds = {s.ref.key: s.kind for s in snap.principals}
    assert kinds["r_foot@%"] is PrincipalKind.USER
    assert kinds["r_read@%"] is PrincipalKind.USER
    assert all(not s.memberships for s in snap.principals)


def test_visibility_guard_requires_the_collector_and_some_principals() -> None:
    rows = mysql8_rows()
    with pytest.raises(CatalogVisibilityError) as missing:
        normalize_mysql(MySqlCatalogRows(meta=meta("nobody@%"), server=rows.server, users=rows.users))
    assert missing.value.code == "CATALOG_VISIBILITY"
    with pytest.raises(CatalogVisibilityError) as empty:
        normalize_mysql(MySqlCatalogRows(meta=meta(), server=rows.server, users=()))
    assert empty.value.principal_count == 0


def test_helpers() -> None:
    assert has_pattern("a_b") and has_pattern("a%") and not has_pattern("a\\_b") and not has_pattern("Sales")
    assert parse_role_list("r1, `r2`@`localhost`,'r 3'@'%'") == [("r1", "%"), ("r2", "localhost"), ("r 3", "%")]


# ---- MariaDB ----------------------------------------------------------------------------------------------------

SUPER, REPL_SLAVE = 1 << 15, 1 << 19


def test_all_bits_mean_every_privilege_of_the_server_version() -> None:
    decoded = decode_access(ALL_BITS, row_version_id=101106, server_version_id=101106)
    assert "SLAVE MONITOR" in decoded.privileges
    assert "BINLOG MONITOR" in decoded.privileges
    assert "REPLICATION CLIENT" not in decoded.privileges
    assert "SHOW CREATE ROUTINE" not in decoded.privileges       # 11.3 only
    assert "SHOW CREATE ROUTINE" in decode_access(ALL_BITS, row_version_id=None,
                                                  server_version_id=110402).privileges
    assert not any(p.startswith("BIT_") for p in decoded.privileges)


def test_pre_10_5_2_super_holds_the_split_privileges() -> None:
    decoded = decode_access(SUPER | REPL_SLAVE, row_version_id=None, server_version_id=101106)
    assert {"SUPER", "REPLICATION SLAVE", "SET USER", "FEDERATED ADMIN", "CONNECTION ADMIN", "READ_ONLY ADMIN",
            "REPLICATION SLAVE ADMIN", "BINLOG ADMIN", "BINLOG REPLAY", "REPLICATION MASTER ADMIN",
            "SLAVE MONITOR"} <= set(decoded.privileges)
    plain = decode_access(SUPER, row_version_id=100502, server_version_id=101106)
    assert plain.privileges == ("SUPER",)


def test_slave_monitor_from_replication_slave_admin_in_early_10_5_rows() -> None:
    assert "SLAVE MONITOR" in decode_access(1 << 34, row_version_id=100505, server_version_id=101106).privileges
    assert "SLAVE MONITOR" not in decode_access(1 << 34, row_version_id=100510,
                                                server_version_id=101106).privileges


def test_bits_outside_the_row_mask_void_the_row_and_unknown_bits_are_kept() -> None:
    ignored = decode_access((1 << 38) | 1, row_version_id=100502, server_version_id=101106)
    assert ignored.privileges == () and ignored.warnings
    future = decode_access((1 << 41) | 1, row_version_id=120000, server_version_id=120000)
    assert future.privileges == ("SELECT", "BIT_41") and future.warnings


def mariadb_rows() -> MariaDbCatalogRows:
    g = MariaDbGlobalPrivRow
    return MariaDbCatalogRows(
        meta=meta("whalefall@%"),
        server=MariaDbServerRow(version="10.11.6-MariaDB-1:10.11.6+maria~ubu2204", default_password_lifetime=0),
        users=(
            g(host="localhost", user="root", access=ALL_BITS, version_id=101106, plugin="mysql_native_password",
              auth_or_plugins_json='["unix_socket"]'),
            g(host="%", user="whalefall", access=1, version_id=101106, plugin="mysql_native_password"),
            g(host="%", user="reader", access=1, version_id=101106, default_role="analyst", ssl_type=2),
            g(host="%", user="expired", access=0, password_last_changed=0, password_lifetime=-1),
            g(host="", user="analyst", is_role=True),
            g(host="", user="PUBLIC", is_role=True),
        ),
        db_privs=(MySqlDbPrivRow(host="", db="shared", user="PUBLIC", priv_columns={"Select_priv": True}),
                  MySqlDbPrivRow(host="", db="Sales", user="analyst",
                                 priv_columns={"Select_priv": True, "Delete_history_priv": True})),
        table_privs=(MySqlTablePrivRow(host="%", db="Sales", user="reader", table_name="h",
                                       table_priv=("Delete versioning rows",)),),
        roles_mapping=(MariaDbRoleMappingRow(host="%", user="reader", role="analyst"),
                       MariaDbRoleMappingRow(host="localhost", user="root", role="analyst", admin_option=True)),
    )


def test_mariadb_kinds_public_and_default_role() -> None:
    snap = normalize_mariadb(mariadb_rows())
    states = snap.states_by_ref()
    assert snap.flavor is Flavor.MARIADB
    public = states[PrincipalRef.public()]
    assert public.is_account is False
    assert [(g.privilege, g.object) for g in public.grants] == [("SELECT", ("shared",))]
    analyst = states[PrincipalRef.of(PrincipalKind.ROLE, "analyst")]
    assert {g.privilege for g in analyst.grants} == {"SELECT", "DELETE HISTORY"}
    reader = states[PrincipalRef.of(PrincipalKind.USER, "reader@%")]
    (edge,) = reader.memberships
    assert (edge.role.key, edge.default, edge.admin_option) == ("analyst", True, False)
    root_edge = states[PrincipalRef.of(PrincipalKind.USER, "root@localhost")].memberships[0]
    assert (root_edge.default, root_edge.admin_option) == (False, True)
    assert ("DELETE HISTORY", ("Sales", "h")) in {(g.privilege, g.object) for g in reader.grants}


def test_mariadb_attributes() -> None:
    states = {s.ref.key: s.attributes for s in normalize_mariadb(mariadb_rows()).principals}
    assert states["expired@%"]["password_expired"] is True
    assert states["expired@%"]["password_lifetime_days"] is None
    assert states["reader@%"]["ssl_type"] == "X509"
    assert states["root@localhost"]["auth_methods"] == ("mysql_native_password", "unix_socket")
    assert states["analyst"]["login_capable"] is False
