"""ClassifyRecord: the `classification` record work, one record per engine (classification.md §9 steps 2-9)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from whalefall.application.classification.rule_sets import RuleSet, RuleSetCache, load_rule_set
from whalefall.application.ports.classification import (
    AccountFactsSource,
    ApplyPlan,
    AssignmentStore,
    AutoWrite,
    ClassificationStore,
    ErrorRow,
    FactsScope,
)
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.domain.classification import Match, build_index, choose_primary, plan_assignments
from whalefall.domain.classification.assign import (
    AssignmentSource,
    ClassificationMeta,
    RuleRef,
    auto_matches,
    mark_primary,
)
from whalefall.domain.classification.batch import BatchResult
from whalefall.domain.classification.evidence import compact_evidence
from whalefall.domain.classification.explain import explain
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import PermissionFacts

MAX_WARNINGS: Final = 50
Pair = tuple[int, int]


def selection_of(params: Mapping[str, object]) -> frozenset[int] | None:
    """The session's instance selection (`instance_ids`), None for the whole fleet."""
    ids = params.get("instance_ids")
    if not isinstance(ids, list | tuple):
        return None
    return frozenset(int(i) for i in ids if isinstance(i, int))


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    """Steps 2-7 of one engine: the rule set, the scope, the batch result and the new auto set with primaries."""

    rule_set: RuleSet
    scope: FactsScope
    result: BatchResult[int, int]
    new: Mapping[Pair, Match[int]]
    manual_primary: frozenset[Pair]
    rules_without_facts: Mapping[int, str]


async def evaluate_engine(store: ClassificationStore, cache: RuleSetCache, facts: AccountFactsSource,
                          assignments: AssignmentStore, engine: DbEngine, selection: frozenset[int] | None,
                          as_of: datetime) -> Evaluation:
    """Load rules and facts, evaluate and plan the new auto set (no write). Shared by the worker and dry runs."""
    rule_set = await load_rule_set(store, cache, engine)
    scope = await facts.scope(engine, selection, as_of=as_of)
    result = rule_set.compiled.run(build_index({a.account_id: a.facts for a in scope.accounts}))
    with_facts = sum(1 for a in scope.accounts if a.facts is not None)
    reason = "no_instances" if not scope.instance_ids else "no_synced_accounts"
    without = dict.fromkeys(rule_set.parsed, reason) if not with_facts else {}
    refs = {rid: RuleRef(r.classification_id, r.rule_revision) for rid, r in rule_set.rules.items()}
    auto = auto_matches(result.matches, refs)
    manual = set(await assignments.manual_pairs([a.account_id for a in scope.accounts])) if scope.accounts else set()
    meta = {c.id: ClassificationMeta(code=c.code, priority=c.priority, risk_level=c.risk_level)
            for c in await store.all_classifications()}
    new = mark_primary(auto, manual, meta)
    candidates: dict[int, list[tuple[int, AssignmentSource]]] = {}
    for account, classification in auto:
        candidates.setdefault(account, []).append((classification, AssignmentSource.AUTO))
    for account, classification in manual:
        candidates.setdefault(account, []).append((classification, AssignmentSource.MANUAL))
    manual_primary = frozenset(
        (account, winner) for account, found in candidates.items()
        if (account, winner := choose_primary(found, meta)) in manual)
    return Evaluation(rule_set=rule_set, scope=scope, result=result, new=new, manual_primary=manual_primary,
                      rules_without_facts=without)


