"""SQL Server normaliser over hand-built catalog rows (defects 9, 10, 28)."""

from __future__ import annotations

from datetime import UTC, datetime

from whalefall.domain.accounts.model import (
    GapReason,
    GrantEffect,
    InstanceSnapshot,
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
)
from whalefall.domain.accounts.normalize import normalize_sqlserver
from whalefall.domain.accounts.rows.common import CatalogMeta, DatabaseFailure
from whalefall.domain.accounts.rows.sqlserver import (
    SqlServerCatalogRows,
    SqlServerDatabasePermissionRow,
    SqlServerDatabasePrincipalRow,
    SqlServerDatabaseRow,
    SqlServerDatabaseRows,
    SqlServerPrincipalRow,
    SqlServerRoleMemberRow,
    SqlServerServerPermissionRow,
    SqlServerServerRow,
)
from whalefall.domain.instances import InstanceId
from whalefall.domain.privileges.names import Scope

SA, SVC, ETL, COLL, DENIED = b"\x01", b"\x01\x05\xaa", b"\x02\x10", b"\x03\x33", b"\x04\x44"
OBRIEN = "O'Brien]Data"


def login(pid: int, name: str, sid: bytes, typ: str = "S", *, is_disabled: bool = False,
          is_locked: bool | None = None, is_expired: bool | None = None,
          is_must_change: bool | None = None) -> SqlServerPrincipalRow:
    desc = {"S": "SQL_LOGIN", "U": "WINDOWS_LOGIN"}[typ]
    return SqlServerPrincipalRow(principal_id=pid, sid=sid, name=name, type=typ, type_desc=desc,
                                 is_disabled=is_disabled, is_locked=is_locked, is_expired=is_expired,
                                 is_must_change=is_must_change)


def dbp(pid: int, name: str, sid: bytes | None, typ: str = "S", auth: str | None = "INSTANCE",
        fixed: bool = False) -> SqlServerDatabasePrincipalRow:
    return SqlServerDatabasePrincipalRow(principal_id=pid, name=name, type=typ, sid=sid, authentication_type=auth,
                                         is_fixed_role=fixed)


def perm(klass: int, grantee: int, name: str, state: str = "G", **kw: object) -> SqlServerDatabasePermissionRow:
    desc = {0: "DATABASE", 1: "OBJECT_OR_COLUMN", 3: "SCHEMA", 4: "DATABASE_PRINCIPAL", 25: "CERTIFICATE"}[klass]
    return SqlServerDatabasePermissionRow(class_=klass, class_desc=desc, major_id=int(str(kw.pop("major", 0))),
                                          minor_id=int(str(kw.pop("minor", 0))), grantee_principal_id=grantee,
                                          permission_name=name, state=state,
                                          **{k: str(v) for k, v in kw.items()})


def server_perm(grantee: int, name: str, state: str = "G", klass: int = 100, major: int = 0
                ) -> SqlServerServerPermissionRow:
    desc = {100: "SERVER", 101: "SERVER_PRINCIPAL", 108: "AVAILABILITY GROUP"}[klass]
    return SqlServerServerPermissionRow(class_=klass, class_desc=desc, major_id=major, minor_id=0,
                                        grantee_principal_id=grantee, grantor_principal_id=1,
                                        permission_name=name, state=state)


def database(did: int, name: str, owner: bytes, state: int = 0, access: bool = True,
             containment: int = 0) -> SqlServerDatabaseRow:
    return SqlServerDatabaseRow(database_id=did, name=name, owner_sid=owner, state=state,
                                state_desc="ONLINE" if state == 0 else "OFFLINE", has_dbaccess=access,
                                containment=containment)


