"""PostgreSQL normaliser over hand-built catalog rows."""

from __future__ import annotations

from datetime import UTC, datetime

from whalefall.domain.accounts.model import GapReason, InstanceSnapshot, PrincipalKind, PrincipalRef, PrincipalState
from whalefall.domain.accounts.normalize import normalize_postgresql
from whalefall.domain.accounts.rows.common import CatalogMeta, DatabaseFailure
from whalefall.domain.accounts.rows.postgresql import (
    PgAclRow,
    PgAuthMemberRow,
    PgCatalogRows,
    PgColumnAclRow,
    PgDatabaseAclRow,
    PgDatabaseRows,
    PgRelationAclRow,
    PgRoleRow,
    PgRoutineAclRow,
    PgSchemaAclRow,
    PgServerRow,
    PgTablespaceAclRow,
)
from whalefall.domain.instances import InstanceId
from whalefall.domain.privileges.names import Scope

POSTGRES, APP_RO, ALICE, BOB, STATS, COLLECTOR = 10, 16384, 16385, 16386, 3375, 16390


def acl(grantee: int, privilege: str, *, grantable: bool = False, implicit: bool = False) -> PgAclRow:
    return PgAclRow(grantor=POSTGRES, grantee=grantee, privilege_type=privilege, is_grantable=grantable,
                    implicit=implicit)


def rows(version: int = 150004, memberships: tuple[PgAuthMemberRow, ...] | None = None) -> PgCatalogRows:
    def db(name: str, *, allowconn: bool = True, template: bool = False) -> PgDatabaseAclRow:
        return PgDatabaseAclRow(datname=name, datdba=POSTGRES, datallowconn=allowconn, datistemplate=template,
                                acl=acl(0, "CONNECT", implicit=True))

    return PgCatalogRows(
        meta=CatalogMeta(instance_id=InstanceId(3), observed_at=datetime(2025, 2, 1, tzinfo=UTC), query_count=9,
                         collector="whalefall"),
        server=PgServerRow(server_version_num=version, current_database="postgres", object_grants="full"),
        roles=(
            PgRoleRow(oid=POSTGRES, rolname="postgres", rolsuper=True, rolcanlogin=True),
            PgRoleRow(oid=APP_RO, rolname="app_ro"),
            PgRoleRow(oid=ALICE, rolname="alice", rolcanlogin=True, rolinherit=False, rolconnlimit=5),
            PgRoleRow(oid=BOB, rolname="bob", rolcanlogin=True,
                      rolvaliduntil=datetime(2024, 12, 31, 23, 0, tzinfo=UTC)),
            PgRoleRow(oid=STATS, rolname="pg_read_all_stats"),
            PgRoleRow(oid=COLLECTOR, rolname="whalefall", rolcanlogin=True),
        ),
        memberships=memberships if memberships is not None else (
            PgAuthMemberRow(roleid=APP_RO, member=ALICE, grantor=POSTGRES),
            PgAuthMemberRow(roleid=APP_RO, member=BOB, grantor=POSTGRES, admin_option=True),
            PgAuthMemberRow(roleid=STATS, member=COLLECTOR, grantor=POSTGRES),
        ),
        database_acls=(
            db("postgres"),
            PgDatabaseAclRow(datname="postgres", datdba=POSTGRES, datallowconn=True, datistemplate=False,
                             acl=acl(0, "TEMP", implicit=True)),
            db("crm_live"), db("dw_archive"), db("ghost_db"), db("template1", template=True),
            db("no_conn", allowconn=False),
        ),
        tablespace_acls=(PgTablespaceAclRow(spcname="fast_ssd", acl=acl(APP_RO, "CREATE")),),
        databases=(
            PgDatabaseRows(datname="postgres"),
            PgDatabaseRows(
                datname="crm_live",
                schemas=(PgSchemaAclRow(nspname="public", acl=acl(0, "USAGE", implicit=True)),),
                relations=(PgRelationAclRow(nspname="sales", relname="orders", relkind="r",
                                            acl=acl(APP_RO, "SELECT", grantable=True)),
                           PgRelationAclRow(nspname="sales", relname="order_seq", relkind="S",
                                            acl=acl(APP_RO, "USAGE"))),
                columns=(PgColumnAclRow(nspname="sales", relname="orders", attname="total",
                                        acl=acl(ALICE, "UPDATE")),),
                routines=(PgRoutineAclRow(nspname="sales", signature="calc(integer, text)", prokind="f",
                                          acl=acl(ALICE, "EXECUTE")),),
            ),
        ),
        failed_databases=(DatabaseFailure(database="dw_archive", connect_failed=True, detail="timeout"),),
    )


def states(snapshot: InstanceSnapshot) -> dict[str, PrincipalState]:
    return {s.ref.key: s for s in snapshot.principals}


