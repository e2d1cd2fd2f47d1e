"""Compact evidence of a match, stored in an auto assignment's `explanation_ref` (classification.md §8.3).

Decisions where the spec is silent: only the true leaves that support the match are kept, i.e. leaves under an
even number of NOTs (a true leaf under a NOT argues against the match); each keeps its path, function, canonical
args and at most `MAX_ITEMS` evidence items (with the count left out), so a row stays small while still answering
"because of which grant". The full tree remains available from explain.
"""

from __future__ import annotations

from typing import Final

from whalefall.domain.classification.explain import ExplainNode, Explanation

MAX_ITEMS: Final = 3
MAX_LEAVES: Final = 16


def _supporting(node: ExplainNode, negated: bool, found: list[ExplainNode]) -> None:
    if node.kind == "op":
        flip = node.name == "NOT"
        for child in node.children:
            _supporting(child, negated ^ flip, found)
    elif node.value is True and not negated:
        found.append(node)


def compact_evidence(explanation: Explanation) -> list[dict[str, object]]:
    """The supporting true leaves of a matched explanation (empty for a non-match), in document order."""
    if not explanation.matched:
        return []
    leaves: list[ExplainNode] = []
    _supporting(explanation.tree, False, leaves)
    compact: list[dict[str, object]] = []
    for leaf in leaves[:MAX_LEAVES]:
        items = [item.to_json() for item in leaf.evidence[:MAX_ITEMS]]
        more = max(len(leaf.evidence) - MAX_ITEMS, 0) + leaf.evidence_truncated
        compact.append({"path": leaf.path, "fn": leaf.name, "args": dict(leaf.args or {}), "evidence": items,
                        "more": more})
    return compact
