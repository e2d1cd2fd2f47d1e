"""Account filters: pattern language, defaults and their effect on a snapshot (defects 16, 17)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from whalefall.domain.accounts.filters import AccountFilter, apply_filters, compile_pattern, default_filters
from whalefall.domain.accounts.model import AttrValue, InstanceSnapshot, PrincipalKind, PrincipalRef, PrincipalState
from whalefall.domain.instances import DbEngine, Flavor, InstanceId


def snapshot(engine: DbEngine, *states: PrincipalState, flavor: Flavor | None = None) -> InstanceSnapshot:
    return InstanceSnapshot(instance_id=InstanceId(1), engine=engine, flavor=flavor, server_version="1",
                            observed_at=datetime(2025, 1, 1, tzinfo=UTC), settings={}, principals=states)


def account(kind: PrincipalKind, key: str, **attributes: AttrValue) -> PrincipalState:
    return PrincipalState(ref=PrincipalRef.of(kind, key), is_account=True, attributes=attributes)


def kept(filters: AccountFilter, snap: InstanceSnapshot) -> dict[str, bool]:
    return {s.ref.key: s.is_account for s in apply_filters(snap, filters).snapshot.principals}


@pytest.mark.parametrize(("pattern", "text", "case_sensitive", "matches"), [
    ("pg_*", "pg_monitor", True, True),
    ("pg_*", "pgadmin", True, False),                 # `_` is literal (defect 17)
    ("pg%", "pgadmin", True, True),
    ("r?ot@*", "root@localhost", True, True),
    ("[*]star", "*star", True, True),
    ("[*]star", "xstar", True, False),
    ("NT SERVICE\\*", "nt service\\MSSQLSERVER", False, True),
    ("NT SERVICE\\*", "nt service\\MSSQLSERVER", True, False),
    ("CORP\\svc", "CORP\\svc", True, True),           # backslash is an ordinary character
    ("##*##", "##MS_PolicyEventProcessingLogin##", False, True),
    ("a.b", "aXb", True, False),
])
def test_pattern_language(pattern: str, text: str, case_sensitive: bool, matches: bool) -> None:
    assert (compile_pattern(pattern, case_sensitive=case_sensitive).fullmatch(text) is not None) is matches


def test_postgres_defaults_keep_pgadmin_and_keep_pg_roles_as_nodes() -> None:
    snap = snapshot(DbEngine.POSTGRESQL, account(PrincipalKind.ROLE, "pg_monitor"),
                    account(PrincipalKind.ROLE, "pgadmin"), account(PrincipalKind.ROLE, "postgres"),
                    account(PrincipalKind.ROLE, "rdsadmin"))
    result = apply_filters(snap, default_filters(DbEngine.POSTGRESQL))
    assert {s.ref.key: s.is_account for s in result.snapshot.principals} == {
        "pg_monitor": False, "pgadmin": True, "postgres": True, "rdsadmin": False}
    assert {r.key for r in result.excluded} == {"pg_monitor", "rdsadmin"}


def test_empty_exclude_list_excludes_nothing() -> None:
    snap = snapshot(DbEngine.ORACLE, account(PrincipalKind.USER, ""), account(PrincipalKind.USER, "HR"),
                    account(PrincipalKind.USER, "CTXSYS", oracle_maintained=True))
    assert kept(AccountFilter(engine=DbEngine.ORACLE), snap) == {"": True, "HR": True, "CTXSYS": True}


def test_oracle_maintained_rule_keeps_sys_and_system() -> None:
    snap = snapshot(DbEngine.ORACLE, account(PrincipalKind.USER, "SYS", oracle_maintained=True),
                    account(PrincipalKind.USER, "SYSTEM", oracle_maintained=True),
                    account(PrincipalKind.USER, "CTXSYS", oracle_maintained=True),
                    account(PrincipalKind.ROLE, "DBA", oracle_maintained=True),
                    account(PrincipalKind.USER, "HR", oracle_maintained=False))
    assert kept(default_filters(DbEngine.ORACLE), snap) == {"SYS": True, "SYSTEM": True, "DBA": False, "HR": True}


def test_mysql_user_part_matching_and_defaults() -> None:
    snap = snapshot(DbEngine.MYSQL, account(PrincipalKind.USER, "mysql.sys@localhost"),
                    account(PrincipalKind.USER, "root@localhost"), account(PrincipalKind.USER, "root@%"),
                    account(PrincipalKind.USER, "@localhost"), account(PrincipalKind.USER, "mariadb.sys@localhost"),
                    flavor=Flavor.MARIADB)
    assert kept(default_filters(DbEngine.MYSQL), snap) == {"root@localhost": True, "root@%": True,
                                                           "@localhost": True}
    assert kept(AccountFilter(engine=DbEngine.MYSQL, exclude=("root",)), snap).keys() == {
        "mysql.sys@localhost", "@localhost", "mariadb.sys@localhost"}
    assert "root@%" in kept(AccountFilter(engine=DbEngine.MYSQL, exclude=("root@localhost",)), snap)


def test_sqlserver_defaults_are_case_insensitive() -> None:
    snap = snapshot(DbEngine.SQLSERVER, account(PrincipalKind.LOGIN, "nt service\\SQLWriter"),
                    account(PrincipalKind.LOGIN, "##MS_PolicyTsqlExecutionLogin##"),
                    account(PrincipalKind.LOGIN, "sa"), account(PrincipalKind.LOGIN, "NT AUTHORITY\\SYSTEM"))
    assert kept(default_filters(DbEngine.SQLSERVER), snap) == {"sa": True, "NT AUTHORITY\\SYSTEM": True}


def test_filter_for_another_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="filter for"):
        apply_filters(snapshot(DbEngine.ORACLE), default_filters(DbEngine.MYSQL))
