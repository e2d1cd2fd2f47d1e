"""Compact evidence of the supporting true leaves, stored in explanation_ref (classification.md §8.3)."""

from __future__ import annotations

from tests.unit.domain.classification.fixtures import FA, FJ, FK, doc, priv
from whalefall.domain.classification import PermissionFacts, explain, parse_rule
from whalefall.domain.classification.evidence import MAX_ITEMS, compact_evidence

X13 = doc({"op": "OR", "args": [
    {"fn": "has_role", "args": {"name": "EXP_FULL_DATABASE", "via_roles": True}},
    {"fn": "has_any_privilege", "args": {"names": ["DROP ANY TABLE", "ALTER SYSTEM"], "scope": "system"}}]})


def test_every_true_leaf_of_a_match_keeps_its_path_args_and_grant() -> None:
    compact = compact_evidence(explain(parse_rule(X13), FJ))
    assert [(leaf["path"], leaf["fn"]) for leaf in compact] == [
        ("$.expr.args[0]", "has_role"), ("$.expr.args[1]", "has_any_privilege")]
    assert compact[0]["evidence"] == [{"role": "EXP_FULL_DATABASE", "database": None,
                                       "role_path": ["BATCH_OPS", "EXP_FULL_DATABASE"], "mode": "default"}]
    (grant,) = compact[1]["evidence"]  # type: ignore[misc]
    assert (grant["privilege"], grant["source"], grant["role_path"]) == ("DROP ANY TABLE", "direct", [])
    assert compact[1]["args"] == {"names": ["ALTER SYSTEM", "DROP ANY TABLE"], "scope": "system"}


def test_a_true_leaf_under_not_does_not_support_the_match_and_a_non_match_has_none() -> None:
    rule = parse_rule(doc({"op": "OR", "args": [
        priv("DELETE", "database", database="inventory"),
        {"op": "NOT", "args": [{"fn": "has_capability", "args": {"name": "LOGIN"}}]}]}))
    compact = compact_evidence(explain(rule, FA))
    assert [leaf["path"] for leaf in compact] == ["$.expr.args[0]"], "LOGIN is true but argues against"
    assert compact_evidence(explain(parse_rule(X13), FK)) == []


def test_evidence_items_are_capped_with_the_rest_counted() -> None:
    document = FA.to_json()
    grant = next(g for g in document["grants"] if g["privilege"] == "PROCESS")  # type: ignore[attr-defined]
    extra = [dict(grant, privilege=name, source="direct", via=None, path=[], mode=None)
             for name in ("RELOAD", "SHUTDOWN", "FILE", "SHOW DATABASES")]
    facts = PermissionFacts.from_json(dict(document, grants=[*document["grants"], *extra]))  # type: ignore[misc]
    rule = parse_rule(doc({"fn": "has_any_privilege", "args": {
        "names": ["FILE", "PROCESS", "RELOAD", "SHOW DATABASES", "SHUTDOWN"], "scope": "global", "via_roles": True}}))
    explanation = explain(rule, facts)
    (leaf,) = compact_evidence(explanation)
    assert len(explanation.tree.evidence) == 5
    assert len(leaf["evidence"]) == MAX_ITEMS and leaf["more"] == 5 - MAX_ITEMS  # type: ignore[arg-type]
