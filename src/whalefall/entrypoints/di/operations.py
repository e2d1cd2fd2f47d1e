"""Providers of the scheduler and pipelines: repositories, the advance queue, the launchers, the use cases and the
schedule source factory (operations.md §3–4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo

from dishka import Provider, Scope, decorate, provide, provide_all
from taskiq import AsyncBroker, ScheduleSource

from whalefall.adapters.observability.db_sink import DatabaseLogSink
from whalefall.adapters.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from whalefall.adapters.observability.metrics import (
    MetricsRegistry,
    OperationsExposition,
    OperationsGauges,
    ReaperMetrics,
    RegistryOperationsMetrics,
)
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.operations_gauges import SqlAlchemyOperationsGauges
from whalefall.adapters.persistence.pipelines import SqlAlchemyPipelineDefinitionStore, SqlAlchemyPipelineRunStore
from whalefall.adapters.persistence.retention import (
    SqlAlchemyHeartbeatPurger,
    SqlAlchemyJobFirePurger,
    SqlAlchemyPipelineRunPurger,
    SqlAlchemySessionPurger,
    SqliteCapacityRowPurger,
)
from whalefall.adapters.persistence.scheduler import SqlAlchemyHeartbeatStore, SqlAlchemyJobStore
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.adapters.taskqueue.broker import broker_queue_depth, is_in_memory
from whalefall.adapters.taskqueue.pipelines import TaskiqPipelineQueue
from whalefall.adapters.taskqueue.schedule_source import WhalefallScheduleSource
from whalefall.application.accounts.purge_account_history import PurgeExpiredAccountHistory
from whalefall.application.audit.purge_audit_events import PurgeExpiredAuditEvents
from whalefall.application.health.health_details import GetHealthDetails
from whalefall.application.idempotency.purge_expired_keys import PurgeExpiredIdempotencyKeys
from whalefall.application.logs.purge_logs import PurgeExpiredLogs
from whalefall.application.partitions.maintain_partitions import PartitionConfig
from whalefall.application.pipelines.advance import AdvancePipelineRun, AdvanceRunningPipelines
from whalefall.application.pipelines.definitions import (
    CreatePipeline,
    DeletePipeline,
    GetPipeline,
    ListPipelines,
    ReplacePipeline,
    ResetPipeline,
    ValidatePipeline,
)
from whalefall.application.pipelines.runs import (
    CancelPipelineRun,
    GetPipelineRun,
    ListPipelineRuns,
    RerunFailed,
    RunPipeline,
    StartPipelineRun,
)
from whalefall.application.ports.audit import AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.dashboard import DashboardRefresh
from whalefall.application.ports.health import ProcessStats
from whalefall.application.ports.logs import ExpiredRowPurger
from whalefall.application.ports.metrics import MetricsExposition, OperationsMetrics
from whalefall.application.ports.partitions import PartitionManager
from whalefall.application.ports.pipelines import PipelineAdvanceQueue, PipelineDefinitionStore, PipelineRunStore
from whalefall.application.ports.scheduler import (
    HeartbeatStore,
    JobStore,
    PipelineLauncher,
    ScheduleFeed,
    SessionLauncher,
)
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.scheduler.builtins import EnsureBuiltins
from whalefall.application.scheduler.edit_job import ResetJob, SetJobEnabled, UpdateJob
from whalefall.application.scheduler.fire_job import ClaimFire, FireJob, PlanFires
from whalefall.application.scheduler.job_queries import GetJob, ListJobs
from whalefall.application.scheduler.launcher import OpenSessionLauncher
from whalefall.application.scheduler.run_job import RunJobNow
from whalefall.application.scheduler.status import CheckOwnHeartbeat, GetSchedulerStatus, RecordHeartbeat
from whalefall.application.scheduler.views import JobViews
from whalefall.application.sessions.reap import ReapOutcome
from whalefall.application.sessions.retention import (
    PurgeBeforeCutoffs,
    PurgeExpiredRows,
    RetentionPurge,
    RunRetentionCategory,
)
from whalefall.domain.partitions import PartitionedTable
from whalefall.domain.partitions.planner import retention_cutoff
from whalefall.domain.sessions.sessions import SessionKind
from whalefall.entrypoints.settings import Settings


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerSettings:
    """`scheduler.leader_ttl_s` (15; renewals every third), `scheduler.misfire_grace_s` (3600),
    `scheduler.update_interval_s` (5: how soon API edits apply), `sessions.reaper_interval_s` (30: pipeline sweep)."""

    leader_ttl_s: float
    misfire_grace_s: float
    update_interval_s: float
    sweep_interval_s: float
    timezone: str


class AdapterProcessStats(ProcessStats):
    """This process's log sink and broker, for the health details."""

    def __init__(self, sink: DatabaseLogSink, broker: AsyncBroker) -> None:
        self._sink = sink
        self._broker = broker

    @property
    def embedded(self) -> bool:
        return is_in_memory(self._broker)

    def log_queue(self) -> tuple[int, dict[str, int]]:
        return self._sink.depth, self._sink.dropped_totals()

    async def broker_queue_depth(self) -> int | None:
        return await broker_queue_depth(self._broker)