def test_roles_are_all_role_kind_and_nologin_is_not_locked() -> None:
    snap = normalize_postgresql(rows())
    by_key = states(snap)
    assert {s.kind for k, s in by_key.items() if k != "PUBLIC"} == {PrincipalKind.ROLE}
    app_ro = by_key["app_ro"].attributes
    assert (app_ro["login_capable"], app_ro["locked"], app_ro["password_expired"]) == (False, False, False)
    assert by_key["alice"].attributes["connection_limit"] == 5
    assert by_key["postgres"].attributes["connection_limit"] is None
    assert by_key["postgres"].attributes["rolsuper"] is True
    assert by_key["bob"].attributes["valid_until"] == datetime(2024, 12, 31, 23, 0, tzinfo=UTC)
    assert by_key["alice"].attributes["stable_id"] == str(ALICE)
    assert snap.server_version == "15.4"


def test_public_grantee_temp_alias_and_implicit_defaults() -> None:
    public = states(normalize_postgresql(rows()))["PUBLIC"]
    grants = {(g.privilege, g.object): g for g in public.grants}
    assert ("TEMPORARY", ("postgres",)) in grants
    assert ("TEMP", ("postgres",)) not in grants
    assert grants[("CONNECT", ("crm_live",))].implicit is True
    assert grants[("USAGE", ("crm_live", "public"))].scope is Scope.SCHEMA
    assert public.is_account is False


def test_object_grants_per_database() -> None:
    by_key = states(normalize_postgresql(rows()))
    app_ro = {(g.privilege, g.scope, g.object): g for g in by_key["app_ro"].grants}
    orders = app_ro[("SELECT", Scope.TABLE, ("crm_live", "sales", "orders"))]
    assert (orders.grant_option, orders.object_kind, orders.grantor) == (True, "table", "postgres")
    assert app_ro[("USAGE", Scope.TABLE, ("crm_live", "sales", "order_seq"))].object_kind == "sequence"
    assert ("CREATE", Scope.TABLESPACE, ("fast_ssd",)) in app_ro
    alice = {(g.privilege, g.scope, g.object) for g in by_key["alice"].grants}
    assert ("UPDATE", Scope.COLUMN, ("crm_live", "sales", "orders", "total")) in alice
    assert ("EXECUTE", Scope.ROUTINE, ("crm_live", "sales", "calc(integer, text)")) in alice


def test_pg15_inherit_comes_from_the_member() -> None:
    by_key = states(normalize_postgresql(rows()))
    (alice_edge,) = by_key["alice"].memberships
    assert (alice_edge.inherit, alice_edge.set, alice_edge.default) == (False, True, None)   # NOINHERIT
    (bob_edge,) = by_key["bob"].memberships
    assert (bob_edge.inherit, bob_edge.admin_option) == (True, True)
    (stats_edge,) = by_key["whalefall"].memberships
    assert stats_edge.role.key == "pg_read_all_stats"


def test_pg16_flags_are_or_ed_across_grantors() -> None:
    memberships = (
        PgAuthMemberRow(roleid=APP_RO, member=ALICE, grantor=POSTGRES, inherit_option=False, set_option=True),
        PgAuthMemberRow(roleid=APP_RO, member=ALICE, grantor=BOB, inherit_option=True, set_option=False),
        PgAuthMemberRow(roleid=APP_RO, member=BOB, grantor=POSTGRES, admin_option=True, inherit_option=False,
                        set_option=False),
    )
    by_key = states(normalize_postgresql(rows(version=160002, memberships=memberships)))
    (alice_edge,) = by_key["alice"].memberships
    assert (alice_edge.inherit, alice_edge.set) == (True, True)
    (bob_edge,) = by_key["bob"].memberships
    assert (bob_edge.inherit, bob_edge.set, bob_edge.admin_option) == (False, False, True)


def test_failed_and_unread_databases_are_schema_level_gaps() -> None:
    snap = normalize_postgresql(rows())
    gaps = {g.database: g for g in snap.coverage.gaps}
    assert set(gaps) == {"dw_archive", "ghost_db"}           # templates and datallowconn=false are not scanned
    assert gaps["dw_archive"].reason is GapReason.CONNECT_FAILED
    assert gaps["dw_archive"].scope is Scope.SCHEMA
    assert gaps["ghost_db"].reason is GapReason.QUERY_FAILED
    assert not snap.coverage.complete
    assert any(w.code == "coverage_gap" for w in snap.warnings)


def test_collector_role_must_be_visible() -> None:
    snap = normalize_postgresql(rows())
    assert PrincipalRef.of(PrincipalKind.ROLE, "whalefall") in snap.states_by_ref()
