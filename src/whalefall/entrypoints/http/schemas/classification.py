"""Bodies of the classification routes (api.md §2 Classification, Rule, Assignment, Explanation; §3.9)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, ClassVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from whalefall.application.classification.assignments import Statistics
from whalefall.application.classification.dry_run import DryRunResult
from whalefall.application.classification.explain_rule import ExplainResult
from whalefall.application.classification.rules import RuleCheck
from whalefall.application.classification.statistics_trend import Trend
from whalefall.application.ports.classification import (
    AssignmentView,
    ClassificationView,
    HistoryView,
    RuleRevisionView,
    RuleView,
)
from whalefall.application.ports.sessions import SessionView
from whalefall.domain.instances import DbEngine

Code = Annotated[str, Meta(min_length=1, max_length=100)]
DisplayName = Annotated[str, Meta(min_length=1, max_length=100)]
Icon = Annotated[str, Meta(min_length=1, max_length=64)]
RuleName = Annotated[str, Meta(min_length=1, max_length=100)]
#: A rule document: a JSON object (or JSON text) checked by the DSL validator, never by the schema.
Expression = dict[str, Any] | str
_CLASSIFICATION_READ_ONLY = frozenset({"id", "is_system", "rule_count", "account_count", "created_at",
                                       "updated_at"})
_RULE_READ_ONLY = frozenset({"id", "rule_revision", "warnings", "matched_account_count", "created_by",
                             "created_at", "updated_at", "deleted_at"})


class ClassificationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = _CLASSIFICATION_READ_ONLY | {"revision"}
    code: Code
    display_name: DisplayName
    description: str | None = None
    risk_level: int = 4
    priority: int = 0
    icon: Icon = "tag"
    is_active: bool = True


class ClassificationPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = _CLASSIFICATION_READ_ONLY | {"code"}
    display_name: DisplayName | UnsetType = UNSET
    description: str | None | UnsetType = UNSET
    risk_level: int | UnsetType = UNSET
    priority: int | UnsetType = UNSET
    icon: Icon | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    revision: int | None = None

    def changes(self) -> dict[str, object]:
        return {name: value for name in ("display_name", "description", "risk_level", "priority", "icon",
                                         "is_active")
                if (value := getattr(self, name)) is not UNSET}


class ClassificationOut(msgspec.Struct, kw_only=True):
    id: int
    code: str
    display_name: str
    description: str | None
    risk_level: int
    priority: int
    icon: str
    is_system: bool
    is_active: bool
    rule_count: int
    account_count: int
    created_at: datetime
    updated_at: datetime
    revision: int

    @classmethod
    def of(cls, c: ClassificationView) -> ClassificationOut:
        return cls(id=c.id, code=c.code, display_name=c.display_name, description=c.description,
                   risk_level=c.risk_level, priority=c.priority, icon=c.icon, is_system=c.is_system,
                   is_active=c.is_active, rule_count=c.rule_count, account_count=c.account_count,
                   created_at=c.created_at, updated_at=c.updated_at, revision=c.revision)


class IdOut(msgspec.Struct, kw_only=True):
    id: int


class DeletedOut(msgspec.Struct, kw_only=True):
    id: int
    deleted_at: datetime | None


class RuleCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = _RULE_READ_ONLY | {"revision"}
    name: RuleName
    classification_id: int
    db_type: DbEngine
    expression: Expression
    description: str | None = None
    is_active: bool = True


class RulePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = _RULE_READ_ONLY | {"classification_id", "db_type"}
    name: RuleName | UnsetType = UNSET
    expression: Expression | UnsetType = UNSET
    description: str | None | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    revision: int | None = None

    def changes(self) -> dict[str, object]:
        return {name: value for name in ("name", "expression", "description", "is_active")
                if (value := getattr(self, name)) is not UNSET}


class IssueOut(msgspec.Struct, kw_only=True):
    code: str
    path: str
    message: str


class UserRefOut(msgspec.Struct, kw_only=True):
    id: int | None
    username: str | None


class RuleOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    classification_id: int
    db_type: str
    description: str | None
    expression: dict[str, Any]
    is_active: bool
    rule_revision: int
    warnings: list[IssueOut]
    matched_account_count: int | None
    created_by: UserRefOut | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    revision: int

    @classmethod
    def of(cls, r: RuleView) -> RuleOut:
        creator = UserRefOut(id=r.created_by, username=r.created_by_name) if r.created_by_name else None
        return cls(id=r.id, name=r.name, classification_id=r.classification_id, db_type=r.db_type.value,
                   description=r.description, expression=dict(r.expression), is_active=r.is_active,
                   rule_revision=r.rule_revision,
                   warnings=[IssueOut(code=w.code, path=w.path, message=w.message) for w in r.warnings],
                   matched_account_count=r.matched_account_count, created_by=creator, created_at=r.created_at,
                   updated_at=r.updated_at, deleted_at=r.deleted_at, revision=r.revision)


class RuleRevisionOut(msgspec.Struct, kw_only=True):
    rule_revision: int
    expression: dict[str, Any]
    fingerprint: str
    created_by: UserRefOut | None
    created_at: datetime
    superseded_at: datetime | None

    @classmethod
    def of(cls, r: RuleRevisionView) -> RuleRevisionOut:
        creator = UserRefOut(id=r.created_by, username=r.created_by_name) if r.created_by_name else None
        return cls(rule_revision=r.rule_revision, expression=dict(r.expression), fingerprint=r.fingerprint,
                   created_by=creator, created_at=r.created_at, superseded_at=r.superseded_at)


class DraftIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    db_type: DbEngine
    expression: Expression


class ProblemOut(msgspec.Struct, kw_only=True):
    code: str
    path: str
    message: str
    severity: str


class ValidateOut(msgspec.Struct, kw_only=True):
    valid: bool
    normalized: dict[str, Any] | None
    problems: list[ProblemOut]

    @classmethod
    def of(cls, check: RuleCheck) -> ValidateOut:
        return cls(valid=check.valid, normalized=dict(check.normalized) if check.normalized else None,
                   problems=[ProblemOut(code=p.code, path=p.path, message=p.message, severity=p.severity)
                             for p in check.problems])


class ExplainDraftIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    db_type: DbEngine
    expression: Expression
    account_id: int
    at: datetime | None = None


class ErrorItemOut(msgspec.Struct, kw_only=True):
    code: str
    path: str
    message: str


class ErrorBriefOut(msgspec.Struct, kw_only=True):
    code: str
    message: str


class ExplanationOut(msgspec.Struct, kw_only=True):
    rule_id: int | None
    rule_revision: int | None
    account_id: int
    at: datetime
    outcome: str
    matched: bool
    errors: list[ErrorItemOut]
    error: ErrorBriefOut | None
    tree: dict[str, Any] | None

    @classmethod
    def of(cls, e: ExplainResult) -> ExplanationOut:
        first = e.errors[0] if e.errors else None
        return cls(rule_id=e.rule_id, rule_revision=e.rule_revision, account_id=e.account_id, at=e.at,
                   outcome=e.outcome, matched=e.matched,
                   errors=[ErrorItemOut(code=x.code, path=x.path, message=x.message) for x in e.errors],
                   error=ErrorBriefOut(code=first.code, message=first.message) if first else None,
                   tree=dict(e.tree) if e.tree is not None else None)


class DryRunIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    draft: DraftIn
    compare_with_rule_id: int | None = None
    at: datetime | None = None
    instance_ids: list[int] | None = None
    sample_limit: Annotated[int, Meta(ge=0, le=200)] = 50


class SamplesOut(msgspec.Struct, kw_only=True):
    newly_matching: list[int]
    no_longer_matching: list[int]
    errored: list[int]


class ClassificationEffectOut(msgspec.Struct, kw_only=True):
    """Membership flips of the draft's classification; the id lists are capped at `sample_limit`."""

    classification_id: int
    gain_count: int
    lose_count: int
    gain: list[int]
    lose: list[int]