def rows() -> SqlServerCatalogRows:
    return SqlServerCatalogRows(
        meta=CatalogMeta(instance_id=InstanceId(9), observed_at=datetime(2025, 3, 1, tzinfo=UTC), query_count=12,
                         collector="whalefall_collector"),
        server=SqlServerServerRow(product_version="16.0.4135.4", collation="Latin1_General_CI_AS"),
        principals=(
            login(1, "sa", SA, is_locked=False, is_expired=False, is_must_change=True),
            login(259, "CORP\\svc_batch", SVC, "U"),
            login(260, "etl_login", ETL),
            login(261, "whalefall_collector", COLL),
            login(262, "denied_login", DENIED, is_disabled=True),
            SqlServerPrincipalRow(principal_id=2, sid=b"\x02", name="public", type="R", type_desc="SERVER_ROLE"),
            SqlServerPrincipalRow(principal_id=3, sid=b"\x03", name="sysadmin", type="R", type_desc="SERVER_ROLE",
                                  is_fixed_role=True),
        ),
        server_role_members=(SqlServerRoleMemberRow(role_principal_id=3, member_principal_id=260),),
        server_permissions=(
            server_perm(261, "VIEW ANY DEFINITION", "W"),
            server_perm(262, "CONNECT SQL", "D"),
            server_perm(260, "IMPERSONATE", klass=101, major=1),
            server_perm(2, "VIEW ANY DATABASE"),
            server_perm(260, "CONNECT", klass=108, major=65536),
        ),
        databases=(
            database(1, "master", SA), database(5, "FinanceDW", ETL), database(6, OBRIEN, SA, containment=1),
            database(7, "Offline_DB", SA, state=6), database(8, "NoAccess", SA, access=False),
            database(9, "Broken", SA),
        ),
        database_rows=(
            SqlServerDatabaseRows(database="master", principals=(dbp(1, "dbo", SA), dbp(3, "sys", None))),
            SqlServerDatabaseRows(
                database="FinanceDW",
                principals=(
                    dbp(1, "dbo", ETL), dbp(5, "svc_report", SVC), dbp(6, "orphan", b"\x09\x09"),
                    dbp(7, "etl_login", b"\x07\x07"),      # same name as a login, different SID
                    dbp(8, "nologin_user", b"\x08", auth="NONE"),
                    dbp(0, "public", None, "R", auth=None),
                    dbp(16384, "db_owner", b"\x01\x05", "R", auth=None, fixed=True),
                    dbp(16390, "db_datareader", b"\x01\x06", "R", auth=None, fixed=True),
                    dbp(16400, "rpt_readers", b"\x01\x07", "R", auth=None),
                ),
                role_members=(SqlServerRoleMemberRow(role_principal_id=16400, member_principal_id=5),
                              SqlServerRoleMemberRow(role_principal_id=16390, member_principal_id=6)),
                permissions=(
                    perm(1, 16400, "SELECT", "W", major=901, schema_name="rpt", object_name="Invoices",
                         object_type="U "),
                    perm(1, 5, "SELECT", "D", major=901, schema_name="rpt", object_name="Invoices", object_type="U"),
                    perm(1, 5, "UPDATE", major=901, minor=3, schema_name="rpt", object_name="Invoices",
                         object_type="U", column_name="Amount"),
                    perm(1, 5, "EXECUTE", major=902, schema_name="rpt", object_name="usp_close", object_type="P"),
                    perm(0, 5, "CONNECT"),
                    perm(3, 16400, "SELECT", major=5, schema_name="rpt"),
                    perm(4, 5, "IMPERSONATE", major=6),
                    perm(25, 5, "CONTROL", major=77, securable_name="c1"),
                ),
            ),
            SqlServerDatabaseRows(database=OBRIEN, principals=(dbp(1, "dbo", SA), dbp(5, "c_user", b"\x05\x05",
                                                                                     auth="DATABASE"))),
        ),
        failed_databases=(DatabaseFailure(database="Broken", connect_failed=False, detail="error 916"),),
    )


def by_key(snapshot: InstanceSnapshot) -> dict[tuple[str, str], PrincipalState]:
    return {(s.ref.namespace, s.ref.key): s for s in snapshot.principals}


def test_database_users_attach_to_logins_by_sid_only() -> None:
    states = by_key(normalize_sqlserver(rows()))
    svc = states[("", "CORP\\svc_batch")]
    assert svc.attributes["db_user_mappings"] == {"FinanceDW": "svc_report"}
    assert svc.attributes["stable_id"] == "0x0105AA"
    namesake = states[("FinanceDW", "etl_login")]       # never attached by name
    assert (namesake.kind, namesake.is_account, namesake.attributes["orphaned"]) == (PrincipalKind.DB_USER,
                                                                                      False, True)
    orphan = states[("FinanceDW", "orphan")]
    assert orphan.attributes["orphaned"] is True
    assert [e.role.key for e in orphan.memberships] == ["db_datareader"]
    assert states[("FinanceDW", "nologin_user")].attributes["orphaned"] is False
    assert ("master", "sys") not in states


