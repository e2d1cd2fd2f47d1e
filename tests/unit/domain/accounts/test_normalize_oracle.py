"""Oracle normaliser over hand-built catalog rows (defects 8, 24)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from whalefall.domain.accounts.model import PrincipalKind, PrincipalState
from whalefall.domain.accounts.normalize import CatalogVisibilityError, normalize_oracle
from whalefall.domain.accounts.rows.common import CatalogMeta
from whalefall.domain.accounts.rows.oracle import (
    OracleCatalogRows,
    OracleColPrivRow,
    OraclePwfileUserRow,
    OracleQuotaRow,
    OracleRolePrivRow,
    OracleRoleRow,
    OracleSchemaPrivRow,
    OracleServerRow,
    OracleSysPrivRow,
    OracleTabPrivRow,
    OracleUserRow,
)
from whalefall.domain.instances import InstanceId
from whalefall.domain.privileges.names import Scope


def u(uid: int, name: str, status: str = "OPEN", *, maintained: bool = False, auth: str = "PASSWORD"
      ) -> OracleUserRow:
    return OracleUserRow(username=name, user_id=uid, account_status=status, oracle_maintained=maintained,
                         authentication_type=auth, profile="DEFAULT")


def rows(collector: str = "WHALEFALL") -> OracleCatalogRows:
    return OracleCatalogRows(
        meta=CatalogMeta(instance_id=InstanceId(4), observed_at=datetime(2025, 4, 1, tzinfo=UTC), query_count=9,
                         collector=collector),
        server=OracleServerRow(version="19.0.0.0.0", container="PDB1"),
        users=(
            u(0, "SYS", maintained=True), u(9, "SYSTEM", maintained=True), u(22, "CTXSYS", maintained=True),
            u(100, "HR"), u(101, "svc_lower"), u(102, "L1", "LOCKED"), u(103, "L2", "LOCKED(TIMED)"),
            u(104, "L3", "EXPIRED & LOCKED"), u(105, "G1", "EXPIRED(GRACE)"), u(106, "R1", "OPEN & IN ROLLOVER"),
            u(107, "SCHEMA_ONLY", auth="NONE"), u(108, "WHALEFALL"),
        ),
        roles=(OracleRoleRow(role="DBA", authentication_type="NONE", oracle_maintained=True),
               OracleRoleRow(role="APP_ROLE", authentication_type="PASSWORD", oracle_maintained=False),
               OracleRoleRow(role="PUBLIC", authentication_type="NONE", oracle_maintained=True)),
        role_privs=(OracleRolePrivRow(grantee="HR", granted_role="APP_ROLE", default_role=True, delegate_option=True),
                    OracleRolePrivRow(grantee="SYSTEM", granted_role="DBA", admin_option=True, default_role=True),
                    OracleRolePrivRow(grantee="PUBLIC", granted_role="APP_ROLE")),
        sys_privs=(OracleSysPrivRow(grantee="SYSTEM", privilege="UNLIMITED TABLESPACE", admin_option=True),
                   OracleSysPrivRow(grantee="WHALEFALL", privilege="CREATE SESSION")),
        tab_privs=(
            OracleTabPrivRow(grantee="DBA", owner="SYS", table_name="DBA_USERS", privilege="SELECT", type="VIEW"),
            OracleTabPrivRow(grantee="PUBLIC", owner="SYS", table_name="DUAL", privilege="SELECT", type="TABLE"),
            OracleTabPrivRow(grantee="PUBLIC", owner="HR", table_name="DEPTS", privilege="SELECT", type="TABLE"),
            OracleTabPrivRow(grantee="svc_lower", owner="HR", table_name="EMP", privilege="SELECT",
                             grantable=True, type="TABLE", grantor="HR"),
            OracleTabPrivRow(grantee="APP_ROLE", owner="HR", table_name="PAYROLL_PKG", privilege="EXECUTE",
                             type="PACKAGE"),
            OracleTabPrivRow(grantee="HR", owner="SYS", table_name="DATA_PUMP_DIR", privilege="READ",
                             type="DIRECTORY"),
        ),
        col_privs=(OracleColPrivRow(grantee="svc_lower", owner="HR", table_name="EMP", column_name="SALARY",
                                    privilege="UPDATE"),),
        quotas=(OracleQuotaRow(tablespace_name="USERS", username="HR", max_bytes=-1),
                OracleQuotaRow(tablespace_name="DATA", username="svc_lower", max_bytes=10_485_760)),
        pwfile_users=(OraclePwfileUserRow(username="SYS", sysdba=True, sysoper=True),),
        schema_privs=(OracleSchemaPrivRow(grantee="svc_lower", privilege="SELECT ANY TABLE", schema="HR"),),
    )


def states() -> dict[str, PrincipalState]:
    return {s.ref.key: s for s in normalize_oracle(rows()).principals}


@pytest.mark.parametrize(("name", "locked", "expired", "grace"), [
    ("HR", False, False, False), ("L1", True, False, False), ("L2", True, False, False),
    ("L3", True, True, False), ("G1", False, False, True), ("R1", False, False, False),
])
def test_status_tokens(name: str, locked: bool, expired: bool, grace: bool) -> None:
    attributes = states()[name].attributes
    assert (attributes["locked"], attributes["password_expired"], attributes["password_in_grace"]) == (
        locked, expired, grace)
    assert isinstance(attributes["account_status"], str)


def test_raw_status_and_lock_reasons_are_kept() -> None:
    attributes = states()["L3"].attributes
    assert attributes["account_status"] == "EXPIRED & LOCKED"
    assert attributes["lock_reasons"] == ("LOCKED",)


def test_quoted_lower_case_user_keeps_its_name() -> None:
    svc = states()["svc_lower"]
    grants = {(g.privilege, g.scope, g.object): g for g in svc.grants}
    assert grants[("SELECT", Scope.TABLE, ("HR", "EMP"))].grant_option is True
    assert ("UPDATE", Scope.COLUMN, ("HR", "EMP", "SALARY")) in grants
    assert ("QUOTA", Scope.TABLESPACE, ("DATA",)) in grants
    assert ("SELECT ANY TABLE", Scope.SCHEMA, ("HR",)) in grants


def test_schema_only_accounts_cannot_log_in() -> None:
    assert states()["SCHEMA_ONLY"].attributes["login_capable"] is False
    assert states()["HR"].attributes["login_capable"] is True


def test_roles_edges_and_volume_control() -> None:
    by_key = states()
    assert by_key["APP_ROLE"].kind is PrincipalKind.ROLE
    assert by_key["APP_ROLE"].is_account is True
    assert by_key["DBA"].grants == ()                                   # Oracle-maintained role: no object grants
    public = by_key["PUBLIC"]
    assert [(g.object, g.privilege) for g in public.grants] == [(("HR", "DEPTS"), "SELECT")]
    assert [e.role.key for e in public.memberships] == ["APP_ROLE"]
    (hr_edge,) = by_key["HR"].memberships
    assert (hr_edge.default, hr_edge.delegate_option, hr_edge.admin_option) == (True, True, False)
    hr = {(g.privilege, g.scope, g.object) for g in by_key["HR"].grants}
    assert ("QUOTA UNLIMITED", Scope.TABLESPACE, ("USERS",)) in hr
    assert ("READ", Scope.TABLE, ("SYS", "DATA_PUMP_DIR")) in hr
    package = by_key["APP_ROLE"].grants[0]
    assert (package.scope, package.object_kind) == (Scope.ROUTINE, "package")


def test_system_and_administrative_privileges() -> None:
    by_key = states()
    system = {g.privilege: g for g in by_key["SYSTEM"].grants}
    assert system["UNLIMITED TABLESPACE"].grant_option is True
    assert {g.privilege for g in by_key["SYS"].grants} == {"SYSDBA", "SYSOPER"}
    assert by_key["SYS"].attributes["stable_id"] == "0"


def test_collector_must_be_a_user() -> None:
    with pytest.raises(CatalogVisibilityError):
        normalize_oracle(rows(collector="whalefall"))     # names are exact: WHALEFALL ≠ whalefall
