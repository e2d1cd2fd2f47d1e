"""The typed engine registry behind the connector port: one entry per DbEngine with its opener and capability
flags (STYLE.md §8). The only importer of the engine modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from whalefall.adapters.connectors import mysql, oracle, postgresql, sqlserver
from whalefall.adapters.connectors._shared import ConnectorContext, ConnectorOptions
from whalefall.adapters.connectors._threads import DriverThreads
from whalefall.adapters.connectors.outbound import OutboundGuard, Resolver, system_resolver
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import (
    Capability,
    Connector,
    ConnectorError,
    ConnectorFactory,
    ConnectorTimeouts,
)
from whalefall.application.ports.metrics import NO_CONNECTOR_METRICS, ConnectorMetrics
from whalefall.domain.instances import ConnectionTarget, DbEngine, OutboundAllowList
from whalefall.domain.sessions.backoff import ErrorClass

__all__ = ["ConnectorOptions", "ConnectorRegistry", "DriverThreads", "EngineSupport"]

ConnectorOpener = Callable[[ConnectionTarget, ConnectorTimeouts, ConnectorContext],
                           AbstractAsyncContextManager[Connector]]


@dataclass(frozen=True, slots=True)
class EngineSupport:
    open: ConnectorOpener
    capabilities: frozenset[Capability]


_ENGINES: Final[Mapping[DbEngine, EngineSupport]] = MappingProxyType({
    DbEngine.MYSQL: EngineSupport(mysql.open_connector, mysql.CAPABILITIES),
    DbEngine.POSTGRESQL: EngineSupport(postgresql.open_connector, postgresql.CAPABILITIES),
    DbEngine.SQLSERVER: EngineSupport(sqlserver.open_connector, sqlserver.CAPABILITIES),
    DbEngine.ORACLE: EngineSupport(oracle.open_connector, oracle.CAPABILITIES),
})
#: Only SQL Server logs in with a Windows (NTLM) credential; every engine takes passwords.
_AUTH_METHODS: Final[Mapping[DbEngine, frozenset[str]]] = MappingProxyType({
    DbEngine.MYSQL: frozenset({"password"}), DbEngine.POSTGRESQL: frozenset({"password"}),
    DbEngine.SQLSERVER: frozenset({"password", "windows"}), DbEngine.ORACLE: frozenset({"password"}),
})


class ConnectorRegistry(ConnectorFactory):
    """Opens connectors through `_ENGINES`; built from plain arguments (the container passes settings values).

    The one place every outbound connection passes (connection tests, syncs, collections): with an `outbound`
    allow-list, a target is checked (names resolved first) before the engine module is even called, so a denied
    target is never contacted and entering the connector raises ConnectorError CONFIG_ERROR.

    Every ConnectorError leaving a connector's block (raised on entry or by a call inside it) is counted once in
    `whalefall_connector_errors_total{db_type,error_class}`; an error the caller catches inside the block is its
    own business and is not counted."""

    def __init__(self, *, clock: Clock, threads: DriverThreads, options: ConnectorOptions | None = None,
                 outbound: OutboundAllowList | None = None, resolver: Resolver = system_resolver,
                 metrics: ConnectorMetrics = NO_CONNECTOR_METRICS) -> None:
        self._context = ConnectorContext(threads=threads, clock=clock, options=options or ConnectorOptions())
        self._guard = OutboundGuard(outbound, resolver=resolver)
        self._metrics = metrics

    def capabilities(self, engine: DbEngine) -> frozenset[Capability]:
        return _ENGINES[engine].capabilities

    def open(self, target: ConnectionTarget, timeouts: ConnectorTimeouts) -> AbstractAsyncContextManager[Connector]:
        """Raises ConnectorError(CONFIG_ERROR) on entry for an auth method the engine's driver cannot use, and
        (code OUTBOUND_NOT_ALLOWED) for a target outside the outbound allow-list."""
        return _Counted(self._open(target, timeouts), target.db_type, self._metrics)

    def _open(self, target: ConnectionTarget, timeouts: ConnectorTimeouts) -> AbstractAsyncContextManager[Connector]:
        if target.auth_method not in _AUTH_METHODS[target.db_type]:
            return _Refused(ConnectorError(
                ErrorClass.CONFIG_ERROR, f"{target.db_type.value} does not support auth method {target.auth_method}",
                error_code="CONFIG_ERROR"))
        opener = _ENGINES[target.db_type].open
        if self._guard.allow is None:
            return opener(target, timeouts, self._context)
        return _Guarded(self._guard, lambda: opener(target, timeouts, self._context), target, timeouts.connect_s)


class _Counted(AbstractAsyncContextManager[Connector]):
    """Counts the ConnectorError that leaves the block (on entry, or raised inside it) by engine and class."""

    def __init__(self, inner: AbstractAsyncContextManager[Connector], engine: DbEngine,
                 metrics: ConnectorMetrics) -> None:
        self._inner = inner
        self._engine = engine
        self._metrics = metrics

    async def __aenter__(self) -> Connector:
        try:
            return await self._inner.__aenter__()
        except ConnectorError as exc:
            self._count(exc)
            raise

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        error = exc_info[1] if len(exc_info) > 1 else None
        if isinstance(error, ConnectorError):
            self._count(error)
        return await self._inner.__aexit__(*exc_info)

    def _count(self, error: ConnectorError) -> None:
        self._metrics.connector_error(db_type=self._engine.value, error_class=str(error.error_class))


class _Guarded(AbstractAsyncContextManager[Connector]):
    """Checks the allow-list on entry and only then opens the engine's connector (the opener is not called for a
    denied target)."""

    def __init__(self, guard: OutboundGuard, opener: Callable[[], AbstractAsyncContextManager[Connector]],
                 target: ConnectionTarget, resolve_timeout_s: float) -> None:
        self._guard = guard
        self._opener = opener
        self._target = target
        self._resolve_timeout_s = resolve_timeout_s
        self._inner: AbstractAsyncContextManager[Connector] | None = None

    async def __aenter__(self) -> Connector:
        await self._guard.check(self._target, resolve_timeout_s=self._resolve_timeout_s)
        self._inner = self._opener()
        return await self._inner.__aenter__()

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        if self._inner is None:
            return None
        return await self._inner.__aexit__(*exc_info)


class _Refused(AbstractAsyncContextManager[Connector]):
    """A target that is refused before any contact: entering raises the error."""

    def __init__(self, error: ConnectorError) -> None:
        self._error = error

    async def __aenter__(self) -> Connector:
        raise self._error

    async def __aexit__(self, *exc_info: object) -> None:
        return None
