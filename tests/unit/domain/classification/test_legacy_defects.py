"""Legacy classification defects of §14 that are testable in the pure core (others belong to the application)."""

from __future__ import annotations

import importlib
import itertools
import logging
from dataclasses import replace

import pytest

from tests.unit.domain.classification.fixtures import FA, FACTS, FE, FF, FH, FJ, X9, X13, doc, priv
from whalefall.domain.classification import (
    Match,
    RuleValidationError,
    catalog_for,
    choose_primary,
    classify,
    classify_detailed,
    evaluate,
    evaluate_outcome,
    explain,
    parse_rule,
    validate_rule,
)
from whalefall.domain.classification.assign import ClassificationMeta, RuleRef, auto_matches
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import GrantFact
from whalefall.domain.privileges.names import Scope


def test_4_deterministic_attribution() -> None:
    rules = {12: RuleRef("super", 3), 5: RuleRef("super", 1), 9: RuleRef("super", 2)}
    matched = {rule_id: frozenset({"acct"}) for rule_id in rules}
    plans = [auto_matches({r: matched[r] for r in order}, rules) for order in itertools.permutations(rules)]
    assert all(plan == {("acct", "super"): Match(((5, 1), (9, 2), (12, 3)))} for plan in plans)
    meta = {"super": ClassificationMeta(code="super", priority=100, risk_level=1),
            "other": ClassificationMeta(code="other", priority=100, risk_level=1)}
    assert {choose_primary(list(o), meta) for o in itertools.permutations([("super", "auto"), ("other", "auto")])} \
        == {"other"}


def test_6_sqlserver_database_permissions_match_and_category_words_are_not_privileges() -> None:
    rule = parse_rule(doc(priv("ALTER ANY USER", "database", database="FinanceDW")))
    assert evaluate(rule, FH)
    assert not catalog_for(DbEngine.SQLSERVER).is_known("database")
    warnings = validate_rule(doc(priv("table", "database")), engine=DbEngine.SQLSERVER).warnings
    assert [w.code for w in warnings] == ["privilege_not_in_catalog"]


def test_7_rules_of_an_engine_without_accounts_are_reported() -> None:
    result = classify_detailed({"ora": parse_rule(doc(X13))}, {"FA": FA}, engines={"ora": DbEngine.ORACLE})
    assert result.rules_without_accounts == frozenset({"ora"}) and result.matches == {"ora": frozenset()}


@pytest.mark.parametrize(("document", "code", "path"), [
    (doc({"op": "AND", "args": []}), "args_empty", "$.expr.args"),
    (doc({"op": "NOT", "args": []}), "not_arity", "$.expr.args"),
    (doc({"op": "NOT", "args": [{"fn": "is_superuser"}, {"fn": "is_superuser"}]}), "not_arity", "$.expr.args"),
    ({"version": 4.0, "expr": {"fn": "is_superuser"}}, "version_invalid", "$.version"),
    ({"version": "4", "expr": {"fn": "is_superuser"}}, "version_invalid", "$.version"),
    (doc({"fn": "db_type_in", "args": {"types": []}}), "list_empty", "$.expr.args.types"),
    (doc({"fn": "has_superpowers"}), "fn_invalid", "$.expr.fn"),
    (doc({"fn": "has_role", "args": {"name": "r", "db": "x"}}), "unknown_key", "$.expr.args.db"),
])
def test_8_structural_validation(document: object, code: str, path: str) -> None:
    with pytest.raises(RuleValidationError) as caught:
        parse_rule(document)  # type: ignore[arg-type]
    assert [(e.code, e.path) for e in caught.value.errors] == [(code, path)]


def test_9_global_fail_closed_for_every_child_order() -> None:
    leaves = [{"op": "NOT", "args": [priv("TRUNCATE", "table")]}, {"fn": "has_capability", "args": {"name": "LOGIN"}},
              {"fn": "is_superuser"}]
    for order in itertools.permutations(leaves):
        for op in ("AND", "OR"):
            rule = parse_rule(doc({"op": op, "args": list(order)}))
            assert not evaluate(rule, FF)
            assert classify({"r": rule}, {"FF": FF}) == {"r": frozenset()}
    assert not evaluate(parse_rule(doc(X9)), FF)


def test_10_name_normalisation() -> None:
    facts = replace(FJ, grants=(GrantFact(privilege="DROP ANY TABLE", scope=Scope.GLOBAL),))
    assert evaluate(parse_rule(doc(priv(" drop  any table", "system"))), facts)
    pg = replace(FE, grants=(GrantFact(privilege="TEMPORARY", scope=Scope.DATABASE, database="app"),))
    assert evaluate(parse_rule(doc(priv("TEMP", "database", database="app"))), pg)
    assert evaluate(parse_rule(doc({"fn": "has_capability", "args": {"name": "createRole"}})), FE)


