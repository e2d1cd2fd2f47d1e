"""Providers of the dashboard's cross-slice pieces: partition health for any reader, and the invalidation listener
of finalised sessions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from dishka import Provider, Scope, provide

from whalefall.application.dashboard.invalidation import DashboardInvalidator
from whalefall.application.partitions.partition_status import InspectPartitions
from whalefall.application.ports.cache import Cache
from whalefall.application.ports.dashboard import PartitionHealthReader, Section
from whalefall.application.shared.actor import Actor


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
