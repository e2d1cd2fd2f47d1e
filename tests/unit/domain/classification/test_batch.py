"""Batch classification (§7): X18, unavailable facts, index reuse and equivalence with per-account evaluation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.domain.classification.fixtures import FACTS, FF, X10, X13, X18_PG, doc
from tests.unit.domain.classification.strategies import expressions, facts
from whalefall.domain.classification import (
    EvaluationError,
    PermissionFacts,
    Rule,
    build_index,
    classify,
    classify_detailed,
    compile_rules,
    evaluate,
    evaluate_outcome,
    parse_rule,
)
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import FactsError

X18_RULES = {"r-ora": parse_rule(doc(X13)), "r-mss": parse_rule(doc(X10)), "r-pg": parse_rule(doc(X18_PG))}
X18_ENGINES = {"r-ora": DbEngine.ORACLE, "r-mss": DbEngine.SQLSERVER, "r-pg": DbEngine.POSTGRESQL}
X18_FACTS = {key: FACTS[key] for key in ("FD", "FF", "FH", "FI", "FJ", "FK")}


def test_x18_matches_errors_and_pairing() -> None:
    result = classify_detailed(X18_RULES, X18_FACTS, engines=X18_ENGINES)
    assert result.matches == {"r-ora": frozenset({"FJ"}), "r-mss": frozenset({"FH"}), "r-pg": frozenset({"FD"})}
    assert list(result.errors) == ["FF"]
    [(rule_id, error)] = result.errors["FF"]
    assert (rule_id, error.code, error.path) == ("r-pg", "facts_incomplete", "$.expr")
    assert result.evaluated_pairs == 2 + 2 + 2
    assert result.rules_without_accounts == frozenset()
    assert classify(X18_RULES, X18_FACTS, engines=X18_ENGINES) == result.matches


def test_without_engines_every_rule_sees_every_account() -> None:
    result = classify_detailed(X18_RULES, X18_FACTS)
    assert result.evaluated_pairs == 18
    assert result.matches["r-pg"] == frozenset({"FD"})


def test_every_rule_is_a_key_and_rules_without_accounts_are_reported() -> None:
    rules = {1: parse_rule(doc({"fn": "is_superuser"})), 2: parse_rule(doc(X13))}
    result = classify_detailed(rules, {"FD": FACTS["FD"]}, engines={1: DbEngine.POSTGRESQL, 2: DbEngine.ORACLE})
    assert result.matches == {1: frozenset(), 2: frozenset()}
    assert result.rules_without_accounts == frozenset({2})
    assert result.evaluated_pairs == 1


def test_accounts_without_facts_get_an_error_for_every_rule_and_never_abort() -> None:
    accounts: dict[str, PermissionFacts | FactsError | None] = {f"a{i}": FACTS["FJ"] for i in range(999)}
    accounts["lost"] = None
    accounts["bad"] = FactsError("facts_version_unsupported")
    result = classify_detailed({"r": X18_RULES["r-ora"], "s": X18_RULES["r-mss"]}, accounts)
    assert len(result.matches["r"]) == 999
    assert result.errors["lost"] == (("r", EvaluationError("facts_missing", "$", result.errors["lost"][0][1].message)),
                                     ("s", EvaluationError("facts_missing", "$", result.errors["lost"][1][1].message)))
    assert [e.code for _, e in result.errors["bad"]] == ["facts_version_unsupported"] * 2
    assert "lost" not in result.matches["r"]


def test_index_is_reusable_across_rule_sets_and_leaves_are_shared() -> None:
    index = build_index(X18_FACTS)
    first = compile_rules(X18_RULES, engines=X18_ENGINES).run(index)
    twin = compile_rules({"a": X18_RULES["r-ora"], "b": parse_rule(doc({"op": "NOT", "args": [X13]}))})
    assert twin.distinct_leaves == 2
    second = twin.run(index)
    assert first.matches["r-ora"] == second.matches["a"] == frozenset({"FJ"})
    assert second.matches["b"] == frozenset(X18_FACTS) - {"FJ"}
    assert index.size == 6


def test_deny_recheck_in_batch() -> None:
    rule = parse_rule(doc({"fn": "has_privilege", "args": {"name": "UPDATE", "scope": "table",
                                                           "database": "FinanceDW", "via_roles": True}}))
    assert classify({"r": rule}, {"FH": FACTS["FH"]}) == {"r": frozenset()}


def test_facts_are_never_patched_with_the_rules_engine() -> None:
    oracle_rule = parse_rule(doc({"fn": "db_type_in", "args": {"types": ["oracle"]}}))
    assert classify({"r": oracle_rule}, {"FF": FF}, engines={"r": DbEngine.ORACLE}) == {"r": frozenset()}
    assert classify({"r": oracle_rule}, {"FF": FF}) == {"r": frozenset()}


def _check_equivalence(rules: dict[int, Rule], accounts: dict[int, PermissionFacts],
                       engines: dict[int, DbEngine] | None) -> None:
    result = classify_detailed(rules, accounts, engines=engines)
    expected_errors: dict[int, list[tuple[int, EvaluationError]]] = {}
    for rule_id, rule in rules.items():
        seen = {a: f for a, f in accounts.items() if engines is None or f.engine is engines[rule_id]}
        assert result.matches[rule_id] == frozenset(a for a, f in seen.items() if evaluate(rule, f))
        for account, account_facts in seen.items():
            for error in evaluate_outcome(rule, account_facts).errors:
                expected_errors.setdefault(account, []).append((rule_id, error))
    assert result.errors == {a: tuple(e) for a, e in expected_errors.items()}


@settings(max_examples=200, deadline=None)
@given(st.lists(expressions(), min_size=1, max_size=4), st.lists(facts(), min_size=1, max_size=8))
def test_batch_equals_per_account_evaluation(exprs: list[object], accounts: list[PermissionFacts]) -> None:
    rules = {i: parse_rule(doc(expr)) for i, expr in enumerate(exprs)}
    _check_equivalence(rules, dict(enumerate(accounts)), None)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(expressions(), st.sampled_from(list(DbEngine))), min_size=1, max_size=4),
       st.lists(facts(), min_size=1, max_size=8))
def test_batch_with_engines_equals_filtered_per_account_evaluation(
        rules_and_engines: list[tuple[object, DbEngine]], accounts: list[PermissionFacts]) -> None:
    rules = {i: parse_rule(doc(expr)) for i, (expr, _) in enumerate(rules_and_engines)}
    engines = {i: engine for i, (_, engine) in enumerate(rules_and_engines)}
    _check_equivalence(rules, dict(enumerate(accounts)), engines)
