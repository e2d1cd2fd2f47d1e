"""Explanations (§6): tree values, evidence, denies, near misses, caps, determinism; X19 exactly."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings

from tests.unit.domain.classification.fixtures import (
    FA,
    FC,
    FD,
    FF,
    FH,
    FJ,
    X2,
    X3,
    X3_VIA,
    X4_HOST,
    X5,
    X6,
    X9,
    X11,
    X13,
    X16,
    doc,
    priv,
)
from tests.unit.domain.classification.strategies import expressions, facts
from whalefall.domain.classification import PermissionFacts, evaluate, evaluate_outcome, explain, parse_rule
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import GrantFact
from whalefall.domain.privileges.names import Scope


def tree(expr: object, account: PermissionFacts) -> dict[str, object]:
    result = explain(parse_rule(doc(expr)), account).to_json()["tree"]
    assert isinstance(result, dict)
    return result


def test_x19_explain_of_x13_for_fj() -> None:
    result = explain(parse_rule(doc(X13)), FJ, rule_id=7, rule_revision=2).to_json()
    assert result["outcome"] == "match" and result["matched"] is True and result["errors"] == []
    assert result["account"] == {"engine": "oracle", "flavor": None, "namespace": "", "key": "HR_BATCH"}
    assert result["as_of"] == "2026-05-01T00:00:00Z"
    assert result["rule"] == {"id": 7, "rule_revision": 2, "fingerprint": parse_rule(doc(X13)).fingerprint}
    root = result["tree"]
    assert isinstance(root, dict)
    assert (root["path"], root["kind"], root["name"], root["value"]) == ("$.expr", "op", "OR", True)
    role, privilege = root["children"]
    assert role["path"] == "$.expr.args[0]" and role["name"] == "has_role"
    assert role["args"] == {"name": "EXP_FULL_DATABASE", "via_roles": True} and role["value"] is True
    assert role["evidence"] == [{"role": "EXP_FULL_DATABASE", "database": None,
                                 "role_path": ["BATCH_OPS", "EXP_FULL_DATABASE"], "mode": "default"}]
    assert privilege["path"] == "$.expr.args[1]" and privilege["name"] == "has_any_privilege"
    assert privilege["args"] == {"names": ["ALTER SYSTEM", "DROP ANY TABLE"], "scope": "system"}
    assert privilege["evidence"] == [{
        "privilege": "DROP ANY TABLE", "scope": "global", "database": None, "object": [], "grant_option": False,
        "effect": "grant", "source": "direct", "via": None, "role_path": [], "mode": None, "implicit": False,
        "stale": False}]
    assert privilege["blocked_by"] == [] and privilege["near_misses"] == [] and privilege["error"] is None


def near(expr: object, account: PermissionFacts) -> list[tuple[str, str, object]]:
    node = tree(expr, account)
    return [(m["reason"], m["field"], m["actual"]) for m in node["near_misses"]]  # type: ignore[attr-defined]


def test_x2_case_only_near_miss() -> None:
    assert near(X2, FA) == [("case_only", "database", "inventory")]


def test_x3_requires_via_roles_then_role_evidence() -> None:
    assert near(X3, FA) == [("requires_via_roles", "source", "role:etl_role@%")]
    evidence = tree(X3_VIA, FA)["evidence"]
    assert [(e["source"], e["mode"], e["role_path"]) for e in evidence] == [  # type: ignore[attr-defined]
        ("role:etl_role@%", "default", ["etl_role@%"])]


def test_x4_other_host_near_miss() -> None:
    assert near(X4_HOST, FA) == [("other_host", "role", "etl_role@%")]


def test_x5_pattern_covers_near_miss() -> None:
    assert near(X5, FC) == [("pattern_covers", "database", "sales\\_%")]
    assert near(priv("ALTER", "database", database="salesXeu"), FC) == [("other_database", "database", "sales\\_%")]


def test_x6_evidence_path_and_mode() -> None:
    evidence = tree(X6, FD)["evidence"]
    assert [(e["role_path"], e["mode"], e["source"]) for e in evidence] == [  # type: ignore[attr-defined]
        (["finance_writers"], "set_role", "role:finance_writers")]


def test_x11_blocked_by_the_schema_deny() -> None:
    node = tree(X11, FH)
    assert node["value"] is False and node["evidence"] == []
    assert [(b["privilege"], b["scope"], b["object"], b["effect"]) for b in node["blocked_by"]] == [  # type: ignore[attr-defined]
        ("UPDATE", "schema", ["rpt"], "deny")]


def test_x9_error_leaf_has_null_value_up_to_the_root() -> None:
    result = explain(parse_rule(doc(X9)), FF).to_json()
    assert result["outcome"] == "error" and result["matched"] is False
    assert result["errors"] == [{"code": "facts_incomplete", "path": "$.expr.args[0]",
                                 "message": evaluate_outcome(parse_rule(doc(X9)), FF).errors[0].message}]
    root = result["tree"]
    assert root["value"] is None and root["children"][0]["value"] is None  # type: ignore[index]
    assert root["children"][0]["error"]["code"] == "facts_incomplete"  # type: ignore[index]


def test_other_object_and_other_scope_near_misses() -> None:
    assert near(priv("TRUNCATE", "table", database="crm_live", object="public.ledger", via_roles=True), FD) == [
        ("other_object", "object", "public.journal")]
    assert near(priv("DELETE", "table", database="inventory"), FA) == [("other_scope", "scope", "database")]


def test_grant_option_difference_is_not_a_listed_near_miss() -> None:
    assert tree(X16, FJ)["near_misses"] == []


def test_evidence_is_capped_at_20_and_sorted() -> None:
    grants = tuple(GrantFact(privilege="SELECT", scope=Scope.TABLE, database="d", object=("s", f"t{i:02d}"))
                   for i in reversed(range(25)))
    account = replace(FD, grants=grants)
    node = tree(priv("SELECT", "table"), account)
    assert node["evidence_truncated"] == 5
    objects = [e["object"] for e in node["evidence"]]  # type: ignore[attr-defined]
    assert objects == [["s", f"t{i:02d}"] for i in range(20)]


def test_near_misses_are_capped_at_5() -> None:
    grants = tuple(GrantFact(privilege="SELECT", scope=Scope.DATABASE, database=f"db{i}") for i in range(9))
    node = tree(priv("SELECT", "database", database="other"), replace(FD, grants=grants))
    assert len(node["near_misses"]) == 5  # type: ignore[arg-type]


def test_engine_mismatch_outcome() -> None:
    result = explain(parse_rule(doc(X13)), FD, engine=DbEngine.ORACLE)
    assert result.outcome == "error" and not result.matched
    assert [e.code for e in result.errors] == ["engine_mismatch"]


def test_explanations_are_deterministic() -> None:
    rule = parse_rule(doc({"op": "AND", "args": [X11, X9, X2]}))
    assert explain(rule, FH).to_json() == explain(rule, FH).to_json()


def test_type_errors() -> None:
    with pytest.raises(TypeError):
        explain(doc(X13), FJ)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(expressions(), facts())
def test_root_value_equals_evaluate_and_true_privilege_leaves_have_evidence(expr: object,
                                                                             account: PermissionFacts) -> None:
    rule = parse_rule(doc(expr))
    explanation = explain(rule, account)
    outcome = evaluate_outcome(rule, account)
    assert (explanation.tree.value is True) is evaluate(rule, account)
    assert explanation.matched is outcome.matched
    assert explanation.errors == outcome.errors
    assert (explanation.tree.value is None) is bool(outcome.errors)
    stack = [explanation.tree]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.name in ("has_privilege", "has_any_privilege", "has_role") and node.value is True:
            assert node.evidence
        assert len(node.evidence) <= 20 and len(node.near_misses) <= 5
