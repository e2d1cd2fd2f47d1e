"""Providers of the observability slice: the database log sink, metrics, log and audit queries, retention."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, decorate, provide, provide_all

from whalefall.adapters.observability.db_sink import DROP_REASONS, DatabaseLogSink
from whalefall.adapters.observability.metrics import (
    CountingAuditLog,
    FleetGauges,
    HttpRequestMetrics,
    MetricsRegistry,
    PrometheusExposition,
    RegistryRecordMetrics,
)
from whalefall.adapters.persistence.audit import SqlAlchemyAuditEventReader, SqlAlchemyAuditPurger
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.logs import (
    SqlAlchemyFleetGauges,
    SqlAlchemyLogPurger,
    SqlAlchemyLogReader,
    SqlAlchemyLogWriter,
)
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.audit.export_audit_events import ExportAuditEvents
from whalefall.application.audit.purge_audit_events import PurgeExpiredAuditEvents
from whalefall.application.audit.query_audit_events import GetAuditEvent, SearchAuditEvents
from whalefall.application.audit.reader import AuditEventReader
from whalefall.application.logs.purge_logs import PurgeExpiredLogs
from whalefall.application.logs.query_logs import GetLogEntry, GetLogStats, ListLogModules, SearchLogs
from whalefall.application.ports.audit import AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.logs import LogBatchWriter, LogReader
from whalefall.application.ports.metrics import MetricsExposition, RecordMetrics, RequestMetrics
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.exports import DEFAULT_MAX_ROWS
from whalefall.entrypoints.settings import Settings


class ObservabilityProvider(Provider):
    @provide(scope=Scope.APP)
    def metrics_registry(self) -> MetricsRegistry:
        """One registry per container (= per process); other slices ask for it to add their metrics."""
        return MetricsRegistry()

    @provide(scope=Scope.APP)
    def log_writer(self, database: Database) -> LogBatchWriter:
        return SqlAlchemyLogWriter(database)

    @provide(scope=Scope.APP)
    async def log_sink(self, writer: LogBatchWriter, settings: Settings) -> AsyncIterator[DatabaseLogSink]:
        sink = DatabaseLogSink(writer, queue_size=settings.get("logs.queue_size", 10_000),
                               batch_size=settings.get("logs.batch_size", 200),
                               flush_interval_s=settings.get("logs.flush_interval_s", 1.0))
        try:
            yield sink
        finally:
            await sink.shutdown()

    @provide(scope=Scope.APP)
    def request_metrics(self, registry: MetricsRegistry) -> RequestMetrics:
        return HttpRequestMetrics(registry)

    @provide(scope=Scope.APP)
    def record_metrics(self, registry: MetricsRegistry) -> RecordMetrics:
        """One per process: the runner's record counters, duration histogram and retries (operations.md §9)."""
        return RegistryRecordMetrics(registry)

    @provide(scope=Scope.APP)
    def fleet_gauges(self, registry: MetricsRegistry, sink: DatabaseLogSink) -> FleetGauges:
        """The scrape-time metrics of the process: log sink counters and the cached fleet gauges."""
        written = registry.counter("whalefall_log_events_written_total", "Log events stored in unified_logs")
        dropped = registry.counter("whalefall_log_events_dropped_total", "Log events not stored, by reason",
                                   ("reason",))
        depth = registry.gauge("whalefall_log_queue_depth", "Log events waiting for the database sink")

        def collect_sink() -> None:
            written.set_total(sink.written_total)
            totals = sink.dropped_totals()
            for reason in DROP_REASONS:
                dropped.set_total(totals[reason], reason=reason)
            depth.set(sink.depth)

        registry.add_collector(collect_sink)
        return FleetGauges(registry)

    @provide(scope=Scope.REQUEST)
    def exposition(self, registry: MetricsRegistry, fleet: FleetGauges,
                   uow: SqlAlchemyUnitOfWork) -> MetricsExposition:
        return PrometheusExposition(registry, fleet, SqlAlchemyFleetGauges(uow))

    @decorate
    def counted_audit(self, audit: AuditLog, registry: MetricsRegistry) -> AuditLog:
        return CountingAuditLog(audit, registry)

    @provide(scope=Scope.REQUEST)
    def log_reader(self, uow: SqlAlchemyUnitOfWork) -> LogReader:
        return SqlAlchemyLogReader(uow)

    @provide(scope=Scope.REQUEST)
    def audit_reader(self, uow: SqlAlchemyUnitOfWork) -> AuditEventReader:
        return SqlAlchemyAuditEventReader(uow)

    queries = provide_all(SearchLogs, GetLogEntry, GetLogStats, ListLogModules, SearchAuditEvents, GetAuditEvent,
                          scope=Scope.REQUEST)

    @provide(scope=Scope.REQUEST)
    def export_audit(self, events: AuditEventReader, audit: AuditLog, clock: Clock, uow: UnitOfWork,
                     settings: Settings) -> ExportAuditEvents:
        return ExportAuditEvents(events, audit, clock, uow, settings.get("export.max_rows", DEFAULT_MAX_ROWS))

    @provide(scope=Scope.REQUEST)
    def purge_logs(self, database: Database, clock: Clock, settings: Settings) -> PurgeExpiredLogs:
        return PurgeExpiredLogs(SqlAlchemyLogPurger(database), clock, settings.get("retention.logs_days", 30),
                                max_runtime_s=settings.get("retention.max_runtime_s", 1800.0))

    @provide(scope=Scope.REQUEST)
    def purge_audit(self, database: Database, clock: Clock, settings: Settings) -> PurgeExpiredAuditEvents:
        return PurgeExpiredAuditEvents(SqlAlchemyAuditPurger(database), clock,
                                       settings.get("retention.audit_days", 365),
                                       max_runtime_s=settings.get("retention.max_runtime_s", 1800.0))
