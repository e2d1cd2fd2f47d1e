"""Assignment planning (§8.3, §9 steps 6-8): matched rules, primary rule and classification, apply plan."""

from __future__ import annotations

import itertools

import pytest

from whalefall.domain.classification import AssignmentPlan, Match, choose_primary, plan_assignments
from whalefall.domain.classification.assign import (
    AssignmentSource,
    ClassificationMeta,
    RuleRef,
    auto_matches,
    mark_primary,
)

META = {
    "super": ClassificationMeta(code="super", priority=100, risk_level=1),
    "highly": ClassificationMeta(code="highly", priority=90, risk_level=2),
    "twin_a": ClassificationMeta(code="twin_a", priority=50, risk_level=3),
    "twin_b": ClassificationMeta(code="twin_b", priority=50, risk_level=3),
    "severe": ClassificationMeta(code="severe", priority=50, risk_level=1),
}


def test_match_sorts_rules_and_credits_the_lowest_rule_id() -> None:
    match = Match(((30, 1), (7, 4), (12, 2), (7, 4)))
    assert match.matched_rules == ((7, 4), (12, 2), (30, 1))
    assert (match.rule_id, match.rule_revision) == (7, 4)
    with pytest.raises(ValueError, match="at least one"):
        Match(())


def test_auto_matches_credit_every_matching_rule_whatever_the_order() -> None:
    rules = {3: RuleRef("super", 1), 1: RuleRef("super", 5), 2: RuleRef("super", 2), 9: RuleRef("highly", 1)}
    found = {3: frozenset({"a"}), 1: frozenset({"a", "b"}), 2: frozenset({"a"}), 9: frozenset({"a"})}
    results = []
    for order in itertools.permutations(found):
        results.append(auto_matches({rule: found[rule] for rule in order}, rules))
    assert all(result == results[0] for result in results)
    assert results[0][("a", "super")] == Match(((1, 5), (2, 2), (3, 1)))
    assert results[0][("a", "super")].rule_id == 1
    assert results[0][("b", "super")].matched_rules == ((1, 5),)
    assert results[0][("a", "highly")].rule_id == 9


@pytest.mark.parametrize(("candidates", "expected"), [
    ([("highly", "auto"), ("super", "auto")], "super"),
    ([("twin_a", "auto"), ("severe", "auto")], "severe"),
    ([("twin_b", "manual"), ("twin_a", "auto")], "twin_b"),
    ([("twin_b", "auto"), ("twin_a", "auto")], "twin_a"),
    ([("twin_a", AssignmentSource.MANUAL)], "twin_a"),
])
def test_choose_primary_order(candidates: list[tuple[str, str]], expected: str) -> None:
    for order in itertools.permutations(candidates):
        assert choose_primary(list(order), META) == expected


def test_choose_primary_errors() -> None:
    with pytest.raises(ValueError, match="at least one"):
        choose_primary([], META)
    with pytest.raises(ValueError, match="metadata"):
        choose_primary([("unknown", "auto")], META)


def test_mark_primary_sets_exactly_one_auto_pair_per_account_unless_manual_wins() -> None:
    auto = {("a", "highly"): Match(((1, 1),)), ("a", "super"): Match(((2, 1),)), ("b", "twin_a"): Match(((3, 1),))}
    marked = mark_primary(auto, manual=[("b", "twin_b")], meta=META)
    assert [pair for pair, match in marked.items() if match.is_primary] == [("a", "super")]
    assert marked[("a", "super")].matched_rules == auto[("a", "super")].matched_rules


def test_plan_assignments_inserts_deletes_updates_and_keeps_unchanged() -> None:
    old = {("a", "x"): Match(((1, 1),), True), ("a", "y"): Match(((2, 1),)), ("b", "x"): Match(((1, 1),), True)}
    new = {("a", "x"): Match(((1, 1),), True), ("a", "y"): Match(((2, 2),)), ("c", "x"): Match(((1, 1),), True)}
    plan = plan_assignments(new, old)
    assert isinstance(plan, AssignmentPlan)
    assert plan.insert == {("c", "x"): new[("c", "x")]}
    assert plan.delete == frozenset({("b", "x")})
    assert plan.update == {("a", "y"): new[("a", "y")]}
    assert plan.unchanged == frozenset({("a", "x")})
    assert not plan.is_empty


def test_unchanged_result_plans_zero_writes() -> None:
    state = {("a", "x"): Match(((1, 1), (4, 2)), True)}
    plan = plan_assignments(dict(state), state)
    assert plan.is_empty and plan.unchanged == frozenset(state)


def test_primary_flag_change_is_an_update() -> None:
    plan = plan_assignments({("a", "x"): Match(((1, 1),), False)}, {("a", "x"): Match(((1, 1),), True)})
    assert list(plan.update) == [("a", "x")] and not plan.insert and not plan.delete
