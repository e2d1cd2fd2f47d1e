"""In-memory stand-ins for the classification ports (state, not interactions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from whalefall.application.ports.classification import (
    AccountFacts,
    AccountFactsSource,
    ActiveRule,
    ApplyPlan,
    AssignmentQuery,
    AssignmentStore,
    AssignmentView,
    ClassificationQuery,
    ClassificationStore,
    ClassificationView,
    ErrorRow,
    FactsScope,
    HistoryView,
    NewClassification,
    NewRule,
    RuleQuery,
    RuleRevisionView,
    RuleView,
    ScopedAccount,
    StoredAuto,
)
from whalefall.application.ports.sessions import RecordView, SessionView
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.work import RecordContext
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import PermissionFacts
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def classification(cid: int, code: str, *, priority: int = 0, risk: int = 4, active: bool = True) -> ClassificationView:
    return ClassificationView(id=cid, code=code, display_name=code, description=None, risk_level=risk,
                              priority=priority, icon="tag", is_system=False, is_active=active, rule_count=0,
                              account_count=0, created_at=T0, updated_at=T0, revision=1)


class MemoryClassificationStore(ClassificationStore):
    """Only what evaluation reads: classifications, active rules and the counter."""

    def __init__(self) -> None:
        self.classifications: dict[int, ClassificationView] = {}
        self.rules: dict[int, tuple[ActiveRule, bool, bool]] = {}  # rule → (active, deleted)
        self.revision = 0

    def add_rule(self, rule_id: int, classification_id: int, db_type: DbEngine, expr: Mapping[str, Any],
                 rule_revision: int = 1) -> None:
        self.rules[rule_id] = (ActiveRule(id=rule_id, classification_id=classification_id, db_type=db_type,
                                          rule_revision=rule_revision, expression={"version": 4, "expr": expr}),
                               True, False)
        self.revision += 1

    def set_rule(self, rule_id: int, *, active: bool | None = None, deleted: bool | None = None,
                 expr: Mapping[str, Any] | None = None) -> None:
        rule, is_active, is_deleted = self.rules[rule_id]
        if expr is not None:
            rule = replace(rule, expression={"version": 4, "expr": expr}, rule_revision=rule.rule_revision + 1)
        self.rules[rule_id] = (rule, is_active if active is None else active,
                               is_deleted if deleted is None else deleted)
        self.revision += 1

    async def all_classifications(self) -> list[ClassificationView]:
        return list(self.classifications.values())

    async def rules_revision(self) -> int:
        return self.revision

    async def bump_rules_revision(self) -> int:
        self.revision += 1
        return self.revision

    async def active_rules(self, engines: frozenset[DbEngine]) -> list[ActiveRule]:
        return sorted((r for r, active, deleted in self.rules.values()
                       if active and not deleted and self.classifications[r.classification_id].is_active
                       and (not engines or r.db_type in engines)), key=lambda r: r.id)

    async def get_classification(self, classification_id: int) -> ClassificationView | None:
        return self.classifications.get(classification_id)

    async def list_classifications(self, query: ClassificationQuery, page: PageRequest) -> Page[ClassificationView]:
        raise NotImplementedError

    async def insert_classification(self, data: NewClassification, *, now: datetime) -> ClassificationView:
        raise NotImplementedError

    async def update_classification(self, classification_id: int, changes: Mapping[str, object], *,
                                    now: datetime) -> ClassificationView:
        raise NotImplementedError

    async def classification_usage(self, classification_id: int) -> tuple[int, int]:
        raise NotImplementedError

    async def delete_classification(self, classification_id: int) -> None:
        raise NotImplementedError

    async def list_rules(self, query: RuleQuery, page: PageRequest) -> Page[RuleView]:
        raise NotImplementedError

    async def get_rule(self, rule_id: int) -> RuleView | None:
        raise NotImplementedError

    async def live_rule_named(self, classification_id: int, db_type: DbEngine, name: str) -> int | None:
        raise NotImplementedError

    async def active_rule_with_fingerprint(self, classification_id: int, db_type: DbEngine,
                                           fingerprint: str) -> int | None:
        raise NotImplementedError

    async def insert_rule(self, data: NewRule, *, now: datetime) -> RuleView:
        raise NotImplementedError

    async def update_rule(self, rule_id: int, changes: Mapping[str, object], *, new_revision: bool, now: datetime,
                          actor_id: int | None, actor_name: str | None) -> RuleView:
        raise NotImplementedError

    async def soft_delete_rule(self, rule_id: int, *, now: datetime) -> RuleView:
        raise NotImplementedError

    async def rule_revisions(self, rule_id: int, page: PageRequest) -> Page[RuleRevisionView]:
        raise NotImplementedError

    async def revision_at(self, rule_id: int, at: datetime) -> RuleRevisionView | None:
        raise NotImplementedError


@dataclass
class Row:
    id: int
    account_id: int
    classification_id: int
    source: str
    instance_id: int
    matched_rules: tuple[tuple[int, int], ...]
    is_primary: bool
    assigned_at: datetime
    writes: int = 0


class MemoryAssignmentStore(AssignmentStore):
    """Rows, history and errors held in lists; writes only become visible on `MemoryUnitOfWork.commit`."""

    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}
        self.stretches: list[HistoryView] = []
        self.errors: list[ErrorRow] = []
        self.pending: list[ApplyPlan] = []
        self.fail_apply = False
        self.next_id = 1
        self.row_writes = 0

    def add_manual(self, account_id: int, classification_id: int, instance_id: int) -> None:
        self.rows[self.next_id] = Row(self.next_id, account_id, classification_id, "manual", instance_id, (), False,
                                      T0)
        self.next_id += 1

    def auto(self) -> dict[tuple[int, int], Row]:
        return {(r.account_id, r.classification_id): r for r in self.rows.values() if r.source == "auto"}

    async def lock_auto(self, engine: DbEngine, instance_ids: Sequence[int] | None) -> list[StoredAuto]:
        return [StoredAuto(id=r.id, account_id=r.account_id, classification_id=r.classification_id,
                           instance_id=r.instance_id, matched_rules=r.matched_rules, is_primary=r.is_primary)
                for r in self.rows.values() if r.source == "auto"
                and (instance_ids is None or r.instance_id in instance_ids)]

    async def manual_pairs(self, account_ids: Sequence[int]) -> list[tuple[int, int]]:
        return [(r.account_id, r.classification_id) for r in self.rows.values()
                if r.source == "manual" and r.account_id in account_ids]

    async def apply(self, plan: ApplyPlan) -> None:
        if self.fail_apply:
            raise RuntimeError("injected failure during apply")
        self.pending.append(plan)

    def commit(self) -> None:
        for plan in self.pending:
            for row_id in plan.delete:
                row = self.rows.pop(row_id)
                self.stretches = [replace(h, valid_to=plan.started_at)
                                if (h.account_id, h.classification_id, h.source, h.valid_to)
                                == (row.account_id, row.classification_id, "auto", None) else h
                                for h in self.stretches]
                self.row_writes += 1
            for w in plan.insert:
                assert (w.account_id, w.classification_id) not in self.auto(), "duplicate auto assignment"
                self.rows[self.next_id] = Row(self.next_id, w.account_id, w.classification_id, "auto",
                                              w.instance_id, w.matched_rules, w.is_primary, plan.started_at)
                self.stretches.append(HistoryView(account_id=w.account_id, classification_id=w.classification_id,
                                                source="auto", valid_from=plan.started_at, valid_to=None,
                                                rule_ids=tuple(r for r, _ in w.matched_rules)))
                self.next_id += 1
                self.row_writes += 1
            for w in plan.update:
                row = self.auto()[(w.account_id, w.classification_id)]
                row.matched_rules, row.is_primary = w.matched_rules, w.is_primary
                self.row_writes += 1
            for r in self.rows.values():
                if r.source == "manual" and r.account_id in plan.accounts:
                    r.is_primary = (r.account_id, r.classification_id) in plan.manual_primary
            self.errors = [e for e in self.errors if plan.instance_ids is not None
                           and e.instance_id not in plan.instance_ids] + list(plan.errors)
        self.pending.clear()

    def rollback(self) -> None:
        self.pending.clear()

    async def list(self, query: AssignmentQuery, page: PageRequest) -> Page[AssignmentView]:
        raise NotImplementedError

    async def get(self, assignment_id: int) -> AssignmentView | None:
        raise NotImplementedError

    async def history(self, query: AssignmentQuery, page: PageRequest) -> Page[HistoryView]:
        raise NotImplementedError

    async def insert_manual(self, *, account_id: int, classification_id: int, instance_id: int, db_type: DbEngine,
                            note: str | None, actor_id: int | None, actor_name: str | None,
                            now: datetime) -> AssignmentView:
        raise NotImplementedError

    async def delete_manual(self, assignment_id: int, *, now: datetime) -> None:
        raise NotImplementedError

    async def current_counts(self, engines: frozenset[DbEngine],
                             instance_ids: frozenset[int]) -> dict[int, dict[str, int]]:
        raise NotImplementedError

    async def rule_hits(self) -> dict[int, int]:
        raise NotImplementedError

    async def error_counts(self) -> dict[int, int]:
        raise NotImplementedError


class MemoryUnitOfWork(UnitOfWork):
    def __init__(self, assignments: MemoryAssignmentStore) -> None:
        self.assignments = assignments
        self.committed = 0

    async def commit(self) -> None:
        self.assignments.commit()
        self.committed += 1

    async def rollback(self) -> None:
        self.assignments.rollback()


@dataclass
class FixedFactsSource(AccountFactsSource):
    """Accounts per engine: account id → (instance id, facts or None)."""

    accounts: dict[int, tuple[int, DbEngine, PermissionFacts | None]] = field(default_factory=dict)
    instances: dict[int, DbEngine] = field(default_factory=dict)

    async def scope(self, engine: DbEngine, instance_ids: frozenset[int] | None, *, as_of: datetime,
                    at: datetime | None = None) -> FactsScope:
        chosen = sorted(i for i, e in self.instances.items() if e is engine
                        and (instance_ids is None or i in instance_ids))
        return FactsScope(accounts=tuple(
            ScopedAccount(account_id=a, instance_id=i, facts=f.at(as_of) if f is not None else None)
            for a, (i, e, f) in sorted(self.accounts.items()) if e is engine and i in chosen),
            instance_ids=tuple(chosen))

    async def account(self, account_id: int, *, as_of: datetime, at: datetime | None = None) -> AccountFacts | None:
        found = self.accounts.get(account_id)
        if found is None:
            return None
        instance, engine, facts = found
        return AccountFacts(account_id=account_id, instance_id=instance, engine=engine,
                            facts=facts.at(as_of) if facts is not None else None)

    async def instances_of(self, instance_ids: frozenset[int] | None,
                           db_types: frozenset[DbEngine]) -> dict[int, DbEngine]:
        return {i: e for i, e in self.instances.items()
                if (instance_ids is None or i in instance_ids) and (not db_types or e in db_types)}


def context(engine: DbEngine, *, instance_ids: list[int] | None = None, session_id: str = "s-1",
            cancel: bool = False, fence_ok: bool = True) -> RecordContext:
    record = RecordView(id=1, session_id=session_id, kind=SessionKind.CLASSIFICATION, item_type="engine",
                        item_key=engine.value, instance_id=None, instance_name=None, status=RecordStatus.RUNNING,
                        attempt=1, dispatch_count=1, lease_owner="w", lease_expires_at=None, heartbeat_at=None,
                        started_at=T0, finished_at=None, error_code=None, error_class=None, error_message=None)
    params: dict[str, object] = {"instance_ids": instance_ids} if instance_ids is not None else {}
    session = SessionView(id=session_id, kind=SessionKind.CLASSIFICATION, scope=SessionScope.FLEET,
                          trigger=SessionTrigger.MANUAL, status=SessionStatus.RUNNING, job_id=None,
                          pipeline_run_id=None, step_name=None, created_by=None, created_by_name=None,
                          origin_request_id=None, params=params, summary={}, total=1, pending=0, running=1,
                          succeeded=0, failed=0, skipped=0, cancelled=0, created_at=T0, started_at=T0,
                          finished_at=None, cancel_requested_at=None, error_code=None, error_message=None)

    async def fence() -> None:
        if not fence_ok:
            from whalefall.application.sessions.work import LeaseLostError
            raise LeaseLostError()

    async def check_cancel() -> None:
        if cancel:
            from whalefall.application.sessions.work import RecordCancelledError
            raise RecordCancelledError()

    return RecordContext(record=record, session=session, worker_id="w", fence=fence, check_cancel=check_cancel)
