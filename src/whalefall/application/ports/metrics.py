"""Metrics ports (operations.md §9): the scrape-time exposition, request observations and fleet gauges."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Protocol


class MetricsExposition(Protocol):
    """Renders every metric of the process in the Prometheus text format 0.0.4."""

    @abstractmethod
    async def render(self) -> str:
        """The whole exposition; scrape-time gauges are refreshed (or served from their short cache) first."""


class RequestMetrics(Protocol):
    """Counts HTTP requests; labels are the method, the route TEMPLATE (never the raw path) and the status."""

    @abstractmethod
    def observe_request(self, *, method: str, route: str, status: int, duration_s: float) -> None:
        """Never raises and never blocks."""


class FleetGaugeReader(Protocol):
    """Fleet figures computed from the metadata store at scrape time (same value on every replica)."""

    @abstractmethod
    async def instance_counts(self) -> Mapping[tuple[str, str], int]:
        """(db_type, status) → non-zero count; status is `active`, `inactive` or `deleted`."""
