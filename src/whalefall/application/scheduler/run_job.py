"""Run a job now, through the queue (operations.md §3.5, defects 5 and 12)."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.pipelines import PipelineRunningError
from whalefall.application.ports.scheduler import (
    PIPELINE_JOB_KIND,
    JobRunningError,
    JobStore,
    LaunchedRun,
    LaunchedSession,
    LaunchRequest,
    PipelineLauncher,
    SessionLauncher,
)
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import NotFoundError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.sessions.sessions import SessionKind, SessionTrigger


@dataclass(frozen=True, slots=True)
class RunJobNow:
    """Create the job's session (or pipeline run) with trigger `manual` and the caller as creator, commit, and
    enqueue; the work runs on a worker, never in the request. Allowed while paused. While the job's previous run
    is active → 409 JOB_RUNNING naming it (a running fleet session of the kind from elsewhere answers the same);
    broker unreachable → 503 QUEUE_UNAVAILABLE with nothing created."""

    jobs: JobStore
    sessions: SessionLauncher
    pipelines: PipelineLauncher
    audit: AuditLog
    uow: UnitOfWork

    async def execute(self, actor: Actor, job_id: str) -> LaunchedSession | LaunchedRun:
        actor.require(Permission.JOBS_MANAGE)
        job = await self.jobs.get(job_id)
        if job is None:
            raise NotFoundError("job", job_id)
        await self.uow.commit()
        receipt: LaunchedSession | LaunchedRun
        if job.kind == PIPELINE_JOB_KIND:
            running_run = await self.pipelines.running_run(job.target or "")
            if running_run:
                raise JobRunningError(pipeline_run_id=running_run)
            try:
                receipt = await self.pipelines.start_run(job.target or "", trigger="manual", created_by=actor.user_id,
                                                         job_id=job.id, request_id=actor.request_id)
            except PipelineRunningError as exc:
                raise JobRunningError(pipeline_run_id=exc.pipeline_run_id) from None
            await self.jobs.record_manual_run(job.id, pipeline_run_id=receipt.pipeline_run_id)
            details = {"pipeline_run_id": receipt.pipeline_run_id}
        else:
            running = await self.sessions.running_for_job(job.id)
            if running:
                raise JobRunningError(session_id=running)
            receipt = await self.sessions.launch(LaunchRequest(
                kind=SessionKind(job.kind), trigger=SessionTrigger.MANUAL, params=dict(job.params),
                created_by=actor.user_id, origin_request_id=actor.request_id, job_id=job.id))
            await self.jobs.record_manual_run(job.id, session_id=receipt.session_id)
            details = {"session_id": receipt.session_id}
        await self.audit.record(AuditEntry(actor=actor, action="job.run", target_type="job", target_id=job.id,
                                           details=details))
        await self.uow.commit()
        return receipt
