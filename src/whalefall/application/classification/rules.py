"""Rule use cases: list, detail, create, update, soft delete, revisions and validate (classification.md §8.2, §4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from whalefall.application.classification.triggers import WriteTrail
from whalefall.application.ports.audit import AuditEntry, field_changes
from whalefall.application.ports.classification import (
    ClassificationStore,
    NewRule,
    RuleExpressionDuplicatedError,
    RuleInvalidError,
    RuleNameTakenError,
    RuleQuery,
    RuleRevisionView,
    RuleView,
)
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.classification import Rule, ValidationReport, to_document, validate_rule
from whalefall.domain.classification.rules import ValidationIssue
from whalefall.domain.errors import (
    InvalidReferenceError,
    NotFoundError,
    Problem,
    ValidationProblemsError,
    VersionConflictError,
)
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.catalog import catalog_for

NAME_MAX: Final = 100


def check_rule(expression: Mapping[str, object] | str, engine: DbEngine) -> ValidationReport:
    """Validate with the rule's engine and the catalog (warnings need both)."""
    return validate_rule(expression, engine=engine, catalog=catalog_for(engine))


def parsed_or_raise(expression: Mapping[str, object] | str, engine: DbEngine) -> Rule:
    """The validated rule, or 422 RULE_INVALID with one `body.expression…` detail per error."""
    report = check_rule(expression, engine)
    if report.rule is None:
        raise RuleInvalidError(report.errors)
    return report.rule


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > NAME_MAX:
        raise ValidationProblemsError([Problem("body.name", "invalid_length", "name must have 1-100 characters")])


def summary(view: RuleView) -> dict[str, object]:
    """The audited fields of a rule (before/after summaries); the expression is named by revision and
    fingerprint (the document itself is in the rule's revisions)."""
    return {"name": view.name, "classification_id": view.classification_id, "db_type": view.db_type.value,
            "description": view.description, "is_active": view.is_active, "rule_revision": view.rule_revision,
            "fingerprint": view.fingerprint}


@dataclass(frozen=True, slots=True)
class ListRules:
    """Rules (permission `classifications:read`); soft-deleted ones only with `include_deleted`."""

    store: ClassificationStore

    async def execute(self, actor: Actor, query: RuleQuery, page: PageRequest) -> Page[RuleView]:
        actor.require(Permission.CLASSIFICATIONS_READ)
        return await self.store.list_rules(query, page)


@dataclass(frozen=True, slots=True)
class GetRule:
    """One rule, soft-deleted ones included; unknown → 404."""

    store: ClassificationStore

    async def execute(self, actor: Actor, rule_id: int) -> RuleView:
        actor.require(Permission.CLASSIFICATIONS_READ)
        found = await self.store.get_rule(rule_id)
        if found is None:
            raise NotFoundError("rule", rule_id)
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateRuleInput:
    actor: Actor
    name: str
    classification_id: int
    db_type: DbEngine
    expression: Mapping[str, object] | str
    description: str | None = None
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class CreateRule:
    """Create a rule (`rules:write`), validated with its engine and the catalog: errors → 422 RULE_INVALID (one
    detail per problem, field `body.expression…`), warnings are returned with the rule. The canonical document is
    stored as revision 1. Unknown classification → 422 INVALID_REFERENCE; a taken name → 409 RULE_NAME_TAKEN; an
    active rule with the same fingerprint in (classification, db_type) → 409 RULE_EXPRESSION_DUPLICATED.
    `rules_revision` is bumped, the `rule.create` event written and the debounced fleet run requested in the same
    transaction."""

    store: ClassificationStore
    uow: UnitOfWork
    clock: Clock
    trail: WriteTrail

    async def execute(self, data: CreateRuleInput) -> RuleView:
        data.actor.require(Permission.RULES_WRITE)
        _check_name(data.name)
        rule = parsed_or_raise(data.expression, data.db_type)
        if await self.store.get_classification(data.classification_id) is None:
            raise InvalidReferenceError(problems=[Problem("body.classification_id", "not_found",
                                                          f"classification {data.classification_id} does not exist")])
        if await self.store.live_rule_named(data.classification_id, data.db_type, data.name) is not None:
            raise RuleNameTakenError()
        if data.is_active:
            other = await self.store.active_rule_with_fingerprint(data.classification_id, data.db_type,
                                                                  rule.fingerprint)
            if other is not None:
                raise RuleExpressionDuplicatedError(other)
        created = await self.store.insert_rule(NewRule(
            name=data.name, classification_id=data.classification_id, db_type=data.db_type,
            description=data.description, expression=to_document(rule), fingerprint=rule.fingerprint,
            warnings=rule.warnings, is_active=data.is_active, created_by=data.actor.user_id,
            created_by_name=data.actor.name), now=self.clock.now())
        await self.store.bump_rules_revision()
        await self.trail.written(AuditEntry(actor=data.actor, action="rule.create", target_type="rule",
                                            target_id=str(created.id), details={"after": summary(created)}))
        await self.uow.commit()
        return created


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateRuleInput:
    actor: Actor
    rule_id: int
    changes: Mapping[str, object] = field(default_factory=dict)
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateRule:
    """Update a rule (`rules:write`); the id never changes and `classification_id`/`db_type` are read-only. An
    expression whose fingerprint differs adds rule revision n+1 (the previous one is superseded); edits of name,
    description or is_active, or an expression with the same fingerprint, do not. Validation, name and fingerprint
    uniqueness as for create; deleted rules → 404; stale `revision` → 409 VERSION_CONFLICT. Audited `rule.update`
    with the changed fields (a new expression shows as new rule_revision and fingerprint)."""

    store: ClassificationStore
    uow: UnitOfWork
    clock: Clock
    trail: WriteTrail

    async def execute(self, data: UpdateRuleInput) -> RuleView:
        data.actor.require(Permission.RULES_WRITE)
        current = await self.store.get_rule(data.rule_id)
        if current is None or current.deleted_at is not None:
            raise NotFoundError("rule", data.rule_id)
        if data.revision is not None and data.revision != current.revision:
            raise VersionConflictError(current.revision)
        changes: dict[str, object] = {k: v for k, v in data.changes.items()
                                      if k in ("name", "description", "is_active")}
        fingerprint = current.fingerprint
        if "expression" in data.changes:
            expression = data.changes["expression"]
            if not isinstance(expression, Mapping | str):
                raise RuleInvalidError([ValidationIssue("root_not_object", "$", "expression must be an object")])
            rule = parsed_or_raise(expression, current.db_type)
            changes["warnings"] = rule.warnings
            if rule.fingerprint != current.fingerprint:
                fingerprint = rule.fingerprint
                changes["expression"] = to_document(rule)
                changes["fingerprint"] = fingerprint
        name = changes.get("name")
        if isinstance(name, str) and name != current.name:
            _check_name(name)
            if await self.store.live_rule_named(current.classification_id, current.db_type, name) is not None:
                raise RuleNameTakenError()
        active = bool(changes.get("is_active", current.is_active))
        if active and (fingerprint != current.fingerprint or not current.is_active):
            other = await self.store.active_rule_with_fingerprint(current.classification_id, current.db_type,
                                                                  fingerprint)
            if other is not None and other != current.id:
                raise RuleExpressionDuplicatedError(other)
        updated = await self.store.update_rule(
            current.id, changes, new_revision="expression" in changes, now=self.clock.now(),
            actor_id=data.actor.user_id, actor_name=data.actor.name)
        await self.store.bump_rules_revision()
        await self.trail.written(AuditEntry(actor=data.actor, action="rule.update", target_type="rule",
                                            target_id=str(updated.id),
                                            changes=field_changes(summary(current), summary(updated))))
        await self.uow.commit()
        return updated


