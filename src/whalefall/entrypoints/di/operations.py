"""Providers of the scheduler and pipelines: repositories, the advance queue, the launchers, the use cases and the
schedule source factory (operations.md §3–4)."""

from __future__ import annotations

from dataclasses import dataclass

from dishka import Provider, Scope, provide, provide_all
from taskiq import AsyncBroker, ScheduleSource

from whalefall.adapters.persistence.pipelines import SqlAlchemyPipelineDefinitionStore, SqlAlchemyPipelineRunStore
from whalefall.adapters.persistence.scheduler import SqlAlchemyHeartbeatStore, SqlAlchemyJobStore
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.adapters.taskqueue.pipelines import TaskiqPipelineQueue
from whalefall.adapters.taskqueue.schedule_source import WhalefallScheduleSource
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
    def plan_fires(self, jobs: JobStore, clock: Clock, uow: UnitOfWork, config: SchedulerSettings) -> PlanFires:
        return PlanFires(jobs, clock, uow, config.misfire_grace_s)

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
