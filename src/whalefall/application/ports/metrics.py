"""Metrics ports (operations.md §9): the scrape-time exposition, request observations and fleet gauges."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Final, Protocol


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


class OperationsGaugeReader(Protocol):
    """Operations figures computed from the metadata store at scrape time (same value on every replica)."""

    @abstractmethod
    async def running_sessions(self) -> Mapping[str, int]:
        """Session kind → number of running sessions (kinds with none may be absent)."""

    @abstractmethod
    async def next_fires(self) -> Mapping[str, datetime]:
        """Job id → next fire instant of every enabled job that has one."""

    @abstractmethod
    async def last_partition_maintenance_success(self) -> datetime | None:
        """Finish time of the newest `partition_maintenance` session that ended `completed`."""

    @abstractmethod
    async def partition_figures(self) -> Mapping[str, tuple[int, int]]:
        """Partitioned table → (rows in its DEFAULT partition, monthly partitions after the current month); empty
        on a store without partitioning."""


class OperationsMetrics(Protocol):
    """Counts scheduler and pipeline events into the process's metrics (operations.md §9); never raises. Labels are
    job ids, pipeline and step names: bounded, operator-defined, never instance or user data."""

    @abstractmethod
    def job_fired(self, job_id: str, outcome: str) -> None:
        """`whalefall_scheduler_fires_total{job,outcome}` (fired, skipped_running, misfire_skipped)."""

    @abstractmethod
    def job_misfired(self, job_id: str) -> None:
        """`whalefall_scheduler_misfires_total{job}` (a missed instant older than the grace was skipped)."""

    @abstractmethod
    def pipeline_run_finished(self, pipeline: str, status: str) -> None:
        """`whalefall_pipeline_runs_total{pipeline,status}`."""

    @abstractmethod
    def pipeline_step_finished(self, pipeline: str, step: str, duration_s: float) -> None:
        """`whalefall_pipeline_step_duration_seconds{pipeline,step}`."""


class NoOperationsMetrics(OperationsMetrics):
    """Counts nothing (use cases built without a metrics registry, e.g. in unit tests)."""

    def job_fired(self, job_id: str, outcome: str) -> None:
        return None

    def job_misfired(self, job_id: str) -> None:
        return None

    def pipeline_run_finished(self, pipeline: str, status: str) -> None:
        return None

    def pipeline_step_finished(self, pipeline: str, step: str, duration_s: float) -> None:
        return None


NO_OPERATIONS_METRICS: Final = NoOperationsMetrics()
