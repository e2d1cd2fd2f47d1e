"""A small metrics registry (counters, gauges, histograms with labels) rendered as Prometheus text 0.0.4.

Other slices add their metrics to the process registry (`MetricsRegistry.counter(...)` is idempotent per name).
Labels never carry instance, database or user names or ids (operations.md §9): callers pass bounded values only.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Final, TypeVar

from whalefall.application.errors import StoreUnavailableError
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.cache import Cache, CacheUnavailableError
from whalefall.application.ports.metrics import (
    CapacityGaugeReader,
    ConnectorMetrics,
    FleetGaugeReader,
    MetricsExposition,
    OperationsGaugeReader,
    OperationsMetrics,
    RecordMetrics,
    RequestMetrics,
)
from whalefall.application.ports.sessions import SessionView
from whalefall.application.sessions.finalised import SessionFinalisedListener
from whalefall.domain.instances import DbEngine

logger = logging.getLogger(__name__)
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STEP_BUCKETS: Final = (1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0)
#: One record's work: a connection test takes a second, a large sync or collection up to the 900 s deadline.
RECORD_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0)
#: Label value for "not applicable": no error class (completed records) or no engine (fleet-item records).
NONE_LABEL: Final = "none"
INSTANCE_STATUSES: Final = ("active", "inactive", "deleted")
LabelValues = tuple[str, ...]


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: Iterable[tuple[str, str]] = ()) -> str:
    pairs = [*zip(names, values, strict=True), *extra]
    if not pairs:
        return ""
    return "{" + ",".join(f'{name}="{_escape_label(value)}"' for name, value in pairs) + "}"


class _Metric:
    kind: str = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: Mapping[str, object]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {sorted(labels)}")
        return tuple(str(labels[name]) for name in self.labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:
        raise NotImplementedError


_M = TypeVar("_M", bound=_Metric)


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str]) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: object) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def set_total(self, value: float, **labels: object) -> None:
        """For counters mirrored from another component's own running total (the log sink)."""
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def value(self, **labels: object) -> float:
        return self._values.get(self._key(labels), 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.labelnames:
            items = [((), 0.0)]
        return [f"{self.name}{_labels(self.labelnames, key)} {_number(v)}" for key, v in items]


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str]) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}

    def set(self, value: float, **labels: object) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def replace(self, values: Mapping[LabelValues, float]) -> None:
        """Swap the whole series set at once (scrape-time gauges)."""
        with self._lock:
            self._values = {tuple(key): float(v) for key, v in values.items()}

    def value(self, **labels: object) -> float:
        return self._values.get(self._key(labels), 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.labelnames:
            items = [((), 0.0)]
        return [f"{self.name}{_labels(self.labelnames, key)} {_number(v)}" for key, v in items]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str],
                 buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        super().__init__(name, help_text, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[LabelValues, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, **labels: object) -> None:
        key = self._key(labels)
        with self._lock:
            counts, totals = self._series.setdefault(key, ([0] * (len(self.buckets) + 1), [0.0]))
            for index, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[index] += 1
            counts[-1] += 1
            totals[0] += value

    def count(self, **labels: object) -> int:
        series = self._series.get(self._key(labels))
        return series[0][-1] if series else 0

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted((key, (list(c), t[0])) for key, (c, t) in self._series.items())
        out: list[str] = []
        for key, (counts, total) in items:
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                labels = _labels(self.labelnames, key, [("le", _number(bound))])
                out.append(f"{self.name}_bucket{labels} {_number(count)}")
            out.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_number(total)}")
            out.append(f"{self.name}_count{_labels(self.labelnames, key)} {_number(counts[-1])}")
        return out