class DryRunOut(msgspec.Struct, kw_only=True):
    at: datetime
    evaluated_accounts: int
    matched: int
    compared_matched: int | None
    newly_matching: int
    no_longer_matching: int
    errored: int
    engines_without_facts: list[str]
    ledger_unknown_at_t: list[int]
    samples: SamplesOut
    classification_effect: ClassificationEffectOut | None = None

    @classmethod
    def of(cls, r: DryRunResult, sample_limit: int = 200) -> DryRunOut:
        samples = r.samples
        effect = r.classification_effect
        return cls(classification_effect=ClassificationEffectOut(
                       classification_id=effect.classification_id, gain_count=len(effect.gain),
                       lose_count=len(effect.lose), gain=list(effect.gain[:sample_limit]),
                       lose=list(effect.lose[:sample_limit])) if effect is not None else None,
                   at=r.at, evaluated_accounts=r.evaluated_accounts, matched=r.matched,
                   compared_matched=r.compared_matched, newly_matching=r.newly_matching,
                   no_longer_matching=r.no_longer_matching, errored=r.errored,
                   engines_without_facts=[e.value for e in r.engines_without_facts],
                   ledger_unknown_at_t=list(r.ledger_unknown_at_t),
                   samples=SamplesOut(newly_matching=list(samples.get("newly_matching", ())),
                                      no_longer_matching=list(samples.get("no_longer_matching", ())),
                                      errored=list(samples.get("errored", ()))))