@dataclass(frozen=True, slots=True)
class DeleteRule:
    """Soft delete (`rules:write`): revisions, assignment history and statistics keep referring to the rule;
    repeating it answers the same `deleted_at` (and writes nothing). Bumps `rules_revision`; audited
    `rule.delete`."""

    store: ClassificationStore
    uow: UnitOfWork
    clock: Clock
    trail: WriteTrail

    async def execute(self, actor: Actor, rule_id: int, revision: int | None = None) -> RuleView:
        actor.require(Permission.RULES_WRITE)
        current = await self.store.get_rule(rule_id)
        if current is None:
            raise NotFoundError("rule", rule_id)
        if current.deleted_at is not None:
            return current
        if revision is not None and revision != current.revision:
            raise VersionConflictError(current.revision)
        deleted = await self.store.soft_delete_rule(rule_id, now=self.clock.now())
        await self.store.bump_rules_revision()
        await self.trail.written(AuditEntry(actor=actor, action="rule.delete", target_type="rule",
                                            target_id=str(rule_id), details={"before": summary(current)}))
        await self.uow.commit()
        return deleted


@dataclass(frozen=True, slots=True)
class ListRuleRevisions:
    """The expression history of a rule (deleted rules included), oldest first."""

    store: ClassificationStore

    async def execute(self, actor: Actor, rule_id: int, page: PageRequest) -> Page[RuleRevisionView]:
        actor.require(Permission.CLASSIFICATIONS_READ)
        if await self.store.get_rule(rule_id) is None:
            raise NotFoundError("rule", rule_id)
        return await self.store.rule_revisions(rule_id, page)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleCheck:
    """Result of validate: `normalized` is the canonical document when there is no error."""

    valid: bool
    normalized: Mapping[str, object] | None
    problems: tuple[ValidationIssue, ...]


@dataclass(frozen=True, slots=True)
class ValidateRule:
    """Check a draft (`classifications:read`); a query, answered either way with every error, then every warning
    (each with its severity, paths in `$` form), each group in document order."""

    async def execute(self, actor: Actor, db_type: DbEngine, expression: Mapping[str, object] | str) -> RuleCheck:
        actor.require(Permission.CLASSIFICATIONS_READ)
        report = check_rule(expression, db_type)
        return RuleCheck(valid=report.valid, normalized=to_document(report.rule) if report.rule else None,
                         problems=(*report.errors, *report.warnings))