def test_11_database_names_are_exact() -> None:
    assert evaluate(parse_rule(doc(priv("DELETE", "database", database="inventory"))), FA)
    assert not evaluate(parse_rule(doc(priv("DELETE", "database", database="INVENTORY"))), FA)
    assert FA.to_json()["grants"][0]["database"] == "inventory"  # type: ignore[index]


def test_12_postgresql_states() -> None:
    login = parse_rule(doc({"fn": "has_capability", "args": {"name": "can_login"}}))
    locked = parse_rule(doc({"fn": "has_capability", "args": {"name": "LOCKED"}}))
    assert not evaluate(login, FE) and not evaluate(locked, FE)
    assert evaluate(login, FF)
    expired = parse_rule(doc({"fn": "has_capability", "args": {"name": "PASSWORD_EXPIRED"}}))
    assert evaluate(expired, FF) and FF.attributes["valid_until"] == "2026-03-01T00:00:00Z"


def test_13_oracle_locked_capability_is_evaluated() -> None:
    rule = parse_rule(doc({"op": "AND", "args": [{"fn": "db_type_in", "args": {"types": ["oracle"]}},
                                                 {"fn": "has_capability", "args": {"name": "locked"}}]}))
    assert evaluate(rule, FJ) and not evaluate(rule, FACTS["FK"])


def test_14_no_phantom_fields() -> None:
    report = validate_rule(doc({"fn": "is_superuser"}) | {"operator": "OR"})
    assert [(e.code, e.path) for e in report.errors] == [("unknown_key", "$.operator")]
    report = validate_rule(doc({"fn": "is_superuser", "operator": "OR"}))
    assert [(e.code, e.path) for e in report.errors] == [("unknown_key", "$.expr.operator")]


def test_15_equal_expressions_share_a_fingerprint() -> None:
    a = parse_rule(doc({"op": "or", "args": [priv("select", "server")]}) | {"meta": {"x": 1}})
    b = parse_rule(doc({"op": "OR", "args": [priv(" SELECT ", "global")]}))
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != parse_rule(doc({"op": "AND", "args": [priv("SELECT", "global")]})).fingerprint


def test_19_one_evaluation_path() -> None:
    rules = {"r9": parse_rule(doc(X9)), "r13": parse_rule(doc(X13))}
    batch = classify_detailed(rules, FACTS)
    for rule_id, rule in rules.items():
        single = frozenset(k for k, f in FACTS.items() if evaluate(rule, f))
        explained = frozenset(k for k, f in FACTS.items() if explain(rule, f).matched)
        outcomes = frozenset(k for k, f in FACTS.items() if evaluate_outcome(rule, f).matched)
        assert batch.matches[rule_id] == single == explained == outcomes
    missing = classify_detailed(rules, {"ghost": None})
    assert missing.matches == {"r9": frozenset(), "r13": frozenset()}
    assert [e.code for _, e in missing.errors["ghost"]] == ["facts_missing", "facts_missing"]


def test_22_catalog_consistency() -> None:
    for engine in DbEngine:
        catalog = catalog_for(engine)
        categories = catalog.categories()
        assert len(categories) == len(set(categories))
        assert {"LOCKED", "GRANT_ADMIN", "SUPERUSER", "LOGIN"} <= set(catalog.capabilities)
        assert "db_type_in" in catalog.functions
    assert {e.name for e in catalog_for(DbEngine.ORACLE).entries if e.category == "tablespace"} == {
        "QUOTA", "QUOTA UNLIMITED"}


def test_23_explainability_of_true_privilege_leaves() -> None:
    rule = parse_rule(doc({"op": "AND", "args": [priv("TRUNCATE", "table", via_roles=True),
                                                 {"fn": "has_capability", "args": {"name": "LOGIN"}}]}))
    for facts in FACTS.values():
        explanation = explain(rule, facts)
        assert (explanation.tree.value is True) is evaluate(rule, facts)
        leaf = explanation.tree.children[0]
        if leaf.value:
            assert leaf.evidence and all(e.role_path for e in leaf.evidence)  # type: ignore[union-attr]


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_24_no_logging_in_the_hot_path() -> None:
    for name in ("rules", "parser", "evaluator", "batch", "explain", "assign"):
        module = importlib.import_module(f"whalefall.domain.classification.{name}")
        assert "logging" not in vars(module) and "structlog" not in vars(module)
    recorder, root = _Recorder(), logging.getLogger()
    previous = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    try:
        accounts = dict.fromkeys(range(100000), FF)
        rules = {"a": parse_rule(doc(X9)), "b": parse_rule(doc(priv("DELETE", "table")))}
        result = classify_detailed(rules, accounts)
    finally:
        root.removeHandler(recorder)
        root.setLevel(previous)
    assert result.evaluated_pairs == 200_000
    assert sum(len(errors) for errors in result.errors.values()) == 200_000
    assert recorder.records == []