class MetricsRegistry:
    """The process's metrics. Creating a metric twice with the same name and kind returns the first one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, _Metric] = {}
        self._refreshers: list[Callable[[], Awaitable[None]]] = []
        self._collectors: list[Callable[[], None]] = []

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        return self._get(Counter, name, lambda: Counter(name, help_text, labelnames))

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self._get(Gauge, name, lambda: Gauge(name, help_text, labelnames))

    def histogram(self, name: str, help_text: str, labelnames: Sequence[str] = (),
                  buckets: Sequence[float] = DEFAULT_BUCKETS) -> Histogram:
        return self._get(Histogram, name, lambda: Histogram(name, help_text, labelnames, buckets))

    def add_collector(self, collect: Callable[[], None]) -> None:
        """A cheap synchronous callback run before each render (copies another component's counters in)."""
        self._collectors.append(collect)

    def add_refresher(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """An async callback awaited before each render (scrape-time gauges; it does its own caching)."""
        self._refreshers.append(refresh)

    async def refresh(self) -> None:
        for refresh in tuple(self._refreshers):
            await refresh()
        for collect in tuple(self._collectors):
            collect()

    def collect(self) -> None:
        """Run the synchronous collectors only (a process without a metadata-store scrape path)."""
        for collect in tuple(self._collectors):
            collect()

    def render(self) -> str:
        with self._lock:
            metrics = sorted(self._metrics.values(), key=lambda metric: metric.name)
        lines: list[str] = []
        for metric in metrics:
            lines.extend(metric.header())
            lines.extend(metric.lines())
        return "\n".join(lines) + "\n"

    def _get(self, kind: type[_M], name: str, make: Callable[[], _M]) -> _M:
        with self._lock:
            existing = self._metrics.get(name)
            if existing is None:
                existing = self._metrics[name] = make()
        if not isinstance(existing, kind):
            raise ValueError(f"metric {name} already exists as a {existing.kind}")
        return existing


class PrometheusExposition(MetricsExposition):
    """One scrape: refresh the fleet gauges through the request's own store reader, then render."""

    def __init__(self, registry: MetricsRegistry, fleet: FleetGauges, reader: FleetGaugeReader) -> None:
        self._registry = registry
        self._fleet = fleet
        self._reader = reader

    async def render(self) -> str:
        await self._fleet.refresh(self._reader)
        await self._registry.refresh()
        return self._registry.render()


class HttpRequestMetrics(RequestMetrics):
    """`whalefall_http_requests_total` and `whalefall_http_request_duration_seconds` (method, route, status)."""

    def __init__(self, registry: MetricsRegistry) -> None:
        labels = ("method", "route", "status")
        self._requests = registry.counter("whalefall_http_requests_total", "HTTP requests answered", labels)
        self._duration = registry.histogram("whalefall_http_request_duration_seconds",
                                            "HTTP request duration in seconds", labels)

    def observe_request(self, *, method: str, route: str, status: int, duration_s: float) -> None:
        self._requests.inc(method=method, route=route, status=status)
        self._duration.observe(max(duration_s, 0.0), method=method, route=route, status=status)


class FleetGauges:
    """`whalefall_instances{db_type,status}` from the store, recomputed at most every `ttl_s` seconds."""

    def __init__(self, registry: MetricsRegistry, *, ttl_s: float = 15.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._gauge = registry.gauge("whalefall_instances", "Instances by engine and status", ("db_type", "status"))
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._computed_at: float | None = None

    async def refresh(self, reader: FleetGaugeReader) -> None:
        now = self._monotonic()
        if self._computed_at is not None and now - self._computed_at < self._ttl_s:
            return
        try:
            counts = await reader.instance_counts()
        except StoreUnavailableError:
            return  # keep the last values; the scrape itself must still answer
        values: dict[LabelValues, float] = {(engine.value, status): 0.0 for engine in DbEngine
                                            for status in INSTANCE_STATUSES}
        values.update({key: float(n) for key, n in counts.items()})
        self._gauge.replace(values)
        self._computed_at = now


class CountingAuditLog(AuditLog):
    """Decorates the AuditLog port: counts `whalefall_audit_events_total{action,outcome}` and, for
    `auth.login.*` actions, `whalefall_login_attempts_total{outcome}`. Counted when recorded (a later rollback of
    the caller's transaction is not subtracted)."""

    def __init__(self, inner: AuditLog, registry: MetricsRegistry) -> None:
        self._inner = inner
        self._events = registry.counter("whalefall_audit_events_total", "Audit events recorded",
                                        ("action", "outcome"))
        self._logins = registry.counter("whalefall_login_attempts_total", "Login attempts", ("outcome",))

    async def record(self, entry: AuditEntry) -> None:
        await self._inner.record(entry)
        self._events.inc(action=entry.action, outcome=entry.outcome.value)
        if entry.action.startswith("auth.login."):
            self._logins.inc(outcome=entry.action.removeprefix("auth.login."))


class OperationsGauges:
    """Scrape-time operations gauges from the store, recomputed at most every `ttl_s` seconds (so every replica
    reports the same values): `whalefall_sessions_running{kind}` (every kind, zeros included),
    `whalefall_scheduler_next_fire_timestamp_seconds{job}` and
    `whalefall_partition_maintenance_last_success_timestamp_seconds` (absent until one succeeded),
    `whalefall_partition_default_rows{table}` and `whalefall_partition_future_months{table}` (PostgreSQL only)."""

    def __init__(self, registry: MetricsRegistry, kinds: Sequence[str], *, ttl_s: float = 15.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._running = registry.gauge("whalefall_sessions_running", "Running sessions by kind", ("kind",))
        self._next_fire = registry.gauge("whalefall_scheduler_next_fire_timestamp_seconds",
                                         "Next fire of each enabled job (Unix time)", ("job",))
        self._partitions = registry.gauge("whalefall_partition_maintenance_last_success_timestamp_seconds",
                                          "Finish of the last completed partition maintenance session (Unix time)")
        self._default_rows = registry.gauge("whalefall_partition_default_rows", "Rows in the DEFAULT partition",
                                            ("table",))
        self._future_months = registry.gauge("whalefall_partition_future_months",
                                             "Monthly partitions after the current month", ("table",))
        self._kinds = tuple(kinds)
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._computed_at: float | None = None

    async def refresh(self, reader: OperationsGaugeReader) -> None:
        now = self._monotonic()
        if self._computed_at is not None and now - self._computed_at < self._ttl_s:
            return
        try:
            running = await reader.running_sessions()
            fires = await reader.next_fires()
            maintained = await reader.last_partition_maintenance_success()
            partitions = await reader.partition_figures()
        except StoreUnavailableError:
            return  # keep the last values; the scrape itself must still answer
        self._running.replace({(kind,): float(running.get(kind, 0)) for kind in {*self._kinds, *running}})
        self._next_fire.replace({(job,): at.timestamp() for job, at in fires.items()})
        self._partitions.replace({} if maintained is None else {(): maintained.timestamp()})
        self._default_rows.replace({(table,): float(rows) for table, (rows, _) in partitions.items()})
        self._future_months.replace({(table,): float(months) for table, (_, months) in partitions.items()})
        self._computed_at = now


class OperationsExposition(MetricsExposition):
    """Decorates a scrape: the operations gauges are refreshed through the request's reader first."""

    def __init__(self, inner: MetricsExposition, gauges: OperationsGauges, reader: OperationsGaugeReader) -> None:
        self._inner = inner
        self._gauges = gauges
        self._reader = reader

    async def render(self) -> str:
        await self._gauges.refresh(self._reader)
        return await self._inner.render()


class SessionMetricsListener(SessionFinalisedListener):
    """`whalefall_sessions_finished_total{kind,status}`, counted by the process that finalised the session (sum
    over processes for the fleet figure). Listeners may hear the same session twice (two finalisation paths), so the
    last `remember` session ids are kept and a repeat is not counted again."""

    def __init__(self, registry: MetricsRegistry, *, remember: int = 10_000) -> None:
        self._finished = registry.counter("whalefall_sessions_finished_total", "Sessions that became terminal",
                                          ("kind", "status"))
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    async def session_finalised(self, session: SessionView) -> None:
        if session.id in self._seen:
            return
        self._seen[session.id] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        self._finished.inc(kind=session.kind.value, status=session.status.value)


class ReaperMetrics:
    """`whalefall_reaper_actions_total{action}` (worker_lost, redispatch, not_dispatched, finalised)."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self._actions = registry.counter("whalefall_reaper_actions_total", "Reaper actions", ("action",))
        for action in ("worker_lost", "redispatch", "not_dispatched", "finalised"):
            self._actions.inc(0, action=action)

    def observe(self, *, workers_lost: int, redispatched: int, not_dispatched: int, finalised: int) -> None:
        for action, count in (("worker_lost", workers_lost), ("redispatch", redispatched),
                              ("not_dispatched", not_dispatched), ("finalised", finalised)):
            if count:
                self._actions.inc(count, action=action)


class RegistryOperationsMetrics(OperationsMetrics):
    """The OperationsMetrics port over the process registry."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self._fires = registry.counter("whalefall_scheduler_fires_total", "Scheduler fires by job and outcome",
                                       ("job", "outcome"))
        self._misfires = registry.counter("whalefall_scheduler_misfires_total",
                                          "Missed instants skipped (older than scheduler.misfire_grace_s)", ("job",))
        self._runs = registry.counter("whalefall_pipeline_runs_total", "Pipeline runs finished",
                                      ("pipeline", "status"))
        self._steps = registry.histogram("whalefall_pipeline_step_duration_seconds", "Pipeline step duration",
                                         ("pipeline", "step"), buckets=STEP_BUCKETS)

    def job_fired(self, job_id: str, outcome: str) -> None:
        self._fires.inc(job=job_id, outcome=outcome)

    def job_misfired(self, job_id: str) -> None:
        self._misfires.inc(job=job_id)
        self._fires.inc(job=job_id, outcome="misfire_skipped")

    def pipeline_run_finished(self, pipeline: str, status: str) -> None:
        self._runs.inc(pipeline=pipeline, status=status)

    def pipeline_step_finished(self, pipeline: str, step: str, duration_s: float) -> None:
        self._steps.observe(max(duration_s, 0.0), pipeline=pipeline, step=step)



class RegistryRecordMetrics(RecordMetrics):
    """`whalefall_records_finished_total{kind,status,error_class}`, `whalefall_record_duration_seconds{kind,db_type}`
    and `whalefall_retries_total{kind,error_class}` over the process registry. Counted by the worker that wrote the
    terminal transition (sum over workers for the fleet figure); records ended by the reaper or by a cancellation
    of pending records are counted by `whalefall_reaper_actions_total` / the session counters instead. A record
    without error class or engine carries the label value `none` (an empty value would read as a missing label).
    Hot path: one dict update per counter, no allocation beyond the label tuple."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self._finished = registry.counter("whalefall_records_finished_total", "Records that became terminal",
                                          ("kind", "status", "error_class"))
        self._duration = registry.histogram("whalefall_record_duration_seconds",
                                            "Duration of a record's run, claim to terminal transition",
                                            ("kind", "db_type"), buckets=RECORD_BUCKETS)
        self._retries = registry.counter("whalefall_retries_total", "Attempts retried after a connector error",
                                         ("kind", "error_class"))

    def record_finished(self, *, kind: str, status: str, error_class: str | None, db_type: str | None,
                        duration_s: float | None) -> None:
        self._finished.inc(kind=kind, status=status, error_class=error_class or NONE_LABEL)
        if duration_s is not None:
            self._duration.observe(max(duration_s, 0.0), kind=kind, db_type=db_type or NONE_LABEL)

    def record_retried(self, *, kind: str, error_class: str) -> None:
        self._retries.inc(kind=kind, error_class=error_class)


class RegistryConnectorMetrics(ConnectorMetrics):
    """`whalefall_connector_errors_total{db_type,error_class}` over the process registry."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self._errors = registry.counter("whalefall_connector_errors_total",
                                        "Connector errors (connect or call) by engine and error class",
                                        ("db_type", "error_class"))

    def connector_error(self, *, db_type: str, error_class: str) -> None:
        self._errors.inc(db_type=db_type, error_class=error_class)


class CountingCache(Cache):
    """Decorates the Cache port: `whalefall_cache_requests_total{cache,result}`. `cache` is the first segment of the
    key (`dashboard` for `dashboard:v1:runs`: keys are code-defined, so the label is bounded). A `get` counts
    `hit` or `miss`; a failing operation of any kind counts `error` (operations.md §7: cache errors are counted,
    never raised past the caller's fallback) and the error is re-raised unchanged."""

    def __init__(self, inner: Cache, registry: MetricsRegistry) -> None:
        self._inner = inner
        self._requests = registry.counter("whalefall_cache_requests_total", "Cache requests by cache and result",
                                          ("cache", "result"))

    async def get(self, key: str) -> str | None:
        try:
            value = await self._inner.get(key)
        except CacheUnavailableError:
            self._requests.inc(cache=_cache_name(key), result="error")
            raise
        self._requests.inc(cache=_cache_name(key), result="miss" if value is None else "hit")
        return value

    async def set(self, key: str, value: str, *, ttl_s: int) -> None:
        try:
            await self._inner.set(key, value, ttl_s=ttl_s)
        except CacheUnavailableError:
            self._requests.inc(cache=_cache_name(key), result="error")
            raise

    async def delete(self, *keys: str) -> None:
        try:
            await self._inner.delete(*keys)
        except CacheUnavailableError:
            for name in sorted({_cache_name(key) for key in keys}):
                self._requests.inc(cache=name, result="error")
            raise


def _cache_name(key: str) -> str:
    return key.split(":", 1)[0] or NONE_LABEL


class CapacityGauges:
    """`whalefall_capacity_fleet_bytes`, `whalefall_capacity_stale_instances` and
    `whalefall_capacity_incomplete_instances` from the dashboard's capacity figures (same definitions: Σ latest
    sample of active instances collected on or after today − 1, instances whose latest sample is older, instances
    incomplete in the last complete daily aggregation), recomputed at most every `ttl_s` seconds. Instances never
    collected are not stale (the dashboard lists them apart)."""

    def __init__(self, registry: MetricsRegistry, *, ttl_s: float = 15.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._fleet = registry.gauge("whalefall_capacity_fleet_bytes",
                                     "Fleet total bytes: latest fresh sample of every active instance")
        self._stale = registry.gauge("whalefall_capacity_stale_instances",
                                     "Active instances whose latest capacity sample is older than yesterday")
        self._incomplete = registry.gauge("whalefall_capacity_incomplete_instances",
                                          "Instances incomplete in the last complete daily aggregation")
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._computed_at: float | None = None

    async def refresh(self, reader: CapacityGaugeReader, today: date) -> None:
        now = self._monotonic()
        if self._computed_at is not None and now - self._computed_at < self._ttl_s:
            return
        try:
            figures = await reader.capacity(today=today)
        except Exception:  # the dashboard reader does not translate store errors; the scrape must still answer
            logger.warning("metrics.capacity_gauges_failed", exc_info=True)
            return  # keep the last values
        self._fleet.set(_figure(figures, "fleet_total_bytes"))
        self._stale.set(_figure(figures, "stale"))
        self._incomplete.set(_figure(figures, "incomplete_instances"))
        self._computed_at = now


def _figure(figures: Mapping[str, object], name: str) -> float:
    value = figures.get(name)
    return float(value) if isinstance(value, int | float) else 0.0


class CapacityExposition(MetricsExposition):
    """Decorates a scrape: the capacity gauges are refreshed through the request's reader first (`today` is the
    business date of the configured time zone, as on the dashboard)."""

    def __init__(self, inner: MetricsExposition, gauges: CapacityGauges, reader: CapacityGaugeReader,
                 today: Callable[[], date]) -> None:
        self._inner = inner
        self._gauges = gauges
        self._reader = reader
        self._today = today

    async def render(self) -> str:
        await self._gauges.refresh(self._reader, self._today())
        return await self._inner.render()