@dataclass(frozen=True, slots=True)
class ClassifyRecord(RecordWork):
    """Classify the accounts of one engine (the record's `item_key`) within the session's selection.

    Rules: active, non-deleted rules of active classifications at one `rules_revision`, compiled once (stored
    revisions that no longer compile are listed in `rule_errors`); accounts without facts get `facts_missing`
    error rows and never abort the run; an engine with rules but no facts in scope reports `rules_without_facts`
    (`no_instances` / `no_synced_accounts`). After the cancellation check the new set is applied in ONE
    transaction that starts with the lease fence: the current auto assignments of (engine, selection) are locked,
    `plan_assignments` decides inserts, deletes and updates, unchanged pairs cost no write, manual assignments are
    never touched except for their primary flag, error rows of the scope are replaced. Any failure rolls all of it
    back, so the previous assignments stay exactly as they were.
    """

    store: ClassificationStore
    assignments: AssignmentStore
    facts: AccountFactsSource
    cache: RuleSetCache
    uow: UnitOfWork
    clock: Clock

    async def run(self, context: RecordContext) -> RecordResult:
        started = self.clock.now()
        engine = DbEngine(context.record.item_key)
        selection = selection_of(context.session.params)
        evaluation = await evaluate_engine(self.store, self.cache, self.facts, self.assignments, engine, selection,
                                           started)
        scope, result, rule_set = evaluation.scope, evaluation.result, evaluation.rule_set
        instance_of = {a.account_id: a.instance_id for a in scope.accounts}
        version_of = {a.account_id: a.state_version_id for a in scope.accounts}
        facts_of = {a.account_id: a.facts for a in scope.accounts}
        errors = [ErrorRow(account_id=account, instance_id=instance_of[account], rule_id=rule_id,
                           rule_revision=rule_set.rules[rule_id].rule_revision, code=e.code, path=e.path,
                           message=e.message)
                  for account, items in result.errors.items() for rule_id, e in items]
        await context.check_cancel()
        await context.fence()
        current = await self.assignments.lock_auto(engine, _scope_ids(selection))
        old = {(row.account_id, row.classification_id): Match(row.matched_rules, row.is_primary) for row in current}
        ids = {(row.account_id, row.classification_id): row.id for row in current}
        plan = plan_assignments(evaluation.new, old)

        def write(pair: Pair, match: Match[int]) -> AutoWrite:
            return AutoWrite(account_id=pair[0], classification_id=pair[1], instance_id=instance_of[pair[0]],
                             matched_rules=match.matched_rules, is_primary=match.is_primary,
                             explanation_ref=explanation_ref(rule_set, match, facts_of.get(pair[0]),
                                                             version_of.get(pair[0]), started))

        await self.assignments.apply(ApplyPlan(
            engine=engine, instance_ids=_scope_ids(selection), session_id=context.session.id,
            started_at=started, insert=[write(p, m) for p, m in sorted(plan.insert.items())],
            update=[write(p, m) for p, m in sorted(plan.update.items())],
            delete=sorted(ids[p] for p in plan.delete), errors=errors,
            manual_primary=evaluation.manual_primary, accounts=tuple(instance_of)))
        await self.uow.commit()
        counters = {
            "accounts_in_scope": len(scope.accounts),
            "accounts_evaluated": sum(1 for a in scope.accounts if a.facts is not None),
            "accounts_without_facts": sum(1 for a in scope.accounts if a.facts is None),
            "rules_evaluated": len(rule_set.parsed), "rule_errors": len(rule_set.broken),
            "evaluation_errors": len(errors), "matches": sum(len(m) for m in result.matches.values()),
            "assignments_added": len(plan.insert), "assignments_removed": len(plan.delete),
            "assignments_updated": len(plan.update), "assignments_unchanged": len(plan.unchanged),
            "duration_ms": int((self.clock.now() - started).total_seconds() * 1000),
            "rules_revision": rule_set.rules_revision,
        }
        details: dict[str, object] = {
            "rules_without_facts": [{"rule_id": r, "reason": why} for r, why in sorted(
                evaluation.rules_without_facts.items())],
            "rule_errors": [{"rule_id": r, "errors": [{"code": i.code, "path": i.path} for i in issues]}
                            for r, issues in sorted(rule_set.broken.items())],
        }
        # Per-account error rows and rules excluded because they no longer compile are the record's item errors:
        # it stays `completed` and its session ends `partial` (§9 step 9, legacy defect 2).
        return RecordResult(counters=counters, warnings=_warnings(evaluation, errors), details=details,
                            error_items=len(errors) + len(rule_set.broken))


def explanation_ref(rule_set: RuleSet, match: Match[int], facts: PermissionFacts | None,
                    state_version_id: int | None, as_of: datetime) -> dict[str, object]:
    """(rule_id, rule_revision, state_version_id, as_of) of the primary rule plus the compact evidence of its
    supporting true leaves (§8.3). Only inserted and updated pairs pay for the explanation; an unchanged pair keeps
    the reference of the run that last wrote it (zero writes for an unchanged result)."""
    rule = rule_set.parsed.get(match.rule_id)
    evidence = (compact_evidence(explain(rule, facts, rule_id=match.rule_id, rule_revision=match.rule_revision,
                                         engine=rule_set.engine))
                if rule is not None and facts is not None else [])
    return {"rule_id": match.rule_id, "rule_revision": match.rule_revision, "state_version_id": state_version_id,
            "as_of": as_of.isoformat(), "evidence": evidence}


def _scope_ids(selection: frozenset[int] | None) -> tuple[int, ...] | None:
    """None (every instance of the engine) for a fleet run, else the selection's instances."""
    return None if selection is None else tuple(sorted(selection))


def _warnings(evaluation: Evaluation, errors: Sequence[ErrorRow]) -> list[Mapping[str, object]]:
    warnings: list[Mapping[str, object]] = []
    for rule_id in sorted(evaluation.rule_set.broken):
        warnings.append({"code": "rule_invalid", "message": f"rule {rule_id} no longer compiles; excluded"})
    for rule_id, reason in sorted(evaluation.rules_without_facts.items()):
        warnings.append({"code": "rules_without_facts", "message": f"rule {rule_id}: {reason}"})
    for row in errors[:MAX_WARNINGS]:
        warnings.append({"code": row.code, "message": f"account {row.account_id}, rule {row.rule_id}: {row.message}"})
    return warnings
