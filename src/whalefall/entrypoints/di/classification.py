"""Providers of the classification context: stores, the ledger facts source, the compiled rule-set cache (one per
process) and its use cases, the `classification` record work included."""

from __future__ import annotations

from dataclasses import dataclass

from dishka import AsyncContainer, Provider, Scope, provide, provide_all

from whalefall.adapters.persistence.classification.assignments import SqlAlchemyAssignmentStore
from whalefall.adapters.persistence.classification.facts import SqlAlchemyAccountFactsSource
from whalefall.adapters.persistence.classification.pending_runs import SqlAlchemyPendingRuns
from whalefall.adapters.persistence.classification.statistics import SqlAlchemyClassificationStatsReader
from whalefall.adapters.persistence.classification.store import SqlAlchemyClassificationStore
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.classification.assignments import (
    CreateManualAssignment,
    DeleteManualAssignment,
    GetStatistics,
    ListAssignmentHistory,
    ListAssignments,
)
from whalefall.application.classification.classifications import (
    CreateClassification,
    DeleteClassification,
    GetClassification,
    ListClassifications,
    UpdateClassification,
)
from whalefall.application.classification.classify_record import ClassifyRecord
from whalefall.application.classification.dry_run import DryRunRule
from whalefall.application.classification.explain_rule import ExplainRule
from whalefall.application.classification.rule_sets import RuleSetCache
from whalefall.application.classification.rules import (
    CreateRule,
    DeleteRule,
    GetRule,
    ListRuleRevisions,
    ListRules,
    UpdateRule,
    ValidateRule,
)
from whalefall.application.classification.start_classification import StartClassification
from whalefall.application.classification.statistics_trend import GetStatisticsTrend
from whalefall.application.classification.triggers import (
    ClassifyAfterSync,
    FireDueClassification,
    TriggerSettings,
    WriteTrail,
)
from whalefall.application.ports.classification import (
    AccountFactsSource,
    AssignmentStore,
    ClassificationStatsReader,
    ClassificationStore,
    PendingRuns,
)
from whalefall.application.ports.sessions import SessionView
from whalefall.entrypoints.settings import Settings


@dataclass(frozen=True, slots=True)
class ClassifyAfterSyncListener:
    """Finalised-session listener: runs ClassifyAfterSync in its own request scope (one transaction)."""

    container: AsyncContainer

    async def session_finalised(self, session: SessionView) -> None:
        async with self.container() as scope:
            await (await scope.get(ClassifyAfterSync)).execute(session)


class ClassificationProvider(Provider):
    scope = Scope.REQUEST

    @provide(scope=Scope.APP)
    def rule_sets(self) -> RuleSetCache:
        return RuleSetCache()

    @provide
    def store(self, uow: SqlAlchemyUnitOfWork) -> ClassificationStore:
        return SqlAlchemyClassificationStore(uow)

    @provide
    def assignments(self, uow: SqlAlchemyUnitOfWork) -> AssignmentStore:
        return SqlAlchemyAssignmentStore(uow)

    @provide
    def facts(self, uow: SqlAlchemyUnitOfWork) -> AccountFactsSource:
        return SqlAlchemyAccountFactsSource(uow)

    @provide
    def stats(self, uow: SqlAlchemyUnitOfWork) -> ClassificationStatsReader:
        return SqlAlchemyClassificationStatsReader(uow)

    @provide
    def pending_runs(self, uow: SqlAlchemyUnitOfWork) -> PendingRuns:
        return SqlAlchemyPendingRuns(uow)

    @provide(scope=Scope.APP)
    def trigger_settings(self, settings: Settings) -> TriggerSettings:
        return TriggerSettings(after_sync=settings.get("classification.after_sync", True),
                               on_rule_change=settings.get("classification.on_rule_change", True))

    @provide(scope=Scope.APP)
    def after_sync_listener(self, container: AsyncContainer) -> ClassifyAfterSyncListener:
        return ClassifyAfterSyncListener(container)

    use_cases = provide_all(
        ListClassifications, GetClassification, CreateClassification, UpdateClassification, DeleteClassification,
        ListRules, GetRule, CreateRule, UpdateRule, DeleteRule, ListRuleRevisions, ValidateRule, ExplainRule,
        DryRunRule, ListAssignments, ListAssignmentHistory, CreateManualAssignment, DeleteManualAssignment,
        GetStatistics, StartClassification, ClassifyRecord, GetStatisticsTrend, WriteTrail, FireDueClassification,
        ClassifyAfterSync,
    )
