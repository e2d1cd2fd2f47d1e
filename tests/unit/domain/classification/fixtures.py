"""Worked-example facts FA–FK and rule expressions X1–X18 of classification.md §13."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import (
    AccountRef,
    Coverage,
    CoverageGap,
    GrantFact,
    PermissionFacts,
    Reason,
    RoleFact,
)
from whalefall.domain.privileges.names import Scope

AS_OF = datetime(2026, 5, 1, tzinfo=UTC)
G, D, SC, T, R = Scope.GLOBAL, Scope.DATABASE, Scope.SCHEMA, Scope.TABLE, Scope.ROUTINE


def _facts(engine: DbEngine, version: str, key: str, kind: str = "user", **kw: object) -> PermissionFacts:
    return PermissionFacts(engine=engine, server_version=version, account=AccountRef("", key, kind), as_of=AS_OF,
                           **kw)  # type: ignore[arg-type]


FA = _facts(
    DbEngine.MYSQL, "8.0.36", "etl_loader@10.20.%", flavor="mysql", capabilities=("LOGIN",),
    roles=(RoleFact(name="etl_role@%", mode="default"),),
    grants=(
        GrantFact(privilege="DELETE", scope=D, database="inventory"),
        GrantFact(privilege="EXECUTE", scope=R, database="inventory", object=("refresh_stock",)),
        GrantFact(privilege="BACKUP_ADMIN", scope=G, source="role", via="etl_role@%", path=("etl_role@%",),
                  mode="default"),
        GrantFact(privilege="PROCESS", scope=G, source="role", via="etl_role@%", path=("etl_role@%",),
                  mode="default"),
    ),
)
FB = _facts(
    DbEngine.MYSQL, "8.0.36", "etl_role@%", "role", flavor="mysql",
    grants=(GrantFact(privilege="BACKUP_ADMIN", scope=G), GrantFact(privilege="PROCESS", scope=G)),
)
FC = _facts(
    DbEngine.MYSQL, "10.11.6-MariaDB", "billing_admin@localhost", flavor="mariadb",
    capabilities=("GRANT_ADMIN", "LOGIN"), roles=(RoleFact(name="ops_team", mode="set_role"),),
    grants=(
        GrantFact(privilege="ALTER", scope=D, database="sales\\_%", pattern=True),
        GrantFact(privilege="CREATE USER", scope=G),
    ),
)
FD = _facts(
    DbEngine.POSTGRESQL, "16.3", "svc_ledger", "role", capabilities=("INHERIT", "LOGIN"),
    roles=(RoleFact(name="finance_writers", mode="set_role"),),
    grants=(
        GrantFact(privilege="TRIGGER", scope=T, database="crm_live", object=("billing", "invoice_lines")),
        GrantFact(privilege="TRUNCATE", scope=T, database="crm_live", object=("public", "journal"), source="role",
                  via="finance_writers", path=("finance_writers",), mode="set_role"),
    ),
)
FE = _facts(DbEngine.POSTGRESQL, "16.3", "grp_finance", "role", capabilities=("CREATEROLE", "GRANT_ADMIN", "INHERIT"),
            attributes=MappingProxyType({"login_capable": False, "locked": False}))
FF = _facts(
    DbEngine.POSTGRESQL, "15.6", "analyst_x", "role", capabilities=("INHERIT", "LOGIN", "PASSWORD_EXPIRED"),
    capability_reasons=MappingProxyType({"PASSWORD_EXPIRED": (Reason("attribute", "valid_until passed"),)}),
    attributes=MappingProxyType({"valid_until": "2026-03-01T00:00:00Z", "login_capable": True}),
    roles=(RoleFact(name="pg_read_server_files"),),
    grants=(GrantFact(privilege="REFERENCES", scope=T, database="crm_live", object=("reporting", "kpi")),),
    coverage=Coverage(False, (CoverageGap("dw_archive", "connect_failed", None),)),
)
FG = _facts(DbEngine.POSTGRESQL, "15.6", "analyst_y", "role", capabilities=("INHERIT", "LOGIN"))
FH = _facts(
    DbEngine.SQLSERVER, "15.0.4345.5", "CORP\\svc_batch", "login", capabilities=("LOGIN",),
    roles=(RoleFact(name="processadmin"), RoleFact(name="db_ddladmin", database="FinanceDW"),
           RoleFact(name="rpt_writers", database="FinanceDW")),
    grants=(
        GrantFact(privilege="ALTER ANY USER", scope=D, database="FinanceDW"),
        GrantFact(privilege="UPDATE", scope=SC, database="FinanceDW", object=("rpt",), effect="deny"),
        GrantFact(privilege="UPDATE", scope=T, database="FinanceDW", object=("rpt", "Invoices"), source="role",
                  via="rpt_writers", path=("rpt_writers",), mode="inherit"),
        GrantFact(privilege="ALTER ANY CONNECTION", scope=G, source="role", via="processadmin",
                  path=("processadmin",), mode="inherit", implicit=True),
    ),
)
FI = _facts(DbEngine.SQLSERVER, "15.0.4345.5", "sql_auditor", "login", capabilities=("LOCKED", "LOGIN"),
            attributes=MappingProxyType({"locked": True, "lock_reasons": ["disabled"]}),
            grants=(GrantFact(privilege="VIEW ANY DEFINITION", scope=G),))
FJ = _facts(
    DbEngine.ORACLE, "19.22.0.0.0", "HR_BATCH", capabilities=("LOCKED", "LOGIN", "PASSWORD_EXPIRED"),
    attributes=MappingProxyType({"account_status": "EXPIRED & LOCKED(TIMED)", "password_expired": True,
                                 "locked": True}),
    roles=(RoleFact(name="BATCH_OPS", mode="default"),
           RoleFact(name="EXP_FULL_DATABASE", direct=False, path=("BATCH_OPS", "EXP_FULL_DATABASE"), mode="default")),
    grants=(GrantFact(privilege="DROP ANY TABLE", scope=G),
            GrantFact(privilege="EXECUTE", scope=R, object=("LEDGER", "POST_JOURNAL"))),
)
FK = _facts(DbEngine.ORACLE, "19.22.0.0.0", "APP_OWNER", capabilities=("LOGIN",),
            roles=(RoleFact(name="RESOURCE", mode="default"),),
            grants=(GrantFact(privilege="CREATE ANY PROCEDURE", scope=G),))

FACTS: dict[str, PermissionFacts] = {
    "FA": FA, "FB": FB, "FC": FC, "FD": FD, "FE": FE, "FF": FF, "FG": FG, "FH": FH, "FI": FI, "FJ": FJ, "FK": FK,
}


def doc(expr: object) -> dict[str, object]:
    """Wrap an expression in a version-4 rule document."""
    return {"version": 4, "expr": expr}


def priv(name: str, scope: str, **extra: object) -> dict[str, object]:
    """A has_privilege node."""
    return {"fn": "has_privilege", "args": {"name": name, "scope": scope, **extra}}


X1 = priv("DELETE", "database", database="inventory")
X2 = priv("DELETE", "database", database="Inventory")
X3 = priv("backup_admin", "global")
X3_VIA = priv("backup_admin", "global", via_roles=True)
X4 = {"fn": "has_role", "args": {"name": "etl_role"}}
X4_HOST = {"fn": "has_role", "args": {"name": "etl_role@localhost"}}
X5 = priv("ALTER", "database", database="sales_eu")
X5_PATTERN = priv("ALTER", "database", database="sales\\_%")
X6 = priv("TRUNCATE", "table", database="crm_live", object="public.journal", via_roles=True)
X6_DIRECT = priv("TRUNCATE", "table", database="crm_live", object="public.journal")
X7 = {"op": "AND", "args": [{"fn": "has_capability", "args": {"name": "can_create_role"}},
                            {"op": "NOT", "args": [{"fn": "has_capability", "args": {"name": "LOGIN"}}]}]}
X8 = {"fn": "has_capability", "args": {"name": "password_expired"}}
X9 = {"op": "NOT", "args": [priv("TRUNCATE", "table", database="dw_archive")]}
X10 = priv("  alter   any user ", "DATABASE", database="FinanceDW")
X11 = priv("UPDATE", "table", database="FinanceDW", object=["rpt", "Invoices"], via_roles=True)
X12 = {"fn": "has_role", "args": {"name": "db_ddladmin", "database": "FinanceDW"}}
X12_STAGING = {"fn": "has_role", "args": {"name": "db_ddladmin", "database": "Staging"}}
X12_ANY = {"fn": "has_role", "args": {"name": "db_ddladmin"}}
X13 = {"op": "OR", "args": [
    {"fn": "has_role", "args": {"name": "EXP_FULL_DATABASE", "via_roles": True}},
    {"fn": "has_any_privilege", "args": {"names": ["DROP ANY TABLE", "ALTER SYSTEM"], "scope": "system"}},
]}
X14 = {"op": "AND", "args": [{"fn": "db_type_in", "args": {"types": ["oracle"]}},
                             {"fn": "has_capability", "args": {"name": "PASSWORD_EXPIRED"}},
                             {"fn": "has_capability", "args": {"name": "LOGIN"}}]}
X15 = {"op": "AND", "args": [{"fn": "has_capability", "args": {"name": "LOCKED"}},
                             priv("VIEW ANY DEFINITION", "server")]}
X16 = priv("EXECUTE", "routine", object="LEDGER.POST_JOURNAL", grant_option=True)
X16_PLAIN = priv("EXECUTE", "routine", object="LEDGER.POST_JOURNAL")
X18_PG = priv("TRUNCATE", "table", via_roles=True)
X17_TEXT = (
    '{"version":4.0,"expr":{"op":"or","args":[{"op":"OR","args":[]},{"fn":"has_privilege","args":{"name":"DROP",'
    '"scope":"databse","databse":"inventory"}},{"op":"NOT","args":[{"fn":"is_superuser"},{"fn":"has_role","args":'
    '{"name":" "}}]}]}}'
)

#: (example id, expression, facts id, expected match)
MATCH_TABLE: tuple[tuple[str, object, str, bool], ...] = (
    ("X1", X1, "FA", True), ("X1", X1, "FB", False),
    ("X2", X2, "FA", False),
    ("X3", X3, "FA", False), ("X3", X3, "FB", True), ("X3-via", X3_VIA, "FA", True),
    ("X4", X4, "FA", True), ("X4-host", X4_HOST, "FA", False),
    ("X5", X5, "FC", False), ("X5-pattern", X5_PATTERN, "FC", True),
    ("X6", X6, "FD", True), ("X6-direct", X6_DIRECT, "FD", False),
    ("X7", X7, "FE", True), ("X7", X7, "FD", False),
    ("X8", X8, "FF", True),
    ("X9", X9, "FF", False), ("X9", X9, "FG", True),
    ("X10", X10, "FH", True),
    ("X11", X11, "FH", False),
    ("X12", X12, "FH", True), ("X12-staging", X12_STAGING, "FH", False), ("X12-any", X12_ANY, "FH", True),
    ("X13", X13, "FJ", True), ("X13", X13, "FK", False),
    ("X14", X14, "FJ", True), ("X14", X14, "FK", False), ("X14", X14, "FF", False), ("X14", X14, "FI", False),
    ("X15", X15, "FI", True), ("X15", X15, "FH", False),
    ("X16", X16, "FJ", False), ("X16-plain", X16_PLAIN, "FJ", True),
)
