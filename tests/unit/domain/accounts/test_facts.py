"""Facts builder (classification.md §2.1-2.3; defects 12, 13 and the MySQL SUPERUSER rule)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from whalefall.domain.accounts.facts import build_all_facts, build_facts
from whalefall.domain.accounts.model import (
    AttrValue,
    Coverage,
    CoverageGap,
    GapReason,
    GrantEffect,
    InstanceSnapshot,
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    PrivilegeGrant,
    RoleMembership,
)
from whalefall.domain.classification import evaluate, explain, parse_rule
from whalefall.domain.instances import DbEngine, Flavor, InstanceId
from whalefall.domain.privileges.facts import PermissionFacts
from whalefall.domain.privileges.names import Scope

AS_OF = datetime(2026, 5, 1, tzinfo=UTC)
Grant = tuple[str, Scope, tuple[str, ...]]


def ref(key: str, kind: PrincipalKind = PrincipalKind.ROLE, namespace: str = "") -> PrincipalRef:
    return PrincipalRef.of(kind, key, namespace)


def state(r: PrincipalRef, *grants: Grant, edges: tuple[RoleMembership, ...] = (), deny: tuple[Grant, ...] = (),
          account: bool = True, **attributes: AttrValue) -> PrincipalState:
    return PrincipalState(
        ref=r, is_account=account, attributes=attributes,
        grants=tuple(PrivilegeGrant(principal=r, privilege=p, scope=s, object=o) for p, s, o in grants)
        + tuple(PrivilegeGrant(principal=r, privilege=p, scope=s, object=o, effect=GrantEffect.DENY)
                for p, s, o in deny),
        memberships=edges)


def snapshot(engine: DbEngine, *states: PrincipalState, flavor: Flavor | None = None,
             settings: dict[str, AttrValue] | None = None, gaps: tuple[CoverageGap, ...] = ()) -> InstanceSnapshot:
    return InstanceSnapshot(instance_id=InstanceId(1), engine=engine, flavor=flavor, server_version="16.3",
                            observed_at=AS_OF, settings=settings or {}, principals=states, coverage=Coverage(gaps))


def rule(expr: dict[str, Any]) -> Any:
    return parse_rule({"version": 4, "expr": expr})


def test_pg_nologin_role_is_not_locked_and_createrole_grants_admin() -> None:
    role = ref("grp_finance")
    facts = build_facts(snapshot(DbEngine.POSTGRESQL, state(role, login_capable=False, locked=False,
                                                            rolcreaterole=True, rolinherit=True)),
                        role, as_of=AS_OF)
    assert facts.capabilities == ("CREATEROLE", "GRANT_ADMIN", "INHERIT")
    assert "LOCKED" not in facts.capabilities and "LOGIN" not in facts.capabilities
    x7 = rule({"op": "AND", "args": [{"fn": "has_capability", "args": {"name": "can_create_role"}},
                                     {"op": "NOT", "args": [{"fn": "has_capability", "args": {"name": "LOGIN"}}]}]})
    assert evaluate(x7, facts)


def test_pg_valid_until_expires_at_as_of_only() -> None:
    analyst = ref("analyst_x")
    snap = snapshot(DbEngine.POSTGRESQL, state(analyst, login_capable=True, rolinherit=True,
                                               valid_until="2026-03-01T00:00:00Z"))
    facts = build_facts(snap, analyst, as_of=AS_OF)
    assert facts.capabilities == ("INHERIT", "LOGIN", "PASSWORD_EXPIRED")
    earlier = facts.at(datetime(2026, 2, 1, tzinfo=UTC))
    assert "PASSWORD_EXPIRED" not in earlier.capabilities
    assert build_facts(snap, analyst, as_of=datetime(2026, 2, 1, tzinfo=UTC)).capabilities == ("INHERIT", "LOGIN")


def test_mysql_system_user_is_superuser_but_dynamic_admin_privileges_are_not() -> None:
    admin = ref("admin@%", PrincipalKind.USER)
    backup = ref("backup@%", PrincipalKind.USER)
    snap = snapshot(DbEngine.MYSQL,
                    state(admin, ("SYSTEM_USER", Scope.GLOBAL, ()), login_capable=True, host="%"),
                    state(backup, ("BACKUP_ADMIN", Scope.GLOBAL, ()), ("BINLOG_ADMIN", Scope.GLOBAL, ()),
                          ("CONNECTION_ADMIN", Scope.GLOBAL, ()), login_capable=True, host="%"),
                    flavor=Flavor.MYSQL)
    facts = build_all_facts(snap, as_of=AS_OF)
    assert facts[admin].capabilities == ("ANY_HOST", "GRANT_ADMIN", "LOGIN", "SUPERUSER")
    assert facts[admin].capability_reasons["SUPERUSER"][0].detail == "SYSTEM_USER"
    assert "SUPERUSER" not in facts[backup].capabilities
    assert "GRANT_ADMIN" not in facts[backup].capabilities


def test_mysql_super_through_a_role_is_a_via_role_capability_with_its_path() -> None:
    user, role = ref("etl@10.%", PrincipalKind.USER), ref("dba_role@%")
    snap = snapshot(DbEngine.MYSQL,
                    state(user, ("DELETE", Scope.DATABASE, ("inventory",)), login_capable=True, host="10.%",
                          edges=(RoleMembership(member=user, role=role, default=True),)),
                    state(role, ("SUPER", Scope.GLOBAL, ()), account=True), flavor=Flavor.MYSQL)
    facts = build_facts(snap, user, as_of=AS_OF)
    assert "SUPERUSER" not in facts.capabilities
    assert facts.capabilities_via_roles == ("GRANT_ADMIN", "SUPERUSER")
    assert facts.capability_reasons["SUPERUSER"][0].path == ("dba_role@%",)
    assert [(r.name, r.direct, r.mode) for r in facts.roles] == [("dba_role@%", True, "default")]
    super_grant = next(g for g in facts.grants if g.privilege == "SUPER")
    assert (super_grant.source, super_grant.via, super_grant.path) == ("role", "dba_role@%", ("dba_role@%",))
    delete = next(g for g in facts.grants if g.privilege == "DELETE")
    assert (delete.database, delete.object, delete.source) == ("inventory", (), "direct")
    assert evaluate(rule({"fn": "is_superuser", "args": {"via_roles": True}}), facts)
    assert not evaluate(rule({"fn": "is_superuser"}), facts)


def test_mysql_password_lifetime_uses_the_instance_default() -> None:
    user = ref("app@%", PrincipalKind.USER)
    snap = snapshot(DbEngine.MYSQL, state(user, login_capable=True, host="%",
                                          password_changed_at="2026-01-01T00:00:00Z"),
                    flavor=Flavor.MYSQL, settings={"default_password_lifetime": 90})
    facts = build_facts(snap, user, as_of=AS_OF)
    assert facts.attributes["default_password_lifetime_days"] == 90
    assert "PASSWORD_EXPIRED" in facts.capabilities
    assert "PASSWORD_EXPIRED" not in facts.at(datetime(2026, 3, 1, tzinfo=UTC)).capabilities


def test_oracle_locked_status_and_login_needs_create_session() -> None:
    batch, app, ops = ref("HR_BATCH", PrincipalKind.USER), ref("APP_OWNER", PrincipalKind.USER), ref("BATCH_OPS")
    snap = snapshot(DbEngine.ORACLE,
                    state(batch, ("DROP ANY TABLE", Scope.GLOBAL, ()), login_capable=True, locked=True,
                          lock_reasons=("LOCKED(TIMED)",), password_expired=True,
                          edges=(RoleMembership(member=batch, role=ops, default=True),)),
                    state(ops, ("CREATE SESSION", Scope.GLOBAL, ()), account=True),
                    state(app, login_capable=True))
    facts = build_all_facts(snap, as_of=AS_OF)
    assert facts[batch].capabilities == ("LOCKED", "LOGIN", "PASSWORD_EXPIRED")
    assert facts[app].capabilities == ()
    x14 = rule({"op": "AND", "args": [{"fn": "db_type_in", "args": {"types": ["oracle"]}},
                                      {"fn": "has_capability", "args": {"name": "PASSWORD_EXPIRED"}},
                                      {"fn": "has_capability", "args": {"name": "LOGIN"}}]})
    assert evaluate(x14, facts[batch]) and not evaluate(x14, facts[app])


def test_pg_set_role_path_and_never_observed_gap() -> None:
    svc, writers = ref("svc_ledger"), ref("finance_writers")
    snap = snapshot(DbEngine.POSTGRESQL,
                    state(svc, ("TRIGGER", Scope.TABLE, ("crm_live", "billing", "invoice_lines")),
                          login_capable=True, rolinherit=True,
                          edges=(RoleMembership(member=svc, role=writers, inherit=False, set=True),)),
                    state(writers, ("TRUNCATE", Scope.TABLE, ("crm_live", "public", "journal"))),
                    gaps=(CoverageGap(scope=Scope.SCHEMA, database="dw_archive", reason=GapReason.CONNECT_FAILED),))
    facts = build_facts(snap, svc, as_of=AS_OF)
    assert [(r.name, r.mode) for r in facts.roles] == [("finance_writers", "set_role")]
    x6 = {"fn": "has_privilege", "args": {"name": "TRUNCATE", "scope": "table", "database": "crm_live",
                                          "object": "public.journal", "via_roles": True}}
    assert evaluate(rule(x6), facts)
    assert facts.coverage.complete is False and facts.blind_databases() == ("dw_archive",)
    x9 = rule({"op": "NOT", "args": [{"fn": "has_privilege", "args": {"name": "TRUNCATE", "scope": "table",
                                                                      "database": "dw_archive"}}]})
    assert not evaluate(x9, facts)
    assert PermissionFacts.from_json(facts.to_json()) == facts


def test_sqlserver_deny_blocks_a_role_grant_and_sysadmin_member_is_superuser() -> None:
    login, writers, sysadmin = (ref("CORP\\svc_batch", PrincipalKind.LOGIN),
                                ref("rpt_writers", PrincipalKind.DB_ROLE, "FinanceDW"),
                                ref("sysadmin", PrincipalKind.SERVER_ROLE))
    snap = snapshot(DbEngine.SQLSERVER,
                    state(login, deny=(("UPDATE", Scope.SCHEMA, ("FinanceDW", "rpt")),), login_capable=True,
                          edges=(RoleMembership(member=login, role=writers),
                                 RoleMembership(member=login, role=sysadmin))),
                    state(writers, ("UPDATE", Scope.TABLE, ("FinanceDW", "rpt", "Invoices")), account=False),
                    state(sysadmin, account=False))
    facts = build_facts(snap, login, as_of=AS_OF)
    assert "SUPERUSER" in facts.capabilities
    writers_fact = next(r for r in facts.roles if r.name == "rpt_writers")
    assert writers_fact.database == "FinanceDW"
    x11 = rule({"fn": "has_privilege", "args": {"name": "UPDATE", "scope": "table", "database": "FinanceDW",
                                                "object": ["rpt", "Invoices"], "via_roles": True}})
    assert not evaluate(x11, facts)
    leaf = explain(x11, facts).tree
    assert leaf.blocked_by
