"""Pure assignment planning: auto matches per (account, classification), primary choice, apply plan (§8.3, §9)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Generic, TypeVar

R = TypeVar("R", bound=Hashable)
A = TypeVar("A", bound=Hashable)
C = TypeVar("C", bound=Hashable)
K = TypeVar("K", bound=Hashable)


class AssignmentSource(StrEnum):
    """Origin of an assignment row."""

    AUTO = "auto"
    MANUAL = "manual"


def _order_key(value: object) -> tuple[int, object]:
    """Total order over rule ids of any hashable type: integers numerically first, then by text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


@dataclass(frozen=True, slots=True)
class Match(Generic[R]):
    """Content of one auto assignment: every matching (rule_id, rule_revision) sorted by rule id, and the primary flag.

    `rule_id`/`rule_revision` are those of the lowest rule id (§8.3), independent of evaluation or creation order.
    Raises ValueError when no rule is given.
    """

    matched_rules: tuple[tuple[R, int], ...]
    is_primary: bool = False

    def __post_init__(self) -> None:
        if not self.matched_rules:
            raise ValueError("an auto match needs at least one matching rule")
        ordered = tuple(sorted(set(self.matched_rules), key=lambda item: (_order_key(item[0]), item[1])))
        object.__setattr__(self, "matched_rules", ordered)

    @property
    def rule_id(self) -> R:
        return self.matched_rules[0][0]

    @property
    def rule_revision(self) -> int:
        return self.matched_rules[0][1]


@dataclass(frozen=True, slots=True)
class RuleRef(Generic[C]):
    """What assignment planning needs to know about a rule: its classification and current revision."""

    classification: C
    rule_revision: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassificationMeta:
    """Ordering data of a classification for the primary choice (§9 step 7)."""

    code: str
    priority: int
    risk_level: int


@dataclass(frozen=True, slots=True)
class AssignmentPlan(Generic[K, R]):
    """Writes that turn the old auto assignments into the new ones; unchanged pairs cost no write."""

    insert: Mapping[K, Match[R]]
    delete: frozenset[K]
    update: Mapping[K, Match[R]]
    unchanged: frozenset[K]

    @property
    def is_empty(self) -> bool:
        return not (self.insert or self.delete or self.update)


def auto_matches(
    matches_by_rule: Mapping[R, Iterable[A]], rules: Mapping[R, RuleRef[C]]
) -> dict[tuple[A, C], Match[R]]:
    """§9 step 6: for every account and classification with ≥ 1 matching rule, the Match (primary flag unset).

    Every matching rule is credited; rules missing from `rules` raise KeyError (a programming error).
    """
    credited: dict[tuple[A, C], list[tuple[R, int]]] = {}
    for rule_id, accounts in matches_by_rule.items():
        ref = rules[rule_id]
        for account in accounts:
            credited.setdefault((account, ref.classification), []).append((rule_id, ref.rule_revision))
    return {pair: Match(tuple(found)) for pair, found in credited.items()}


def _primary(
    candidates: Iterable[tuple[C, AssignmentSource | str]], meta: Mapping[C, ClassificationMeta]
) -> tuple[C, AssignmentSource]:
    best: tuple[tuple[int, int, int, str], C, AssignmentSource] | None = None
    for classification, source in candidates:
        kind = AssignmentSource(source)
        info = meta.get(classification)
        if info is None:
            raise ValueError(f"no metadata for classification {classification!r}")
        key = (-info.priority, info.risk_level, 0 if kind is AssignmentSource.MANUAL else 1, info.code)
        if best is None or key < best[0]:
            best = (key, classification, kind)
    if best is None:
        raise ValueError("choose_primary needs at least one candidate")
    return best[1], best[2]


def choose_primary(
    matches: Iterable[tuple[C, AssignmentSource | str]], meta: Mapping[C, ClassificationMeta]
) -> C:
    """Primary classification of one account over its (classification, source) candidates (§9 step 7).

    Order: highest priority, then lowest risk_level (most severe), then manual before auto, then code.
    Raises ValueError for no candidates or a classification without metadata.
    """
    return _primary(matches, meta)[0]


def mark_primary(
    auto: Mapping[tuple[A, C], Match[R]], manual: Iterable[tuple[A, C]], meta: Mapping[C, ClassificationMeta]
) -> dict[tuple[A, C], Match[R]]:
    """The auto matches with `is_primary` set on the one auto pair per account that wins `choose_primary`
    (none when a manual assignment wins)."""
    candidates: dict[A, list[tuple[C, AssignmentSource]]] = {}
    for account, classification in auto:
        candidates.setdefault(account, []).append((classification, AssignmentSource.AUTO))
    for account, classification in manual:
        candidates.setdefault(account, []).append((classification, AssignmentSource.MANUAL))
    winners = {account: _primary(found, meta) for account, found in candidates.items()}
    return {
        pair: replace(match, is_primary=winners[pair[0]] == (pair[1], AssignmentSource.AUTO))
        for pair, match in auto.items()
    }


def plan_assignments(new: Mapping[K, Match[R]], old: Mapping[K, Match[R]]) -> AssignmentPlan[K, R]:
    """Compare the new auto set with the current one: insert new pairs, delete vanished ones, update pairs whose
    rule set or primary flag changed, and leave equal pairs untouched (§9 step 8). Nothing is deleted that the new
    set still holds."""
    insert = {pair: match for pair, match in new.items() if pair not in old}
    update = {pair: match for pair, match in new.items() if pair in old and old[pair] != match}
    unchanged = frozenset(pair for pair, match in new.items() if pair in old and old[pair] == match)
    delete = frozenset(pair for pair in old if pair not in new)
    return AssignmentPlan(insert, delete, update, unchanged)
