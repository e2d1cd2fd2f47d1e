"""Providers of the dashboard's cross-slice pieces: partition health for any reader, the invalidation of finalised
sessions, fires and pipeline runs, the counted cache and the capacity gauges read from the dashboard's figures."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

from dishka import Provider, Scope, decorate, provide

from whalefall.adapters.observability.metrics import (
    CapacityExposition,
    CapacityGauges,
    CountingCache,
    MetricsRegistry,
)
from whalefall.application.dashboard.invalidation import CacheDashboardRefresh, DashboardInvalidator
from whalefall.application.partitions.partition_status import InspectPartitions
from whalefall.application.ports.cache import Cache
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.dashboard import DashboardReader, DashboardRefresh, PartitionHealthReader, Section
from whalefall.application.ports.metrics import MetricsExposition
from whalefall.application.shared.actor import Actor
from whalefall.entrypoints.settings import Settings


class InspectedPartitionHealth(PartitionHealthReader):
    """The partitions section from the partitions slice's own health check. The figures are the same for every
    dashboard reader (api.md §3.18), so it is read as the system, not as the caller (who may lack
    `partitions:read`); only failing checks are listed."""

    def __init__(self, inspect: InspectPartitions) -> None:
        self._inspect = inspect

    async def partition_health(self) -> Section:
        health = await self._inspect.health(Actor.system("dashboard"))
        last: Any = asdict(health.last_maintenance) if health.last_maintenance is not None else None
        return {"status": health.status, "next_maintenance_at": health.next_maintenance_at,
                "last_maintenance": last,
                "checks": [asdict(check) for check in health.checks if check.status != "ok"]}


class DashboardProvider(Provider):
    @provide(scope=Scope.REQUEST)
    def partition_health(self, inspect: InspectPartitions) -> PartitionHealthReader:
        return InspectedPartitionHealth(inspect)

    @provide(scope=Scope.APP)
    def invalidator(self, cache: Cache) -> DashboardInvalidator:
        return DashboardInvalidator(cache)

    @provide(scope=Scope.APP)
    def refresh(self, cache: Cache) -> DashboardRefresh:
        return CacheDashboardRefresh(cache)

    @decorate
    def counted_cache(self, cache: Cache, registry: MetricsRegistry) -> Cache:
        """`whalefall_cache_requests_total{cache,result}` around the process's one cache (declared after the
        cache's provider, in the last provider of the container)."""
        return CountingCache(cache, registry)

    @provide(scope=Scope.APP)
    def capacity_gauges(self, registry: MetricsRegistry) -> CapacityGauges:
        return CapacityGauges(registry)

    @decorate
    def capacity_exposition(self, exposition: MetricsExposition, gauges: CapacityGauges, reader: DashboardReader,
                            clock: Clock, settings: Settings) -> MetricsExposition:
        """The `whalefall_capacity_*` gauges from the dashboard's capacity query (the same figures, 15 s cache)."""
        zone = ZoneInfo(settings.timezone)
        return CapacityExposition(exposition, gauges, reader, lambda: clock.now().astimezone(zone).date())
