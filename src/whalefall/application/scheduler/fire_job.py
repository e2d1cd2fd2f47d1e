"""The fire logic of the scheduler leader (operations.md §3.3–3.4): which instants are due, claiming an instant
with its unique `job_fires` row, then starting the job's session or pipeline run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from whalefall.application.errors import QueueUnavailableError
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.dashboard import NO_DASHBOARD_REFRESH, DashboardRefresh
from whalefall.application.ports.metrics import NO_OPERATIONS_METRICS, OperationsMetrics
from whalefall.application.ports.pipelines import PipelineRunningError
from whalefall.application.ports.scheduler import (
    PIPELINE_JOB_KIND,
    DueFire,
    FireOutcome,
    FireRecord,
    JobStore,
    LaunchRequest,
    PipelineLauncher,
    SessionLauncher,
)
from whalefall.application.ports.sessions import FleetLockHeldError
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor, ActorType
from whalefall.domain.errors import WhalefallError
from whalefall.domain.pipelines import DueAction, due_fire
from whalefall.domain.sessions.sessions import SessionKind, SessionTrigger

logger = logging.getLogger("whalefall.application.scheduler.fire_job")
SCHEDULER_ACTOR = Actor(actor_type=ActorType.SCHEDULER, name="scheduler")


@dataclass(frozen=True, slots=True)
class PlanFires:
    """For every enabled job, the instant to fire next, following the misfire rule: the most recent missed instant
    after the later of `last_fire_at` and `schedule_changed_at` fires at once when within `misfire_grace_s`, else
    it is written as a `misfire_skipped` fire (its own unique row, so two leaders cannot both write it) and the job
    waits for its next instant. Several missed instants coalesce into one. Commits the misfire rows, then tells
    the dashboard (its failing jobs list misfires) when one was written."""

    jobs: JobStore
    clock: Clock
    uow: UnitOfWork
    misfire_grace_s: float
    metrics: OperationsMetrics = NO_OPERATIONS_METRICS
    dashboard: DashboardRefresh = NO_DASHBOARD_REFRESH

    async def execute(self, leader_id: str) -> list[DueFire]:
        now = self.clock.now()
        due: list[DueFire] = []
        misfired = False
        for job in await self.jobs.list_jobs():
            if not job.enabled:
                continue
            try:
                decision = due_fire(job.cron, ZoneInfo(job.timezone), last_fire_at=job.last_fire_at,
                                    schedule_changed_at=job.schedule_changed_at, now=now,
                                    misfire_grace_s=self.misfire_grace_s)
            except (WhalefallError, ValueError, KeyError):
                logger.warning("scheduler.job_unschedulable", extra={"job_id": job.id})
                continue
            if decision.action is DueAction.FIRE and decision.scheduled_for is not None:
                due.append(DueFire(job_id=job.id, scheduled_for=decision.scheduled_for))
            else:
                if decision.action is DueAction.MISFIRE_SKIPPED and decision.scheduled_for is not None:
                    claimed = await self.jobs.claim_fire(FireRecord(
                        job_id=job.id, scheduled_for=decision.scheduled_for, fired_at=now, leader_id=leader_id,
                        outcome=FireOutcome.MISFIRE_SKIPPED))
                    if claimed:
                        misfired = True
                        self.metrics.job_misfired(job.id)
                        logger.warning("scheduler.misfire_skipped",
                                       extra={"job_id": job.id, "scheduled_for": decision.scheduled_for.isoformat(),
                                              "lag_s": decision.lag_s})
                due.append(DueFire(job_id=job.id, scheduled_for=decision.next_fire_at))
            await self.jobs.set_next_fire(job.id, decision.next_fire_at)
        await self.uow.commit()
        if misfired:
            await self.dashboard.job_fired()
        return due


@dataclass(frozen=True, slots=True)
class ClaimFire:
    """Insert the instant's `job_fires` row (outcome `fired`) and commit; False when another leader already did
    (the unique (job_id, scheduled_for) key), in which case the send is cancelled."""

    jobs: JobStore
    clock: Clock
    uow: UnitOfWork

    async def execute(self, fire: DueFire, *, leader_id: str) -> bool:
        claimed = await self.jobs.claim_fire(FireRecord(job_id=fire.job_id, scheduled_for=fire.scheduled_for,
                                                        fired_at=self.clock.now(), leader_id=leader_id,
                                                        outcome=FireOutcome.FIRED))
        await self.uow.commit()
        return claimed


@dataclass(frozen=True, slots=True)
class FireJob:
    """Start a claimed fire's work: the job's session (trigger `scheduled`, no creator) or pipeline run. A fleet
    session of the kind (or a run of the pipeline) still running turns the fire into `skipped_running` with the
    blocking run's id. The fire is audited with actor `scheduler`. After the commit the dashboard drops what the
    fire changed: the jobs section always, and the runs (and trends) when a session or run was created."""

    jobs: JobStore
    sessions: SessionLauncher
    pipelines: PipelineLauncher
    audit: AuditLog
    uow: UnitOfWork
    metrics: OperationsMetrics = NO_OPERATIONS_METRICS
    dashboard: DashboardRefresh = NO_DASHBOARD_REFRESH

    async def execute(self, fire: DueFire) -> FireOutcome | None:
        job = await self.jobs.get(fire.job_id)
        if job is None:
            return None
        await self.uow.commit()
        outcome, session_id, run_id = FireOutcome.FIRED, None, None
        try:
            if job.kind == PIPELINE_JOB_KIND:
                run = await self.pipelines.start_run(job.target or "", trigger="scheduled", created_by=None,
                                                     job_id=job.id, request_id=None)
                run_id = run.pipeline_run_id
            else:
                session = await self.sessions.launch(LaunchRequest(
                    kind=SessionKind(job.kind), trigger=SessionTrigger.SCHEDULED, params=dict(job.params),
                    job_id=job.id))
                session_id = session.session_id
        except FleetLockHeldError as exc:
            outcome, session_id = FireOutcome.SKIPPED_RUNNING, exc.session_id
        except PipelineRunningError as exc:
            outcome, run_id = FireOutcome.SKIPPED_RUNNING, exc.pipeline_run_id
        except QueueUnavailableError:
            logger.exception("scheduler.fire_not_enqueued", extra={"job_id": job.id})
        await self.jobs.settle_fire(job.id, fire.scheduled_for, outcome=outcome, session_id=session_id,
                                    pipeline_run_id=run_id)
        await self.audit.record(AuditEntry(
            actor=SCHEDULER_ACTOR, action="job.fire", target_type="job", target_id=job.id,
            details={"scheduled_for": fire.scheduled_for.isoformat(), "outcome": outcome.value,
                     "session_id": session_id, "pipeline_run_id": run_id}))
        await self.uow.commit()
        self.metrics.job_fired(job.id, outcome.value)
        await self.dashboard.job_fired()
        if outcome is FireOutcome.FIRED and session_id is not None:
            await self.dashboard.session_created()
        if outcome is FireOutcome.FIRED and run_id is not None:
            await self.dashboard.pipeline_run_created()
        return outcome
