"""ExplainRule: the evaluated tree of a stored rule or a draft for one account, now or at an instant (§6)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from whalefall.application.classification.rules import parsed_or_raise
from whalefall.application.ports.classification import AccountFactsSource, ClassificationStore
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.domain.classification import Rule, explain
from whalefall.domain.classification.evaluator import EvaluationError
from whalefall.domain.errors import NotFoundError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine


@dataclass(frozen=True, slots=True, kw_only=True)
class ExplainResult:
    """The API's flat Explanation (api.md §2); `tree` is None only when the account has no facts."""

    rule_id: int | None
    rule_revision: int | None
    account_id: int
    at: datetime
    outcome: str
    matched: bool
    errors: tuple[EvaluationError, ...]
    tree: Mapping[str, object] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExplainInput:
    """A stored rule (`rule_id`) or a draft (`db_type` + `expression`) for one account; `at` None = now."""

    actor: Actor
    account_id: int
    rule_id: int | None = None
    db_type: DbEngine | None = None
    expression: Mapping[str, object] | str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ExplainRule:
    """Explain (`classifications:read`). A stored rule is explained at the revision current at `at` (its current
    one without `at`); a draft is validated like a write (422 RULE_INVALID). Facts come from the ledger state at
    `at` (current facts otherwise); an account of another engine → outcome `error` (`engine_mismatch`); an account
    never synced → outcome `error` (`facts_missing`). Unknown rule or account → 404."""

    store: ClassificationStore
    facts: AccountFactsSource
    clock: Clock

    async def execute(self, data: ExplainInput) -> ExplainResult:
        data.actor.require(Permission.CLASSIFICATIONS_READ)
        as_of = data.at or self.clock.now()
        rule, engine, revision = await self._rule(data)
        found = await self.facts.account(data.account_id, as_of=as_of, at=data.at)
        if found is None:
            raise NotFoundError("account", data.account_id)
        if found.facts is None:
            missing = EvaluationError("facts_missing", "$", "the account has no facts (never synced successfully)")
            return ExplainResult(rule_id=data.rule_id, rule_revision=revision, account_id=data.account_id,
                                 at=as_of, outcome="error", matched=False, errors=(missing,), tree=None)
        explanation = explain(rule, found.facts, rule_id=data.rule_id, rule_revision=revision, engine=engine)
        tree = explanation.to_json()["tree"]
        return ExplainResult(rule_id=data.rule_id, rule_revision=revision, account_id=data.account_id, at=as_of,
                             outcome=explanation.outcome, matched=explanation.matched, errors=explanation.errors,
                             tree=tree if isinstance(tree, Mapping) else None)

    async def _rule(self, data: ExplainInput) -> tuple[Rule, DbEngine, int | None]:
        if data.rule_id is None:
            assert data.db_type is not None and data.expression is not None, "a draft needs db_type and expression"
            return parsed_or_raise(data.expression, data.db_type), data.db_type, None
        stored = await self.store.get_rule(data.rule_id)
        if stored is None:
            raise NotFoundError("rule", data.rule_id)
        expression, revision = stored.expression, stored.rule_revision
        if data.at is not None:
            historic = await self.store.revision_at(data.rule_id, data.at)
            if historic is not None:
                expression, revision = historic.expression, historic.rule_revision
        return parsed_or_raise(expression, stored.db_type), stored.db_type, revision
