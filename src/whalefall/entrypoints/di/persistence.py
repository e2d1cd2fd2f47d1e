"""Providers of the metadata store: Database (APP), unit of work and repositories (REQUEST)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide

from whalefall.adapters.persistence.audit import SqlAlchemyAuditLog
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.identity import (
    SqlAlchemyAccessTokenDenyList,
    SqlAlchemyRefreshTokenRepository,
    SqlAlchemyUserRepository,
)
from whalefall.adapters.persistence.instances import (
    SqlAlchemyCredentialRepository,
    SqlAlchemyInstanceRepository,
    SqlAlchemyTagRepository,
)
from whalefall.adapters.persistence.migrations.runner import SqlAlchemyStoreProbe
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.audit import AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.health import StoreProbe
from whalefall.application.ports.identity import AccessTokenDenyList, RefreshTokenRepository, UserRepository
from whalefall.application.ports.instances import CredentialRepository, InstanceRepository, TagRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.entrypoints.settings import Settings


class PersistenceProvider(Provider):
    @provide(scope=Scope.APP)
    async def database(self, settings: Settings) -> AsyncIterator[Database]:
        # Pool sized for the worker: each record task holds at most one connection at a time (the runner releases
        # its own before waiting on another), plus the runtime's claim/finish/cancel batches and heartbeats. With
        # the default 10 + 10 overflow, 64 tasks churned through ~1 new PostgreSQL connection per record.
        concurrency = settings.get("worker.concurrency", 32)
        database = Database(settings.effective_database_url, pool_size=max(10, concurrency // 2 + 4))
        try:
            yield database
        finally:
            await database.dispose()

    @provide(scope=Scope.APP)
    def store_probe(self, database: Database) -> StoreProbe:
        return SqlAlchemyStoreProbe(database)

    @provide(scope=Scope.REQUEST)
    async def sqlalchemy_uow(self, database: Database) -> AsyncIterator[SqlAlchemyUnitOfWork]:
        uow = SqlAlchemyUnitOfWork(database)
        try:
            yield uow
        finally:
            await uow.close()

    @provide(scope=Scope.REQUEST)
    def uow(self, uow: SqlAlchemyUnitOfWork) -> UnitOfWork:
        return uow

    @provide(scope=Scope.REQUEST)
    def instances(self, uow: SqlAlchemyUnitOfWork) -> InstanceRepository:
        return SqlAlchemyInstanceRepository(uow)

    @provide(scope=Scope.REQUEST)
    def credentials(self, uow: SqlAlchemyUnitOfWork) -> CredentialRepository:
        return SqlAlchemyCredentialRepository(uow)

    @provide(scope=Scope.REQUEST)
    def tags(self, uow: SqlAlchemyUnitOfWork) -> TagRepository:
        return SqlAlchemyTagRepository(uow)

    @provide(scope=Scope.REQUEST)
    def users(self, uow: SqlAlchemyUnitOfWork) -> UserRepository:
        return SqlAlchemyUserRepository(uow)

    @provide(scope=Scope.REQUEST)
    def refresh_tokens(self, uow: SqlAlchemyUnitOfWork) -> RefreshTokenRepository:
        return SqlAlchemyRefreshTokenRepository(uow)

    @provide(scope=Scope.REQUEST)
    def deny_list(self, uow: SqlAlchemyUnitOfWork) -> AccessTokenDenyList:
        return SqlAlchemyAccessTokenDenyList(uow)

    @provide(scope=Scope.REQUEST)
    def audit(self, uow: SqlAlchemyUnitOfWork, clock: Clock) -> AuditLog:
        return SqlAlchemyAuditLog(uow, clock)
