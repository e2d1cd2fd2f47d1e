"""Algebraic laws of the DSL under global fail-closed (§5.3), checked with Hypothesis."""

from __future__ import annotations

from hypothesis import assume, given, settings

from tests.unit.domain.classification.strategies import doc, expressions, facts
from whalefall.domain.classification import PermissionFacts, evaluate, evaluate_outcome, parse_rule

TRUE = {"fn": "db_type_in", "args": {"types": ["mysql", "postgresql", "sqlserver", "oracle"]}}
FALSE = {"op": "NOT", "args": [TRUE]}


def value(expr: object, account: PermissionFacts) -> bool:
    return evaluate(parse_rule(doc(expr)), account)


def error_codes(expr: object, account: PermissionFacts) -> list[str]:
    return sorted(e.code for e in evaluate_outcome(parse_rule(doc(expr)), account).errors)


def no_errors(account: PermissionFacts) -> bool:
    return not account.blind_databases()


@settings(max_examples=200, deadline=None)
@given(expressions(3), expressions(3), facts())
def test_de_morgan(x: object, y: object, account: PermissionFacts) -> None:
    assert value({"op": "NOT", "args": [{"op": "AND", "args": [x, y]}]}, account) == value(
        {"op": "OR", "args": [{"op": "NOT", "args": [x]}, {"op": "NOT", "args": [y]}]}, account)
    assert value({"op": "NOT", "args": [{"op": "OR", "args": [x, y]}]}, account) == value(
        {"op": "AND", "args": [{"op": "NOT", "args": [x]}, {"op": "NOT", "args": [y]}]}, account)


@settings(max_examples=200, deadline=None)
@given(expressions(), facts())
def test_double_negation_on_error_free_facts(x: object, account: PermissionFacts) -> None:
    assume(no_errors(account))
    assert value({"op": "NOT", "args": [{"op": "NOT", "args": [x]}]}, account) == value(x, account)


@settings(max_examples=200, deadline=None)
@given(expressions(), facts())
def test_identities(x: object, account: PermissionFacts) -> None:
    base = value(x, account)
    assert value({"op": "AND", "args": [x]}, account) == base
    assert value({"op": "OR", "args": [x]}, account) == base
    assert value({"op": "AND", "args": [x, TRUE]}, account) == base
    assert value({"op": "OR", "args": [FALSE, x]}, account) == base


@settings(max_examples=200, deadline=None)
@given(expressions(3), expressions(3), facts())
def test_commutativity_of_values_and_errors(x: object, y: object, account: PermissionFacts) -> None:
    for op in ("AND", "OR"):
        xy, yx = {"op": op, "args": [x, y]}, {"op": op, "args": [y, x]}
        assert value(xy, account) == value(yx, account)
        assert error_codes(xy, account) == error_codes(yx, account)


@settings(max_examples=300, deadline=None)
@given(expressions(), facts())
def test_fail_closed_whatever_the_structure(x: object, account: PermissionFacts) -> None:
    errors = evaluate_outcome(parse_rule(doc(x)), account).errors
    if errors:
        assert not value(x, account)
        assert not value({"op": "NOT", "args": [x]}, account)
        assert not value({"op": "OR", "args": [TRUE, x]}, account)
        assert not value({"op": "OR", "args": [x, TRUE]}, account)
    else:
        assert value(x, account) != value({"op": "NOT", "args": [x]}, account)
