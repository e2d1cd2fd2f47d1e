"""Evaluation semantics of §5 on the worked examples X1–X16 and on engine-specific special cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.unit.domain.classification.fixtures import (
    FACTS,
    FF,
    FG,
    FH,
    MATCH_TABLE,
    X8,
    X9,
    doc,
    priv,
)
from whalefall.domain.classification import (
    EvaluationError,
    Outcome,
    PermissionFacts,
    evaluate,
    evaluate_outcome,
    parse_rule,
)
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import AccountRef, Coverage, CoverageGap, GrantFact, RoleFact
from whalefall.domain.privileges.names import Scope

AS_OF = datetime(2026, 5, 1, tzinfo=UTC)


def make(engine: DbEngine, *, flavor: str | None = None, version: str = "8.0.36", **kw: object) -> PermissionFacts:
    return PermissionFacts(engine=engine, flavor=flavor, server_version=version, account=AccountRef("", "a", "user"),
                           as_of=AS_OF, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("example", "expr", "facts_id", "expected"), MATCH_TABLE,
                         ids=[f"{x}-{f}" for x, _, f, _ in MATCH_TABLE])
def test_worked_examples(example: str, expr: object, facts_id: str, expected: bool) -> None:
    rule = parse_rule(doc(expr))
    outcome = evaluate_outcome(rule, FACTS[facts_id])
    assert evaluate(rule, FACTS[facts_id]) is expected
    assert outcome.matched is expected
    expected_codes = ["facts_incomplete"] if (example, facts_id) == ("X9", "FF") else []
    assert [error.code for error in outcome.errors] == expected_codes


def test_x8_password_expiry_depends_on_as_of_only() -> None:
    rule = parse_rule(doc(X8))
    assert evaluate(rule, FF)
    earlier = FF.at(datetime(2026, 2, 1, tzinfo=UTC))
    assert not evaluate(rule, earlier)
    assert earlier.attributes == FF.attributes and earlier.grants == FF.grants
    assert evaluate(rule, earlier.at(AS_OF))


def test_x9_not_over_a_possibly_hidden_leaf_is_an_error_not_a_match() -> None:
    rule = parse_rule(doc(X9))
    outcome = evaluate_outcome(rule, FF)
    assert not outcome.matched
    assert [(e.code, e.path) for e in outcome.errors] == [("facts_incomplete", "$.expr.args[0]")]
    assert "dw_archive" in outcome.errors[0].message
    assert evaluate_outcome(rule, FG) == Outcome(True, ())


def test_stale_gaps_are_evaluated_on_carried_forward_data() -> None:
    stale = replace(FG, coverage=Coverage(False, (CoverageGap("dw_archive", "offline", AS_OF),)))
    assert evaluate_outcome(parse_rule(doc(X9)), stale) == Outcome(True, ())


def test_gap_in_another_database_does_not_hide_a_filtered_leaf() -> None:
    rule = parse_rule(doc({"op": "NOT", "args": [priv("TRUNCATE", "table", database="crm_live")]}))
    assert evaluate_outcome(rule, FF) == Outcome(True, ())


def test_cluster_level_leaves_never_error() -> None:
    rule = parse_rule(doc({"op": "NOT", "args": [{"fn": "has_role", "args": {"name": "x"}}]}))
    assert evaluate_outcome(rule, FF) == Outcome(True, ())
    global_rule = parse_rule(doc({"op": "NOT", "args": [priv("CREATE", "tablespace")]}))
    assert evaluate_outcome(global_rule, FF) == Outcome(True, ())


def test_sqlserver_role_leaf_can_be_hidden_by_a_database_gap() -> None:
    facts = replace(FH, coverage=Coverage(False, (CoverageGap("Staging", "offline", None),)))
    rule = parse_rule(doc({"fn": "has_role", "args": {"name": "db_owner"}}))
    assert evaluate_outcome(rule, facts).errors[0].code == "facts_incomplete"
    in_other_db = parse_rule(doc({"fn": "has_role", "args": {"name": "db_owner", "database": "FinanceDW"}}))
    assert evaluate_outcome(in_other_db, facts) == Outcome(False, ())


def test_errors_are_reported_for_every_leaf_in_document_order() -> None:
    rule = parse_rule(doc({"op": "OR", "args": [
        {"fn": "is_superuser"}, priv("DELETE", "table"), {"op": "NOT", "args": [priv("SELECT", "schema")]}]}))
    outcome = evaluate_outcome(rule, FF)
    assert outcome == Outcome(False, (
        EvaluationError("facts_incomplete", "$.expr.args[1]", outcome.errors[0].message),
        EvaluationError("facts_incomplete", "$.expr.args[2].args[0]", outcome.errors[1].message),
    ))


def test_usage_at_global_scope_holds_for_every_mysql_account_only() -> None:
    rule = parse_rule(doc(priv("usage", "global")))
    assert evaluate(rule, make(DbEngine.MYSQL))
    assert evaluate(rule, make(DbEngine.MYSQL, flavor="mariadb", version="10.6.1"))
    assert not evaluate(rule, make(DbEngine.POSTGRESQL))
    assert not evaluate(parse_rule(doc(priv("usage", "global", grant_option=True))), make(DbEngine.MYSQL))


def test_public_role_by_engine_and_mariadb_version() -> None:
    rule = parse_rule(doc({"fn": "has_role", "args": {"name": "public"}}))
    assert evaluate(rule, make(DbEngine.POSTGRESQL))
    assert evaluate(rule, make(DbEngine.SQLSERVER))
    assert evaluate(rule, make(DbEngine.ORACLE))
    assert evaluate(rule, make(DbEngine.MYSQL, flavor="mariadb", version="10.11.2-MariaDB"))
    assert not evaluate(rule, make(DbEngine.MYSQL, flavor="mariadb", version="10.6.9-MariaDB"))
    assert not evaluate(rule, make(DbEngine.MYSQL, flavor="mysql"))


def test_mysql_role_name_without_host_and_mariadb_bare_roles() -> None:
    rule = parse_rule(doc({"fn": "has_role", "args": {"name": "ops"}}))
    assert evaluate(rule, make(DbEngine.MYSQL, roles=(RoleFact(name="ops@%"),)))
    assert not evaluate(rule, make(DbEngine.MYSQL, roles=(RoleFact(name="ops@localhost"),)))
    assert evaluate(rule, make(DbEngine.MYSQL, flavor="mariadb", version="10.6.1", roles=(RoleFact(name="ops"),)))
    assert not evaluate(rule, make(DbEngine.POSTGRESQL, roles=(RoleFact(name="ops@%"),)))


def test_server_roles_never_match_a_database_filter_and_indirect_roles_need_via_roles() -> None:
    facts = make(DbEngine.SQLSERVER, roles=(RoleFact(name="sysadmin"),
                                            RoleFact(name="db_owner", database="A", direct=False, path=("x", "y"))))
    assert not evaluate(parse_rule(doc({"fn": "has_role", "args": {"name": "sysadmin", "database": "A"}})), facts)
    assert not evaluate(parse_rule(doc({"fn": "has_role", "args": {"name": "db_owner"}})), facts)
    assert evaluate(parse_rule(doc({"fn": "has_role", "args": {"name": "db_owner", "via_roles": True}})), facts)


def test_mariadb_binlog_monitor_and_replication_client_are_one_privilege() -> None:
    facts = make(DbEngine.MYSQL, flavor="mariadb", version="10.11.2",
                 grants=(GrantFact(privilege="BINLOG MONITOR", scope=Scope.GLOBAL),))
    assert evaluate(parse_rule(doc(priv("replication client", "global"))), facts)
    assert evaluate(parse_rule(doc(priv("REPLICATION REPLICA", "global"))), make(
        DbEngine.MYSQL, grants=(GrantFact(privilege="REPLICATION SLAVE", scope=Scope.GLOBAL),)))


@pytest.mark.parametrize(("deny", "grant", "blocked"), [
    ((Scope.DATABASE, "D", ()), (Scope.TABLE, "D", ("s", "t")), True),
    ((Scope.DATABASE, "D", ("USER", "x")), (Scope.TABLE, "D", ("s", "t")), False),
    ((Scope.DATABASE, "E", ()), (Scope.TABLE, "D", ("s", "t")), False),
    ((Scope.SCHEMA, "D", ("s",)), (Scope.TABLE, "D", ("s", "t")), True),
    ((Scope.SCHEMA, "D", ("s",)), (Scope.COLUMN, "D", ("s", "t", "c")), True),
    ((Scope.SCHEMA, "D", ("z",)), (Scope.TABLE, "D", ("s", "t")), False),
    ((Scope.TABLE, "D", ("s", "t")), (Scope.TABLE, "D", ("s", "t")), True),
    ((Scope.TABLE, "D", ("s", "t")), (Scope.COLUMN, "D", ("s", "t", "c")), False),
    ((Scope.GLOBAL, None, ()), (Scope.GLOBAL, None, ()), True),
    ((Scope.DATABASE, "D", ()), (Scope.GLOBAL, None, ()), False),
])
def test_deny_containment(deny: tuple[Scope, str | None, tuple[str, ...]],
                          grant: tuple[Scope, str | None, tuple[str, ...]], blocked: bool) -> None:
    facts = make(DbEngine.SQLSERVER, grants=(
        GrantFact(privilege="UPDATE", scope=deny[0], database=deny[1], object=deny[2], effect="deny", source="role",
                  via="r"),
        GrantFact(privilege="UPDATE", scope=grant[0], database=grant[1], object=grant[2]),
    ))
    rule = parse_rule(doc(priv("UPDATE", grant[0].value)))
    assert evaluate(rule, facts) is not blocked


def test_denies_of_other_privileges_do_not_block() -> None:
    facts = make(DbEngine.SQLSERVER, grants=(
        GrantFact(privilege="DELETE", scope=Scope.DATABASE, database="D", effect="deny"),
        GrantFact(privilege="UPDATE", scope=Scope.TABLE, database="D", object=("s", "t")),
    ))
    assert evaluate(parse_rule(doc(priv("UPDATE", "table", database="D", object="s.t"))), facts)


def test_public_grants_need_via_roles_and_grant_option_is_checked() -> None:
    facts = make(DbEngine.POSTGRESQL, grants=(
        GrantFact(privilege="CONNECT", scope=Scope.DATABASE, database="app", source="public"),
        GrantFact(privilege="CREATE", scope=Scope.DATABASE, database="app", grant_option=True),
    ))
    assert not evaluate(parse_rule(doc(priv("CONNECT", "database"))), facts)
    assert evaluate(parse_rule(doc(priv("CONNECT", "database", via_roles=True))), facts)
    assert evaluate(parse_rule(doc(priv("CREATE", "database", grant_option=True))), facts)
    assert evaluate(parse_rule(doc(priv("TEMP", "database", database="app"))), replace(facts, grants=(
        GrantFact(privilege="TEMPORARY", scope=Scope.DATABASE, database="app"),)))


def test_db_type_in_flavors() -> None:
    mariadb_only = parse_rule(doc({"fn": "db_type_in", "args": {"types": ["mariadb"]}}))
    mysql = parse_rule(doc({"fn": "db_type_in", "args": {"types": ["mysql"]}}))
    maria = make(DbEngine.MYSQL, flavor="mariadb", version="10.6.1")
    assert evaluate(mariadb_only, maria) and evaluate(mysql, maria)
    assert not evaluate(mariadb_only, make(DbEngine.MYSQL, flavor="mysql"))
    assert evaluate(mysql, make(DbEngine.MYSQL, flavor="mysql"))
    assert not evaluate(mysql, make(DbEngine.ORACLE))


def test_capabilities_via_roles() -> None:
    facts = make(DbEngine.MYSQL, capabilities_via_roles=("SUPERUSER",))
    assert not evaluate(parse_rule(doc({"fn": "is_superuser"})), facts)
    assert evaluate(parse_rule(doc({"fn": "is_superuser", "args": {"via_roles": True}})), facts)
    assert evaluate(parse_rule(doc({"fn": "has_capability", "args": {"name": "can_super", "via_roles": True}})),
                    facts)


def test_wrong_argument_types_raise_type_error() -> None:
    with pytest.raises(TypeError):
        evaluate(parse_rule(doc(X8)), {"engine": "mysql"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        evaluate_outcome(doc(X8), FF)  # type: ignore[arg-type]