class ProcessMetrics:
    """What the worker, reaper and scheduler loops report into this process's registry (entrypoints cannot see the
    metrics adapter): reaper actions, worker slots and scheduler leadership (operations.md §9)."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self._registry = registry
        self._reaper = ReaperMetrics(registry)

    def reaped(self, outcome: ReapOutcome) -> None:
        self._reaper.observe(workers_lost=outcome.workers_lost, redispatched=outcome.redispatched,
                             not_dispatched=outcome.not_dispatched, finalised=outcome.finalised)

    def watch_worker(self, running: Callable[[], int], limit: int) -> None:
        """`whalefall_worker_tasks_running` and `whalefall_worker_concurrency_limit`, read at each scrape."""
        tasks = self._registry.gauge("whalefall_worker_tasks_running", "Records running in this worker process")
        concurrency = self._registry.gauge("whalefall_worker_concurrency_limit", "worker.concurrency of this process")

        def collect() -> None:
            tasks.set(running())
            concurrency.set(limit)

        self._registry.add_collector(collect)

    def watch_leadership(self, is_leader: Callable[[], bool]) -> None:
        """`whalefall_scheduler_is_leader`: 1 on the one process holding the leader lock."""
        gauge = self._registry.gauge("whalefall_scheduler_is_leader", "1 when this scheduler process is the leader")
        self._registry.add_collector(lambda: gauge.set(1 if is_leader() else 0))

    async def render(self) -> str:
        """The Prometheus text of this process's registry (refreshers and collectors run; the store-backed fleet
        gauges are the API's): what `--metrics-port` serves for worker and scheduler processes."""
        await self._registry.refresh()
        return self._registry.render()


