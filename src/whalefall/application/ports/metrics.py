"""Metrics ports (operations.md §9): the scrape-time exposition, request observations and fleet gauges."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from datetime import date, datetime
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


class CapacityGaugeReader(Protocol):
    """The dashboard's capacity figures (operations.md §7), read at scrape time for the `whalefall_capacity_*`
    gauges so the metrics and the dashboard never disagree."""

    @abstractmethod
    async def capacity(self, *, today: date) -> Mapping[str, object]:
        """At least `fleet_total_bytes`, `stale` and `incomplete_instances` (integers)."""


class RecordMetrics(Protocol):
    """Counts the runner's record outcomes (operations.md §9); never raises and never blocks (the runner's hot
    path). Labels are kinds, statuses, error classes and engines: bounded, never instance or user data."""

    @abstractmethod
    def record_finished(self, *, kind: str, status: str, error_class: str | None, db_type: str | None,
                        duration_s: float | None) -> None:
        """`whalefall_records_finished_total{kind,status,error_class}` and, with a duration (the record ran),
        `whalefall_record_duration_seconds{kind,db_type}`."""

    @abstractmethod
    def record_retried(self, *, kind: str, error_class: str) -> None:
        """`whalefall_retries_total{kind,error_class}`: one more attempt was scheduled after a connector error."""


class NoRecordMetrics(RecordMetrics):
    """Counts nothing (runners built without a metrics registry, e.g. in unit tests)."""

    def record_finished(self, *, kind: str, status: str, error_class: str | None, db_type: str | None,
                        duration_s: float | None) -> None:
        return None

    def record_retried(self, *, kind: str, error_class: str) -> None:
        return None


class ConnectorMetrics(Protocol):
    """Counts connector errors (operations.md §9); never raises."""

    @abstractmethod
    def connector_error(self, *, db_type: str, error_class: str) -> None:
        """`whalefall_connector_errors_total{db_type,error_class}`."""


class NoConnectorMetrics(ConnectorMetrics):
    """Counts nothing."""

    def connector_error(self, *, db_type: str, error_class: str) -> None:
        return None


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
NO_RECORD_METRICS: Final = NoRecordMetrics()
NO_CONNECTOR_METRICS: Final = NoConnectorMetrics()
