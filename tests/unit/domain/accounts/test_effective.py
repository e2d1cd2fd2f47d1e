"""Effective privileges with grant paths (defect 27 and the §7 engine rules)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from whalefall.domain.accounts.effective import (
    EffectiveGrant,
    EffectivePath,
    EffectivePrivileges,
    PathMode,
    resolve_effective,
)
from whalefall.domain.accounts.model import (
    AttrValue,
    GrantEffect,
    InstanceSnapshot,
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    PrivilegeGrant,
    RoleMembership,
)
from whalefall.domain.accounts.normalize import normalize_mysql
from whalefall.domain.accounts.rows.common import CatalogMeta
from whalefall.domain.accounts.rows.mysql import (
    MySqlCatalogRows,
    MySqlDbPrivRow,
    MySqlDefaultRoleRow,
    MySqlRoleEdgeRow,
    MySqlServerRow,
    MySqlUserRow,
)
from whalefall.domain.instances import DbEngine, Flavor, InstanceId
from whalefall.domain.privileges.names import Scope

Grant = tuple[str, Scope, tuple[str, ...]]


def ref(key: str, kind: PrincipalKind = PrincipalKind.ROLE, namespace: str = "") -> PrincipalRef:
    return PrincipalRef.of(kind, key, namespace)


def node(r: PrincipalRef, *grants: Grant, edges: tuple[RoleMembership, ...] = (), deny: tuple[Grant, ...] = (),
         option: bool = False, **attributes: AttrValue) -> PrincipalState:
    return PrincipalState(
        ref=r, is_account=True, attributes=attributes,
        grants=tuple(PrivilegeGrant(principal=r, privilege=p, scope=s, object=o, grant_option=option)
                     for p, s, o in grants)
        + tuple(PrivilegeGrant(principal=r, privilege=p, scope=s, object=o, effect=GrantEffect.DENY)
                for p, s, o in deny),
        memberships=edges,
    )


def edge(member: PrincipalRef, role: PrincipalRef, **flags: bool) -> RoleMembership:
    return RoleMembership(member=member, role=role, **flags)


def find(result: EffectivePrivileges, privilege: str, obj: tuple[str, ...] = ()) -> EffectiveGrant | None:
    return next((g for g in result.grants if g.privilege == privilege and g.object == obj), None)


def paths(result: EffectivePrivileges, privilege: str, obj: tuple[str, ...] = ()) -> tuple[EffectivePath, ...]:
    grant = find(result, privilege, obj)
    assert grant is not None, f"{privilege} on {obj} is not effective"
    return grant.paths


# ---- MySQL ------------------------------------------------------------------------------------------------------

def mysql_snapshot(*, activate_all: bool = False, default: bool = True) -> InstanceSnapshot:
    footprint: dict[str, Any] = {"account_locked": True, "password_expired": True,
                                 "empty_authentication_string": True}
    return normalize_mysql(MySqlCatalogRows(
        meta=CatalogMeta(instance_id=InstanceId(1), observed_at=datetime(2025, 1, 1, tzinfo=UTC), query_count=9,
                         collector="app@%"),
        server=MySqlServerRow(version="8.0.36", activate_all_roles_on_login=activate_all),
        users=(MySqlUserRow(user="app", host="%", plugin="caching_sha2_password"),
               MySqlUserRow(user="r_read", host="%", plugin="", **footprint),
               MySqlUserRow(user="r_base", host="%", plugin="", **footprint)),
        db_privs=(MySqlDbPrivRow(host="%", db="Sales", user="r_base", priv_columns={"Select_priv": True}),
                  MySqlDbPrivRow(host="%", db="Sales", user="r_read", priv_columns={"Grant_priv": True})),
        role_edges=(MySqlRoleEdgeRow(from_host="%", from_user="r_read", to_host="%", to_user="app"),
                    MySqlRoleEdgeRow(from_host="%", from_user="r_base", to_host="%", to_user="r_read")),
        default_roles=(MySqlDefaultRoleRow(host="%", user="app", default_role_host="%", default_role_user="r_read"),)
        if default else (),
    ))


def test_mysql_role_only_rights_show_with_their_role_path() -> None:
    result = resolve_effective(mysql_snapshot(), ref("app@%", PrincipalKind.USER))
    select = find(result, "SELECT", ("Sales",))
    assert select is not None
    (path,) = select.paths
    assert (path.source, path.path, path.mode) == ("role:r_base@%", ("r_read@%", "r_base@%"), PathMode.DEFAULT)
    assert select.grant_option is True          # GRANT OPTION held at the same level, through r_read


def test_mysql_non_default_roles_need_set_role_unless_all_are_activated() -> None:
    app = ref("app@%", PrincipalKind.USER)
    select = find(resolve_effective(mysql_snapshot(default=False), app), "SELECT", ("Sales",))
    assert select is not None and select.paths[0].mode is PathMode.SET_ROLE
    select = find(resolve_effective(mysql_snapshot(default=False, activate_all=True), app), "SELECT", ("Sales",))
    assert select is not None and select.paths[0].mode is PathMode.DEFAULT


def test_mysql_partial_revoke_is_an_exception_of_the_global_grant() -> None:
    app = ref("app@%", PrincipalKind.USER)
    states = [node(app, ("SELECT", Scope.GLOBAL, ()), deny=(("SELECT", Scope.DATABASE, ("mysql",)),))]
    result = resolve_effective(states, app, engine=DbEngine.MYSQL, flavor=Flavor.MYSQL)
    select = find(result, "SELECT")
    assert select is not None and select.exceptions == (("mysql",),)
    assert [d.object for d in result.denied] == [("mysql",)]


# ---- PostgreSQL -------------------------------------------------------------------------------------------------

ALICE, APP_RO, MID = ref("alice"), ref("app_ro"), ref("mid")
ORDERS = ("SELECT", Scope.TABLE, ("crm", "sales", "orders"))


def pg(*states: PrincipalState, who: PrincipalRef = ALICE) -> EffectivePrivileges:
    return resolve_effective(states, who, engine=DbEngine.POSTGRESQL)


def test_pg_inherit_set_and_admin_only_edges() -> None:
    inherit = pg(node(ALICE, edges=(edge(ALICE, APP_RO),)), node(APP_RO, ORDERS))
    assert paths(inherit, "SELECT", ORDERS[2])[0].mode is PathMode.INHERIT
    noinherit = pg(node(ALICE, edges=(edge(ALICE, APP_RO, inherit=False),)), node(APP_RO, ORDERS))
    path = paths(noinherit, "SELECT", ORDERS[2])[0]
    assert (path.mode, path.source, path.path) == (PathMode.SET_ROLE, "role:app_ro", ("app_ro",))
    admin_only = pg(node(ALICE, edges=(edge(ALICE, APP_RO, inherit=False, set=False, admin_option=True),)),
                    node(APP_RO, ORDERS))
    assert admin_only.grants == ()


def test_pg_paths_are_set_edges_then_inherit_edges() -> None:
    set_then_inherit = pg(node(ALICE, edges=(edge(ALICE, MID, inherit=False),)),
                          node(MID, edges=(edge(MID, APP_RO, set=False),)), node(APP_RO, ORDERS))
    assert paths(set_then_inherit, "SELECT", ORDERS[2])[0].mode is PathMode.SET_ROLE
    inherit_then_set = pg(node(ALICE, edges=(edge(ALICE, MID, set=False),)),
                          node(MID, edges=(edge(MID, APP_RO, inherit=False),)), node(APP_RO, ORDERS))
    assert inherit_then_set.grants == ()


def test_public_grants_apply_to_everyone() -> None:
    result = pg(node(ALICE), node(PrincipalRef.public(), ("CONNECT", Scope.DATABASE, ("crm",))))
    (grant,) = result.grants
    assert (grant.paths[0].source, grant.paths[0].path, grant.paths[0].mode) == ("public", (), PathMode.INHERIT)


def test_cycles_terminate_and_depth_is_bounded() -> None:
    a, b = ref("a"), ref("b")
    cyclic = pg(node(ALICE, edges=(edge(ALICE, a),)), node(a, ("X", Scope.GLOBAL, ()), edges=(edge(a, b),)),
                node(b, ("Y", Scope.GLOBAL, ()), edges=(edge(b, a), edge(b, ALICE))))
    assert {g.privilege for g in cyclic.grants} == {"X", "Y"}
    chain = [ref(f"r{i}") for i in range(20)]
    states = [node(ALICE, edges=(edge(ALICE, chain[0]),))]
    states += [node(r, (f"P{i}", Scope.GLOBAL, ()), edges=(edge(r, chain[i + 1]),) if i + 1 < 20 else ())
               for i, r in enumerate(chain)]
    deep = pg(*states)
    assert {g.privilege for g in deep.grants} == {f"P{i}" for i in range(16)}


def test_at_most_eight_paths_shortest_first() -> None:
    mids = [ref(f"m{i}") for i in range(12)]
    states = [node(ALICE, ORDERS, edges=tuple(edge(ALICE, m) for m in mids))]
    states += [node(m, ORDERS, edges=(edge(m, APP_RO),)) for m in mids] + [node(APP_RO, ORDERS)]
    found = paths(pg(*states), "SELECT", ORDERS[2])
    assert len(found) == 8
    assert found[0].source == "direct" and found[0].path == ()
    assert [len(p.path) for p in found] == sorted(len(p.path) for p in found)


# ---- SQL Server -------------------------------------------------------------------------------------------------

LOGIN = ref("CORP\\svc", PrincipalKind.LOGIN)
READER = ref("db_datareader", PrincipalKind.DB_ROLE, "FinanceDW")
RPT = ref("rpt_readers", PrincipalKind.DB_ROLE, "FinanceDW")
INVOICES = ("FinanceDW", "rpt", "Invoices")


def mssql(*states: PrincipalState) -> EffectivePrivileges:
    return resolve_effective(states, LOGIN, engine=DbEngine.SQLSERVER)


def test_fixed_roles_imply_their_permissions() -> None:
    sysadmin = ref("sysadmin", PrincipalKind.SERVER_ROLE)
    result = mssql(node(LOGIN, edges=(edge(LOGIN, sysadmin), edge(LOGIN, READER))), node(sysadmin), node(READER))
    control = find(result, "CONTROL SERVER")
    assert control is not None and control.paths[0].implicit is True
    select = find(result, "SELECT", ("FinanceDW",))
    assert select is not None and select.paths[0].source == "role:db_datareader"


def test_deny_beats_a_role_grant_but_a_column_grant_survives_a_table_deny() -> None:
    result = mssql(
        node(LOGIN, ("UPDATE", Scope.COLUMN, (*INVOICES, "Amount")), edges=(edge(LOGIN, RPT), edge(LOGIN, READER)),
             deny=(("SELECT", Scope.TABLE, INVOICES), ("UPDATE", Scope.TABLE, INVOICES))),
        node(RPT, ("SELECT", Scope.TABLE, INVOICES)), node(READER),
    )
    assert find(result, "SELECT", INVOICES) is None
    assert find(result, "UPDATE", (*INVOICES, "Amount")) is not None
    database_select = find(result, "SELECT", ("FinanceDW",))
    assert database_select is not None and database_select.exceptions == (INVOICES,)
    assert {d.privilege for d in result.denied} == {"SELECT", "UPDATE"}


def test_deny_on_a_containing_securable_and_deny_roles() -> None:
    deny_reader = ref("db_denydatareader", PrincipalKind.DB_ROLE, "FinanceDW")
    result = mssql(node(LOGIN, edges=(edge(LOGIN, RPT), edge(LOGIN, deny_reader))),
                   node(RPT, ("SELECT", Scope.TABLE, INVOICES), ("SELECT", Scope.SCHEMA, ("FinanceDW", "rpt"))),
                   node(deny_reader))
    assert result.grants == ()
    assert [(d.privilege, d.object) for d in result.denied] == [("SELECT", ("FinanceDW",))]


def test_database_public_role_applies_to_mapped_users() -> None:
    db_public = PrincipalRef.public("FinanceDW")
    result = mssql(node(LOGIN, db_user_mappings={"FinanceDW": "svc"}),
                   node(db_public, ("SELECT", Scope.TABLE, INVOICES)))
    grant = find(result, "SELECT", INVOICES)
    assert grant is not None and grant.paths[0].source == "public"


# ---- Oracle -----------------------------------------------------------------------------------------------------

def test_oracle_modes_and_password_roles() -> None:
    hr, app, nested = ref("HR", PrincipalKind.USER), ref("APP_ROLE"), ref("NESTED")
    states = [node(hr, edges=(edge(hr, app, default=False),)),
              node(app, edges=(edge(app, nested, default=True),), auth_method="PASSWORD"),
              node(nested, ("SELECT", Scope.TABLE, ("HR", "EMP")))]
    result = resolve_effective(states, hr, engine=DbEngine.ORACLE)
    (path,) = paths(result, "SELECT", ("HR", "EMP"))
    assert (path.mode, path.requires_authentication, path.path) == (PathMode.SET_ROLE, True, ("APP_ROLE", "NESTED"))
    plain = [node(hr, edges=(edge(hr, nested, default=True),)), states[2]]
    (path,) = paths(resolve_effective(plain, hr, engine=DbEngine.ORACLE), "SELECT", ("HR", "EMP"))
    assert (path.mode, path.requires_authentication) == (PathMode.DEFAULT, False)


def test_admin_option_on_system_privileges_is_grant_option() -> None:
    system = ref("SYSTEM", PrincipalKind.USER)
    result = resolve_effective([node(system, ("CREATE USER", Scope.GLOBAL, ()), option=True)], system,
                               engine=DbEngine.ORACLE)
    assert result.grants[0].grant_option is True
