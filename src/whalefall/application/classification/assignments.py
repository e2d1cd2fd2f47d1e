"""Assignment use cases: list, history, manual create/delete and current statistics (classification.md §8.3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from whalefall.application.classification.statistics_trend import id_problems
from whalefall.application.classification.triggers import WriteTrail
from whalefall.application.ports.audit import AuditEntry
from whalefall.application.ports.classification import (
    AccountFactsSource,
    AssignmentQuery,
    AssignmentStore,
    AssignmentView,
    ClassificationStatsReader,
    ClassificationStore,
    ClassificationView,
    HistoryView,
    LastSession,
)
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import (
    InvalidReferenceError,
    InvalidStateError,
    NotFoundError,
    Problem,
    ValidationProblemsError,
)
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine


@dataclass(frozen=True, slots=True)
class ListAssignments:
    """Current assignments (`classifications:read`)."""

    assignments: AssignmentStore

    async def execute(self, actor: Actor, query: AssignmentQuery, page: PageRequest) -> Page[AssignmentView]:
        actor.require(Permission.CLASSIFICATIONS_READ)
        return await self.assignments.list(query, page)


@dataclass(frozen=True, slots=True)
class ListAssignmentHistory:
    """Continuous stretches of assignments overlapping [since, until] (`classifications:read`)."""

    assignments: AssignmentStore

    async def execute(self, actor: Actor, query: AssignmentQuery, page: PageRequest) -> Page[HistoryView]:
        actor.require(Permission.CLASSIFICATIONS_READ)
        return await self.assignments.history(query, page)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateManualAssignmentInput:
    actor: Actor
    account_id: int
    classification_id: int
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CreateManualAssignment:
    """Assign an account manually (`rules:write`); auto runs never create, change or delete it. Unknown account or
    classification → 422 INVALID_REFERENCE; an existing manual pair → 409 ALREADY_EXISTS. Audited
    `assignment.create`; requests the debounced fleet run (primary flags depend on manual assignments)."""

    store: ClassificationStore
    assignments: AssignmentStore
    facts: AccountFactsSource
    uow: UnitOfWork
    clock: Clock
    trail: WriteTrail

    async def execute(self, data: CreateManualAssignmentInput) -> AssignmentView:
        data.actor.require(Permission.RULES_WRITE)
        now = self.clock.now()
        account = await self.facts.account(data.account_id, as_of=now)
        problems = []
        if account is None:
            problems.append(Problem("body.account_id", "not_found", f"account {data.account_id} does not exist"))
        if await self.store.get_classification(data.classification_id) is None:
            problems.append(Problem("body.classification_id", "not_found",
                                    f"classification {data.classification_id} does not exist"))
        if problems or account is None:
            raise InvalidReferenceError(problems=problems)
        created = await self.assignments.insert_manual(
            account_id=data.account_id, classification_id=data.classification_id, instance_id=account.instance_id,
            db_type=account.engine, note=data.note, actor_id=data.actor.user_id, actor_name=data.actor.name,
            now=now)
        await self.trail.written(AuditEntry(
            actor=data.actor, action="assignment.create", target_type="assignment", target_id=str(created.id),
            details={"after": {"account_id": created.account_id, "classification_id": created.classification_id,
                               "source": created.source, "note": created.note}}))
        await self.uow.commit()
        return created


@dataclass(frozen=True, slots=True)
class DeleteManualAssignment:
    """Remove a manual assignment (`rules:write`); its history stretch is closed. An auto assignment is derived
    data → 409 INVALID_STATE (change the rule instead); unknown → 404. Audited `assignment.delete`."""

    assignments: AssignmentStore
    uow: UnitOfWork
    clock: Clock
    trail: WriteTrail

    async def execute(self, actor: Actor, assignment_id: int) -> int:
        actor.require(Permission.RULES_WRITE)
        found = await self.assignments.get(assignment_id)
        if found is None:
            raise NotFoundError("assignment", assignment_id)
        if found.source != "manual":
            raise InvalidStateError("auto assignments cannot be deleted; change the rule instead")
        await self.assignments.delete_manual(assignment_id, now=self.clock.now())
        await self.trail.written(AuditEntry(
            actor=actor, action="assignment.delete", target_type="assignment", target_id=str(assignment_id),
            details={"before": {"account_id": found.account_id, "classification_id": found.classification_id,
                                "source": found.source, "note": found.note}}))
        await self.uow.commit()
        return assignment_id


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleStat:
    rule_id: int
    name: str
    matched_account_count: int
    error_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassificationStat:
    classification: ClassificationView
    account_count: int
    by_db_type: dict[str, int]
    rules: tuple[RuleStat, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Statistics:
    as_of: datetime
    items: tuple[ClassificationStat, ...]
    last_session: LastSession | None = None
    unclassified_count: int = 0
    engines_without_facts: tuple[DbEngine, ...] = ()


@dataclass(frozen=True, slots=True)
class GetStatistics:
    """Current counts per classification, db_type and rule (`classifications:read`), read from the stored
    assignments (the open stretches of assignment history), never by re-evaluating rules; a rule's hit count is
    the number of accounts whose `matched_rules` contain it. Also: the last finished classification session,
    `unclassified_count` (active accounts of active instances in the filter without any assignment) and
    `engines_without_facts` (engines with active rules but no synced account in the filter, classification.md §9
    step 5, computed live rather than copied from the last run)."""

    store: ClassificationStore
    assignments: AssignmentStore
    stats: ClassificationStatsReader
    clock: Clock

    async def execute(self, actor: Actor, db_types: frozenset[DbEngine] = frozenset(),
                      instance_ids: frozenset[int] = frozenset()) -> Statistics:
        actor.require(Permission.CLASSIFICATIONS_READ)
        problems = id_problems("instance_id", sorted(instance_ids))
        if problems:
            raise ValidationProblemsError(problems)
        counts = await self.assignments.current_counts(db_types, instance_ids)
        hits, errors = await self.stats.rule_hits(instance_ids), await self.stats.error_counts(instance_ids)
        rules = await self.store.active_rules(db_types)
        names = await self.stats.rule_names([r.id for r in rules])
        items = []
        for classification in await self.store.all_classifications():
            per = counts.get(classification.id, {})
            rule_stats = tuple(RuleStat(rule_id=r.id, name=names.get(r.id, str(r.id)),
                                        matched_account_count=hits.get(r.id, 0),
                                        error_count=errors.get(r.id, 0))
                               for r in rules if r.classification_id == classification.id)
            items.append(ClassificationStat(classification=classification, account_count=sum(per.values()),
                                            by_db_type=dict(per), rules=rule_stats))
        ruled = frozenset(r.db_type for r in rules)
        with_facts = await self.stats.engines_with_facts(ruled, instance_ids) if ruled else frozenset()
        return Statistics(as_of=self.clock.now(), items=tuple(items), last_session=await self.stats.last_session(),
                          unclassified_count=await self.stats.unclassified_count(db_types, instance_ids),
                          engines_without_facts=tuple(sorted(ruled - with_facts)))
