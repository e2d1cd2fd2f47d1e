"""DryRunRule: evaluate a draft now or on the ledger at an instant, compared with a stored rule (§10)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from whalefall.application.classification.rules import parsed_or_raise
from whalefall.application.ports.classification import AccountFactsSource, ClassificationStore
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.domain.classification import build_index, compile_rules
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


@dataclass(frozen=True, slots=True)
class DryRunRule:
    """Dry-run or backtest a draft (`classifications:read`); nothing is written. The draft is validated like a
    write (422 RULE_INVALID). Facts: current ones, or with `at` the ledger states valid at `at` (instances never
    observed before `at` are excluded and listed in `ledger_unknown_at_t`). Baseline: the revision of
    `compare_with_rule_id` current at the evaluated instant (without it every match is newly matching). Uses the
    same compiled evaluator and index as auto-classify. `sample_limit` ≤ 200 account ids per sample list."""

    store: ClassificationStore
    facts: AccountFactsSource
    clock: Clock

    async def execute(self, data: DryRunInput) -> DryRunResult:
        data.actor.require(Permission.CLASSIFICATIONS_READ)
        if not 0 <= data.sample_limit <= MAX_SAMPLE:
            raise ValidationProblemsError([Problem("body.sample_limit", "out_of_range", "sample_limit must be 0-200")])
        draft = parsed_or_raise(data.expression, data.db_type)
        rules = {DRAFT: draft}
        if data.compare_with_rule_id is not None:
            stored = await self.store.get_rule(data.compare_with_rule_id)
            if stored is None:
                raise InvalidReferenceError(problems=[Problem("body.compare_with_rule_id", "not_found",
                                                              "the rule does not exist")])
            expression = stored.expression
            if data.at is not None:
                historic = await self.store.revision_at(stored.id, data.at)
                expression = historic.expression if historic is not None else expression
            rules[BASELINE] = parsed_or_raise(expression, stored.db_type)
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
            compared_matched=len(baseline) if BASELINE in rules else None, newly_matching=len(newly),
            no_longer_matching=len(lost), errored=len(errored),
            engines_without_facts=(data.db_type,) if not with_facts else (),
            ledger_unknown_at_t=scope.unknown_instance_ids,
            samples={"newly_matching": tuple(newly[:limit]), "no_longer_matching": tuple(lost[:limit]),
                     "errored": tuple(sorted(errored)[:limit])},
            per_instance=per_instance)
