"""DryRunRule: evaluate a draft now or on the ledger at an instant, compared with a stored rule (§10)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from whalefall.application.classification.rules import check_rule, parsed_or_raise
from whalefall.application.ports.classification import AccountFactsSource, ClassificationStore
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.domain.classification import Rule, build_index, compile_rules
from whalefall.domain.errors import InvalidReferenceError, Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine

MAX_SAMPLE: Final = 200
DRAFT: Final = "draft"
BASELINE: Final = "baseline"


@dataclass(frozen=True, slots=True, kw_only=True)
class DryRunInput:
    actor: Actor
    db_type: DbEngine
    expression: Mapping[str, object] | str
    compare_with_rule_id: int | None = None
    at: datetime | None = None
    instance_ids: frozenset[int] | None = None
    sample_limit: int = 50
    classification_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassificationEffect:
    """Accounts whose membership of the draft's classification would change: `gain` = members with the draft
    (and the classification's other active rules) that are not members now, `lose` = the reverse."""

    classification_id: int
    gain: tuple[int, ...]
    lose: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DryRunResult:
    at: datetime
    evaluated_accounts: int
    matched: int
    compared_matched: int | None
    newly_matching: int
    no_longer_matching: int
    errored: int
    engines_without_facts: tuple[DbEngine, ...]
    ledger_unknown_at_t: tuple[int, ...]
    samples: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    per_instance: Mapping[int, int] = field(default_factory=dict)
    classification_effect: ClassificationEffect | None = None


@dataclass(frozen=True, slots=True)
class DryRunRule:
    """Dry-run or backtest a draft (`classifications:read`); nothing is written. The draft is validated like a
    write (422 RULE_INVALID). Facts: current ones, or with `at` the ledger states valid at `at` (instances never
    observed before `at` are excluded and listed in `ledger_unknown_at_t`). Baseline: the revision of
    `compare_with_rule_id` current at the evaluated instant (without it every match is newly matching). Uses the
    same compiled evaluator and index as auto-classify. `sample_limit` ≤ 200 account ids per sample list.

    Classification effect: when the draft's classification is known (`classification_id`, else the classification
    of `compare_with_rule_id`), membership now = accounts matched by the classification's active rules of the
    draft's engine (the compared rule included when it is one of them, i.e. active) and membership with the draft =
    the same rules with the compared rule replaced by the draft; `gain`/`lose` list every account whose membership
    flips (not capped here: they are what an editor must review; the API caps the lists at `sample_limit`). With
    `at`, each rule is taken at its revision current at `at` and rules created later are left out (limitation:
    rules deleted since are not considered). Manual assignments are not counted."""

    store: ClassificationStore
    facts: AccountFactsSource
    clock: Clock

    async def execute(self, data: DryRunInput) -> DryRunResult:
        data.actor.require(Permission.CLASSIFICATIONS_READ)
        if not 0 <= data.sample_limit <= MAX_SAMPLE:
            raise ValidationProblemsError([Problem("body.sample_limit", "out_of_range", "sample_limit must be 0-200")])
        draft = parsed_or_raise(data.expression, data.db_type)
        rules: dict[object, Rule] = {DRAFT: draft}
        classification_id = data.classification_id
        baseline_counts = False
        if data.compare_with_rule_id is not None:
            stored = await self.store.get_rule(data.compare_with_rule_id)
            if stored is None:
                raise InvalidReferenceError(problems=[Problem("body.compare_with_rule_id", "not_found",
                                                              "the rule does not exist")])
            expression: Mapping[str, object] | None = stored.expression
            if data.at is not None:
                historic = await self.store.revision_at(stored.id, data.at)
                expression = historic.expression if historic is not None else None
            if expression is not None:  # a rule created after `at` had no revision then: an empty baseline
                rules[BASELINE] = parsed_or_raise(expression, stored.db_type)
            if classification_id is None:
                classification_id = stored.classification_id
            baseline_counts = (stored.classification_id == classification_id and stored.is_active
                               and stored.deleted_at is None)
        others = await self._others(classification_id, data) if classification_id is not None else {}
        rules.update(others)
        as_of = data.at or self.clock.now()
        scope = await self.facts.scope(data.db_type, data.instance_ids, as_of=as_of, at=data.at)
        compiled = compile_rules(rules, engines=dict.fromkeys(rules, data.db_type))
        result = compiled.run(build_index({a.account_id: a.facts for a in scope.accounts}))
        matched = result.matches[DRAFT]
        baseline = result.matches.get(BASELINE, frozenset())
        errored = frozenset(a for a, items in result.errors.items() if any(r == DRAFT for r, _ in items))
        newly, lost = sorted(matched - baseline), sorted(baseline - matched)
        instance_of = {a.account_id: a.instance_id for a in scope.accounts}
        per_instance: dict[int, int] = {}
        for account in matched:
            per_instance[instance_of[account]] = per_instance.get(instance_of[account], 0) + 1
        with_facts = sum(1 for a in scope.accounts if a.facts is not None)
        limit = data.sample_limit
        return DryRunResult(
            at=as_of, evaluated_accounts=len(scope.accounts), matched=len(matched),
            compared_matched=len(baseline) if data.compare_with_rule_id is not None else None,
            newly_matching=len(newly),
            no_longer_matching=len(lost), errored=len(errored),
            engines_without_facts=(data.db_type,) if not with_facts else (),
            ledger_unknown_at_t=scope.unknown_instance_ids,
            samples={"newly_matching": tuple(newly[:limit]), "no_longer_matching": tuple(lost[:limit]),
                     "errored": tuple(sorted(errored)[:limit])},
            per_instance=per_instance,
            classification_effect=_effect(classification_id, result.matches, others, baseline_counts)
            if classification_id is not None else None)

    async def _others(self, classification_id: int, data: DryRunInput) -> dict[object, Rule]:
        """The classification's other active rules of the draft's engine (at `at` for a backtest), keyed
        `("other", rule_id)`; the compared rule is the baseline, never an "other"."""
        found: dict[object, Rule] = {}
        for active in await self.store.active_rules(frozenset({data.db_type})):
            if active.classification_id != classification_id or active.id == data.compare_with_rule_id:
                continue
            expression: Mapping[str, object] | None = active.expression
            if data.at is not None:
                historic = await self.store.revision_at(active.id, data.at)
                expression = historic.expression if historic is not None else None
            report = check_rule(expression, data.db_type) if expression is not None else None
            if report is not None and report.rule is not None:
                found[("other", active.id)] = report.rule
        return found


def _effect(classification_id: int, matches: Mapping[object, frozenset[int]], others: Mapping[object, Rule],
            baseline_counts: bool) -> ClassificationEffect:
    """Membership now (other rules, plus the compared rule when it is an active rule of the classification)
    against membership with the draft in the compared rule's place."""
    rest: frozenset[int] = frozenset().union(*(matches[key] for key in others))
    now = rest | (matches.get(BASELINE, frozenset()) if baseline_counts else frozenset())
    then = rest | matches[DRAFT]
    return ClassificationEffect(classification_id=classification_id, gain=tuple(sorted(then - now)),
                                lose=tuple(sorted(now - then)))
