"""Providers of idempotency keys (api.md §1.14): the store on the request's unit of work and its use cases."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from whalefall.adapters.persistence.idempotency import SqlAlchemyIdempotencyStore
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.idempotency.keys import BeginIdempotentRequest, FinishIdempotentRequest
from whalefall.application.idempotency.purge_expired_keys import PurgeExpiredIdempotencyKeys
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.idempotency import IdempotencyStore
from whalefall.entrypoints.settings import Settings


class IdempotencyProvider(Provider):
    scope = Scope.REQUEST

    @provide
    def store(self, uow: SqlAlchemyUnitOfWork) -> IdempotencyStore:
        return SqlAlchemyIdempotencyStore(uow)

    @provide
    def begin(self, store: IdempotencyStore, clock: Clock, settings: Settings) -> BeginIdempotentRequest:
        return BeginIdempotentRequest(store, clock, ttl_s=settings.get("idempotency.ttl_s", 86_400),
                                      lock_s=settings.get("idempotency.lock_s", 300))

    @provide
    def finish(self, store: IdempotencyStore, clock: Clock) -> FinishIdempotentRequest:
        return FinishIdempotentRequest(store, clock)

    @provide
    def purge(self, store: IdempotencyStore, clock: Clock, settings: Settings) -> PurgeExpiredIdempotencyKeys:
        return PurgeExpiredIdempotencyKeys(store, clock,
                                           max_runtime_s=settings.get("retention.max_runtime_s", 1800.0))
