"""Providers of access hardening: rate limits, the cache, API tokens, browser sessions (APP and REQUEST scope)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

from dishka import Provider, Scope, provide, provide_all

from whalefall.adapters.inmemory.cache import InMemoryCache
from whalefall.adapters.inmemory.rate_limits import InMemoryRateLimiter
from whalefall.adapters.persistence.access import SqlAlchemyApiTokenRepository, SqlAlchemyBrowserSessionRepository
from whalefall.adapters.persistence.dashboard import SqlAlchemyDashboardReader
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.adapters.redis.cache import RedisCache
from whalefall.adapters.redis.client import connect_redis
from whalefall.adapters.redis.rate_limits import RedisRateLimiter
from whalefall.application.dashboard.read_dashboard import ReadDashboard
from whalefall.application.identity.api_tokens import CreateApiToken, GetApiToken, ListApiTokens, RevokeApiToken
from whalefall.application.identity.authenticate_api_token import AuthenticateApiToken
from whalefall.application.identity.browser_sessions import (
    AuthenticateBrowserSession,
    EndBrowserSession,
    SessionPolicy,
    StartBrowserSession,
)
from whalefall.application.identity.login_throttle import LoginThrottle, ThrottlePolicy
from whalefall.application.identity.request_limits import PrincipalRateLimits
from whalefall.application.instances.export_instances import ExportInstances
from whalefall.application.instances.import_instances import ImportInstances
from whalefall.application.ports.access import ApiTokenRepository, BrowserSessionRepository
from whalefall.application.ports.audit import AuditLog
from whalefall.application.ports.cache import Cache
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.dashboard import DashboardReader, PartitionHealthReader
from whalefall.application.ports.instances import InstanceRepository
from whalefall.application.ports.locks import LockManager
from whalefall.application.ports.rate_limits import RateLimiter
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.exports import DEFAULT_MAX_ROWS
from whalefall.entrypoints.settings import Settings


class AccessProvider(Provider):
    @provide(scope=Scope.APP)
    async def rate_limiter(self, settings: Settings) -> AsyncIterator[RateLimiter]:
        if settings.redis_url is None:  # embedded mode: a single process
            yield InMemoryRateLimiter()
            return
        client = connect_redis(settings.redis_url)
        try:
            yield RedisRateLimiter(client, prefix="whalefall:rl:")
        finally:
            await client.aclose()

    @provide(scope=Scope.APP)
    async def cache(self, settings: Settings) -> AsyncIterator[Cache]:
        url = settings.cache_url or settings.redis_url
        if url is None:
            yield InMemoryCache()
            return
        client = connect_redis(url)
        try:
            yield RedisCache(client, prefix="whalefall:cache:")
        finally:
            await client.aclose()

    @provide(scope=Scope.APP)
    def throttle_policy(self, settings: Settings) -> ThrottlePolicy:
        return ThrottlePolicy(
            login_limit=settings.get("auth.login_rate_limit", 20),
            login_window_s=settings.get("auth.login_rate_window_s", 300),
            refresh_limit=settings.get("auth.refresh_rate_limit", 60),
            refresh_window_s=settings.get("auth.refresh_rate_window_s", 60),
            failure_threshold=settings.get("auth.lockout_threshold", 5),
            lockout_base_s=settings.get("auth.lockout_base_s", 900),
            lockout_max_s=settings.get("auth.lockout_max_s", 14_400))

    @provide(scope=Scope.APP)
    def request_limits(self, limiter: RateLimiter, settings: Settings) -> PrincipalRateLimits:
        """The per-principal limits of api.md §4.8 (settings `ratelimit.*`)."""
        return PrincipalRateLimits(limiter, settings.request_limits)

    @provide(scope=Scope.APP)
    def login_throttle(self, limiter: RateLimiter, policy: ThrottlePolicy) -> LoginThrottle:
        return LoginThrottle(limiter, policy)

    @provide(scope=Scope.APP)
    def optional_throttle(self, throttle: LoginThrottle) -> LoginThrottle | None:
        """Use cases that also run without a throttle (unit tests) take it as optional."""
        return throttle

    @provide(scope=Scope.APP)
    def session_policy(self, settings: Settings) -> SessionPolicy:
        return SessionPolicy(idle_s=settings.get("session.idle_timeout_s", 1800),
                             absolute_s=settings.get("session.absolute_timeout_s", 43_200))

    @provide(scope=Scope.REQUEST)
    def api_tokens(self, uow: SqlAlchemyUnitOfWork) -> ApiTokenRepository:
        return SqlAlchemyApiTokenRepository(uow)

    @provide(scope=Scope.REQUEST)
    def browser_sessions(self, uow: SqlAlchemyUnitOfWork) -> BrowserSessionRepository:
        return SqlAlchemyBrowserSessionRepository(uow)

    use_cases = provide_all(
        CreateApiToken, ListApiTokens, GetApiToken, RevokeApiToken, AuthenticateApiToken, StartBrowserSession,
        AuthenticateBrowserSession, EndBrowserSession, ImportInstances, scope=Scope.REQUEST,
    )

    @provide(scope=Scope.REQUEST)
    def dashboard_reader(self, uow: SqlAlchemyUnitOfWork) -> DashboardReader:
        return SqlAlchemyDashboardReader(uow)

    @provide(scope=Scope.REQUEST)
    def read_dashboard(self, reader: DashboardReader, cache: Cache, clock: Clock, settings: Settings,
                       locks: LockManager, partitions: PartitionHealthReader) -> ReadDashboard:
        return ReadDashboard(reader, cache, clock, settings.get("dashboard.ttl_s", 300), locks=locks,
                             partitions=partitions, zone=ZoneInfo(settings.timezone))

    @provide(scope=Scope.REQUEST)
    def export_instances(self, instances: InstanceRepository, audit: AuditLog, clock: Clock, uow: UnitOfWork,
                         settings: Settings) -> ExportInstances:
        return ExportInstances(instances, audit, clock, uow, settings.get("export.max_rows", DEFAULT_MAX_ROWS))