class MatchedRuleOut(msgspec.Struct, kw_only=True):
    rule_id: int
    rule_revision: int


class AssignmentOut(msgspec.Struct, kw_only=True):
    id: int
    account_id: int
    classification_id: int
    source: str
    is_primary: bool
    rule_id: int | None
    rule_revision: int | None
    matched_rules: list[MatchedRuleOut]
    session_id: str | None
    assigned_by: UserRefOut | None
    assigned_at: datetime
    note: str | None

    @classmethod
    def of(cls, a: AssignmentView) -> AssignmentOut:
        by = UserRefOut(id=a.assigned_by, username=a.assigned_by_name) if a.assigned_by_name else None
        return cls(id=a.id, account_id=a.account_id, classification_id=a.classification_id, source=a.source,
                   is_primary=a.is_primary, rule_id=a.rule_id, rule_revision=a.rule_revision,
                   matched_rules=[MatchedRuleOut(rule_id=r, rule_revision=v) for r, v in a.matched_rules],
                   session_id=a.session_id, assigned_by=by, assigned_at=a.assigned_at, note=a.note)


class HistoryOut(msgspec.Struct, kw_only=True):
    account_id: int
    classification_id: int
    source: str
    valid_from: datetime
    valid_to: datetime | None
    rule_ids: list[int]

    @classmethod
    def of(cls, h: HistoryView) -> HistoryOut:
        return cls(account_id=h.account_id, classification_id=h.classification_id, source=h.source,
                   valid_from=h.valid_from, valid_to=h.valid_to, rule_ids=list(h.rule_ids))


class ManualAssignmentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    account_id: int
    classification_id: int
    note: str | None = None


class AutoClassifyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    instance_ids: Annotated[list[int], Meta(max_length=5000)] | None = None
    db_types: list[DbEngine] | None = None


class SessionReceiptOut(msgspec.Struct, kw_only=True):
    """Session receipt of a queued action (api.md §1.13)."""

    session_id: str
    kind: str
    scope: str
    status: str
    record_count: int
    status_url: str

    @classmethod
    def of(cls, s: SessionView) -> SessionReceiptOut:
        return cls(session_id=s.id, kind=s.kind.value, scope=s.scope.value, status=s.status.value,
                   record_count=s.total, status_url=f"/api/v1/sync-sessions/{s.id}")


class RuleStatOut(msgspec.Struct, kw_only=True):
    rule_id: int
    name: str
    matched_account_count: int
    error_count: int


class StatItemOut(msgspec.Struct, kw_only=True):
    classification: ClassificationOut
    account_count: int
    by_db_type: dict[str, int]
    rules: list[RuleStatOut]


class LastSessionOut(msgspec.Struct, kw_only=True):
    session_id: str
    finished_at: datetime


class StatisticsOut(msgspec.Struct, kw_only=True):
    as_of: datetime
    last_session: LastSessionOut | None
    unclassified_count: int
    items: list[StatItemOut]
    engines_without_facts: list[str]

    @classmethod
    def of(cls, s: Statistics) -> StatisticsOut:
        last = s.last_session
        return cls(as_of=s.as_of, unclassified_count=s.unclassified_count,
                   engines_without_facts=[e.value for e in s.engines_without_facts],
                   last_session=LastSessionOut(session_id=last.session_id, finished_at=last.finished_at)
                   if last else None, items=[
            StatItemOut(classification=ClassificationOut.of(i.classification), account_count=i.account_count,
                        by_db_type=dict(i.by_db_type),
                        rules=[RuleStatOut(rule_id=r.rule_id, name=r.name, error_count=r.error_count,
                                           matched_account_count=r.matched_account_count) for r in i.rules])
            for i in s.items])


class TrendPointOut(msgspec.Struct, kw_only=True):
    period_start: date
    period_end: date
    avg_count: float | None
    min_count: int | None
    max_count: int | None
    covered_days: int
    expected_days: int


class TrendSeriesOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    points: list[TrendPointOut]
    classification_id: int | None = None
    rule_id: int | None = None


class TrendOut(msgspec.Struct, kw_only=True):
    period_type: str
    series: list[TrendSeriesOut]

    @classmethod
    def of(cls, t: Trend) -> TrendOut:
        return cls(period_type=t.period_type.value, series=[
            TrendSeriesOut(classification_id=s.classification_id, rule_id=s.rule_id, points=[
                TrendPointOut(period_start=p.period_start, period_end=p.period_end, avg_count=p.avg_count,
                              min_count=p.min_count, max_count=p.max_count, covered_days=p.covered_days,
                              expected_days=p.expected_days) for p in s.points])
            for s in t.series])


def catalog_out(document: Mapping[str, object]) -> dict[str, object]:
    """The privilege catalog document as served (already JSON-shaped by the catalog)."""
    return dict(document)