def test_grants_use_names_from_their_own_database() -> None:
    states = by_key(normalize_sqlserver(rows()))
    readers = states[("FinanceDW", "rpt_readers")]
    grants = {(g.privilege, g.scope, g.object): g for g in readers.grants}
    invoices = grants[("SELECT", Scope.TABLE, ("FinanceDW", "rpt", "Invoices"))]
    assert (invoices.grant_option, invoices.effect, invoices.object_kind) == (True, GrantEffect.GRANT, "table")
    assert ("SELECT", Scope.SCHEMA, ("FinanceDW", "rpt")) in grants
    svc = {(g.privilege, g.scope, g.object, g.effect) for g in states[("", "CORP\\svc_batch")].grants}
    assert ("SELECT", Scope.TABLE, ("FinanceDW", "rpt", "Invoices"), GrantEffect.DENY) in svc
    assert ("UPDATE", Scope.COLUMN, ("FinanceDW", "rpt", "Invoices", "Amount"), GrantEffect.GRANT) in svc
    assert ("EXECUTE", Scope.ROUTINE, ("FinanceDW", "rpt", "usp_close"), GrantEffect.GRANT) in svc
    assert ("CONNECT", Scope.DATABASE, ("FinanceDW",), GrantEffect.GRANT) in svc
    assert ("IMPERSONATE", Scope.DATABASE, ("FinanceDW", "USER", "orphan"), GrantEffect.GRANT) in svc
    assert ("CONTROL", Scope.DATABASE, ("FinanceDW", "CERTIFICATE", "c1"), GrantEffect.GRANT) in svc


def test_database_owner_login_gets_the_implicit_db_owner_edge() -> None:
    states = by_key(normalize_sqlserver(rows()))
    etl = states[("", "etl_login")]
    edges = {(e.role.namespace, e.role.key): e for e in etl.memberships}
    assert edges[("FinanceDW", "db_owner")].implicit is True
    assert edges[("", "sysadmin")].implicit is False
    assert etl.attributes["db_user_mappings"] == {"FinanceDW": "dbo"}


def test_server_permissions_states_and_lock_reasons() -> None:
    states = by_key(normalize_sqlserver(rows()))
    collector = states[("", "whalefall_collector")].grants[0]
    assert (collector.privilege, collector.grant_option) == ("VIEW ANY DEFINITION", True)
    denied = states[("", "denied_login")]
    assert denied.attributes["locked"] is True
    assert denied.attributes["lock_reasons"] == ("disabled", "connect_denied")
    assert denied.grants[0].effect is GrantEffect.DENY
    etl = {(g.privilege, g.object) for g in states[("", "etl_login")].grants}
    assert ("IMPERSONATE", ("LOGIN", "sa")) in etl
    assert ("CONNECT", ("AVAILABILITY GROUP", "#65536")) in etl
    assert states[("", "sa")].attributes["password_expired"] is True
    public = states[("", "PUBLIC")]
    assert (public.kind, public.grants[0].privilege) == (PrincipalKind.PUBLIC, "VIEW ANY DATABASE")


def test_quoted_database_name_and_contained_users() -> None:
    states = by_key(normalize_sqlserver(rows()))
    contained = states[(OBRIEN, "c_user")]
    assert (contained.kind, contained.is_account, contained.attributes["login_capable"]) == (
        PrincipalKind.DB_USER, True, True)


def test_unreadable_databases_become_gaps() -> None:
    snap = normalize_sqlserver(rows())
    gaps = {g.database: g.reason for g in snap.coverage.gaps}
    assert gaps == {"Offline_DB": GapReason.OFFLINE, "NoAccess": GapReason.NOT_ACCESSIBLE,
                    "Broken": GapReason.QUERY_FAILED}
    assert all(g.scope is Scope.DATABASE for g in snap.coverage.gaps)
    assert PrincipalRef.of(PrincipalKind.DB_ROLE, "db_owner", "FinanceDW") in snap.states_by_ref()
