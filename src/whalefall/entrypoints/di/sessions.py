"""Providers of the sessions store (REQUEST scope), the runner's side transactions (APP scope) and the session
use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from dishka import Provider, Scope, provide, provide_all

from whalefall.adapters.observability.metrics import MetricsRegistry, SessionMetricsListener
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.instances import SqlAlchemyInstanceRepository
from whalefall.adapters.persistence.sessions import SqlAlchemySessionStore
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.dashboard.invalidation import DashboardInvalidator
from whalefall.application.pipelines.advance_on_finalise import AdvancePipelineOnFinalise
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.metrics import RecordMetrics
from whalefall.application.ports.pipelines import PipelineAdvanceQueue
from whalefall.application.ports.sessions import SessionStore
from whalefall.application.ports.task_queue import TaskQueue
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.cancel_session import CancelSession
from whalefall.application.sessions.finalised import SessionFinalisedListeners
from whalefall.application.sessions.open_session import OpenSession, SessionDiscard
from whalefall.application.sessions.queries import GetSession, ListRecords, ListSessions
from whalefall.application.sessions.reap import ReaperConfig, ReapSessions, RedispatchPending
from whalefall.application.sessions.transactions import RunnerStore, SessionTransaction, SessionTransactions
from whalefall.entrypoints.di.classification import ClassifyAfterSyncListener


class StoreTransactions(SessionTransactions):
    """Each block gets its own connection and transaction on the metadata store."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def begin(self) -> AbstractAsyncContextManager[SessionTransaction]:
        return self._transaction(read_only=False)

    def read(self) -> AbstractAsyncContextManager[SessionTransaction]:
        return self._transaction(read_only=True)

    @asynccontextmanager
    async def _transaction(self, *, read_only: bool) -> AsyncIterator[SessionTransaction]:
        uow = SqlAlchemyUnitOfWork(self._database, read_only=read_only)
        try:
            yield SessionTransaction(SqlAlchemySessionStore(uow), SqlAlchemyInstanceRepository(uow))
            await uow.commit()
        finally:
            await uow.close()


class SessionsProvider(Provider):
    scope = Scope.REQUEST

    @provide
    def sqlalchemy_store(self, uow: SqlAlchemyUnitOfWork) -> SqlAlchemySessionStore:
        return SqlAlchemySessionStore(uow)

    @provide
    def store(self, store: SqlAlchemySessionStore) -> SessionStore:
        return store

    @provide
    def runner_store(self, store: SqlAlchemySessionStore) -> RunnerStore:
        return store

    @provide
    def discard(self, store: SqlAlchemySessionStore) -> SessionDiscard:
        return store

    @provide(scope=Scope.APP)
    def transactions(self, database: Database) -> SessionTransactions:
        return StoreTransactions(database)

    use_cases = provide_all(OpenSession, GetSession, ListSessions, ListRecords, RedispatchPending)

    @provide(scope=Scope.APP)
    def finalised_listeners(self, advance_queue: PipelineAdvanceQueue,
                            classify_after_sync: ClassifyAfterSyncListener,
                            dashboard: DashboardInvalidator, registry: MetricsRegistry) -> SessionFinalisedListeners:
        """Everything that reacts to a terminal session in this process; slices add their listener as a
        parameter here."""
        return SessionFinalisedListeners((AdvancePipelineOnFinalise(advance_queue), classify_after_sync, dashboard,
                                          SessionMetricsListener(registry)))

    @provide
    def cancel(self, store: SessionStore, uow: UnitOfWork, clock: Clock,
               finalised: SessionFinalisedListeners) -> CancelSession:
        return CancelSession(store, uow, clock, finalised)

    @provide
    def reap(self, store: SessionStore, queue: TaskQueue, uow: UnitOfWork, clock: Clock,
             config: ReaperConfig, finalised: SessionFinalisedListeners, metrics: RecordMetrics) -> ReapSessions:
        return ReapSessions(store, queue, uow, clock, config, finalised, metrics)