@asynccontextmanager
async def metrics_endpoint(metrics: ProcessMetrics, port: int | None, host: str = "0.0.0.0"  # noqa: S104
                           ) -> AsyncIterator[int | None]:
    """`--metrics-port`: a minimal HTTP listener answering any GET with the Prometheus text of this process (the
    port is meant for the scraper's network only, like the container's health port). Yields the bound port (0
    picks a free one), or None when no port was asked for."""
    if port is None:
        yield None
        return

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            if request.startswith(b"GET "):
                body = (await metrics.render()).encode()
                head = (f"HTTP/1.1 200 OK\r\nContent-Type: {METRICS_CONTENT_TYPE}\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
            else:
                body = b""
                head = (b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\n"
                        b"Connection: close\r\n\r\n")
            writer.write(head + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, host, port)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _partition_cutoff(table: PartitionedTable, zone: tzinfo) -> Callable[[datetime], datetime]:
    """The table's retention cutoff (first of the business month − retention months) as a UTC midnight."""

    def cutoff(now: datetime) -> datetime:
        return datetime.combine(retention_cutoff(now.astimezone(zone).date(), table), time(0), tzinfo=UTC)

    return cutoff


def schedule_source(feed: ScheduleFeed) -> ScheduleSource:
    """The whalefall schedule source for `TaskiqScheduler` (the scheduler entrypoint cannot import adapters)."""
    return WhalefallScheduleSource(feed)


class OperationsProvider(Provider):
    scope = Scope.REQUEST

    @provide(scope=Scope.APP)
    def scheduler_settings(self, settings: Settings) -> SchedulerSettings:
        return SchedulerSettings(leader_ttl_s=settings.get("scheduler.leader_ttl_s", 15.0),
                                 misfire_grace_s=settings.get("scheduler.misfire_grace_s", 3600.0),
                                 update_interval_s=settings.get("scheduler.update_interval_s", 5.0),
                                 sweep_interval_s=settings.get("sessions.reaper_interval_s", 30.0),
                                 timezone=settings.timezone)

    @provide(scope=Scope.APP)
    def advance_queue(self, broker: AsyncBroker) -> PipelineAdvanceQueue:
        return TaskiqPipelineQueue(broker)

    @provide
    def jobs(self, uow: SqlAlchemyUnitOfWork) -> JobStore:
        return SqlAlchemyJobStore(uow)

    @provide
    def heartbeats(self, uow: SqlAlchemyUnitOfWork) -> HeartbeatStore:
        return SqlAlchemyHeartbeatStore(uow)

    @provide
    def definitions(self, uow: SqlAlchemyUnitOfWork) -> PipelineDefinitionStore:
        return SqlAlchemyPipelineDefinitionStore(uow)

    @provide
    def runs(self, uow: SqlAlchemyUnitOfWork) -> PipelineRunStore:
        return SqlAlchemyPipelineRunStore(uow)

    launchers = provide_all(OpenSessionLauncher, StartPipelineRun)

    @provide
    def session_launcher(self, launcher: OpenSessionLauncher) -> SessionLauncher:
        return launcher

    @provide
    def pipeline_launcher(self, launcher: StartPipelineRun) -> PipelineLauncher:
        return launcher

    use_cases = provide_all(
        JobViews, ListJobs, GetJob, UpdateJob, SetJobEnabled, RunJobNow, ClaimFire, FireJob, RecordHeartbeat,
        CheckOwnHeartbeat, ListPipelines, GetPipeline, ValidatePipeline, CreatePipeline, ReplacePipeline,
        ResetPipeline, DeletePipeline, RunPipeline, GetPipelineRun, ListPipelineRuns, RerunFailed, CancelPipelineRun,
        AdvancePipelineRun, AdvanceRunningPipelines,
    )

    @provide
    def plan_fires(self, jobs: JobStore, clock: Clock, uow: UnitOfWork, config: SchedulerSettings,
                   metrics: OperationsMetrics, dashboard: DashboardRefresh) -> PlanFires:
        return PlanFires(jobs, clock, uow, config.misfire_grace_s, metrics, dashboard)

    @provide(scope=Scope.APP)
    def operations_metrics(self, registry: MetricsRegistry) -> OperationsMetrics:
        return RegistryOperationsMetrics(registry)

    @provide
    def reset_job(self, views: JobViews, audit: AuditLog, clock: Clock, uow: UnitOfWork,
                  config: SchedulerSettings) -> ResetJob:
        return ResetJob(views, audit, clock, uow, config.timezone)

    @provide
    def ensure_builtins(self, jobs: JobStore, definitions: PipelineDefinitionStore, clock: Clock, uow: UnitOfWork,
                        config: SchedulerSettings) -> EnsureBuiltins:
        return EnsureBuiltins(jobs, definitions, clock, uow, config.timezone)

    @provide
    def scheduler_status(self, heartbeats: HeartbeatStore, clock: Clock,
                         config: SchedulerSettings) -> GetSchedulerStatus:
        return GetSchedulerStatus(heartbeats, clock, config.timezone)

    @provide(scope=Scope.APP)
    def process_stats(self, sink: DatabaseLogSink, broker: AsyncBroker) -> ProcessStats:
        return AdapterProcessStats(sink, broker)

    @provide(scope=Scope.APP)
    def process_metrics(self, registry: MetricsRegistry) -> ProcessMetrics:
        return ProcessMetrics(registry)

    @provide(scope=Scope.APP)
    def operations_gauges(self, registry: MetricsRegistry, broker: AsyncBroker) -> OperationsGauges:
        """Scrape-time operations metrics (operations.md §9): store-backed gauges (15 s cache) and the broker
        backlog `whalefall_broker_queue_depth` (absent while Redis does not answer)."""
        depth = registry.gauge("whalefall_broker_queue_depth", "Task messages not yet delivered or acknowledged")

        async def refresh_depth() -> None:
            value = await broker_queue_depth(broker)
            depth.replace({} if value is None else {(): float(value)})

        registry.add_refresher(refresh_depth)
        return OperationsGauges(registry, [kind.value for kind in SessionKind])

    @decorate
    def operations_exposition(self, exposition: MetricsExposition, gauges: OperationsGauges,
                              uow: SqlAlchemyUnitOfWork, partitions: PartitionManager, clock: Clock,
                              config: PartitionConfig) -> MetricsExposition:
        reader = SqlAlchemyOperationsGauges(uow, partitions, lambda: config.today(clock))
        return OperationsExposition(exposition, gauges, reader)

    health_details = provide(GetHealthDetails)

    @provide
    def retention_work(self, database: Database, clock: Clock, settings: Settings, logs: PurgeExpiredLogs,
                       audit: PurgeExpiredAuditEvents, accounts: PurgeExpiredAccountHistory,
                       idempotency: PurgeExpiredIdempotencyKeys, partitions: PartitionConfig) -> RunRetentionCategory:
        """The purge of every retention category (operations.md §1.9) with its `retention.*` setting
        (`sessions_days` 90, `pipeline_runs_days` 90, `job_fires_days` 30, `logs_days` 30, `audit_days` 365,
        `account_changes_days` 400, `heartbeats_days` 1); a category missing here is skipped NOTHING_TO_DO by the
        job (capacity samples on PostgreSQL, where maintenance drops whole partitions)."""
        max_runtime_s = settings.get("retention.max_runtime_s", 1800.0)

        def rows(purger: ExpiredRowPurger, setting: str, days: float) -> RetentionPurge:
            return PurgeExpiredRows(purger, clock, settings.get(setting, days), max_runtime_s=max_runtime_s).execute

        purges: dict[str, RetentionPurge] = {
            "sync_sessions": rows(SqlAlchemySessionPurger(database), "retention.sessions_days", 90.0),
            "pipeline_runs": rows(SqlAlchemyPipelineRunPurger(database), "retention.pipeline_runs_days", 90.0),
            "job_fires": rows(SqlAlchemyJobFirePurger(database), "retention.job_fires_days", 30.0),
            "unified_logs": logs.execute,
            "audit_events": audit.execute,
            "account_changes": accounts.execute,
            "process_heartbeats": rows(SqlAlchemyHeartbeatPurger(database), "retention.heartbeats_days", 1.0),
            "idempotency_keys": idempotency.execute,
        }
        if database.is_sqlite:  # PostgreSQL drops whole monthly partitions instead (capacity.md §8.3)
            purges["capacity_samples"] = PurgeBeforeCutoffs(
                [(SqliteCapacityRowPurger(database, table.name), _partition_cutoff(table, partitions.zone))
                 for table in partitions.policy.tables], clock, max_runtime_s=max_runtime_s).execute
        return RunRetentionCategory(purges)
