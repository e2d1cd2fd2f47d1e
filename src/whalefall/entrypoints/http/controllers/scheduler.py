"""Scheduler routes (api.md §3.13): status, jobs, schedule edits, pause/resume, run-now, reset."""

from __future__ import annotations

from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from whalefall.application.ports.scheduler import LaunchedSession
from whalefall.application.scheduler.edit_job import ResetJob, SetJobEnabled, UpdateJob, UpdateJobInput
from whalefall.application.scheduler.job_queries import GetJob, JobQuery, ListJobs
from whalefall.application.scheduler.run_job import RunJobNow
from whalefall.application.scheduler.status import GetSchedulerStatus
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.patching import given
from whalefall.entrypoints.http.schemas.scheduler import (
    JobDetailOut,
    JobOut,
    JobPatch,
    PipelineReceiptOut,
    SchedulerStatusOut,
    SessionReceiptOut,
)

JobIdPath = FromPath[str]


class SchedulerController(Controller):
    path = "/scheduler"
    tags = ["scheduler"]

    @get("/status", opt=requires(Permission.JOBS_READ), summary="Leader and standby schedulers")
    async def status(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                     use_case: FromDishka[GetSchedulerStatus]) -> Response[Envelope[SchedulerStatusOut]]:
        return ok(request, SchedulerStatusOut.of(await use_case.execute(actor)))

    @get("/jobs", opt=requires(Permission.JOBS_READ), summary="Jobs", description=ListJobs.__doc__)
    async def list_jobs(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListJobs],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        enabled: Annotated[bool | None, QueryParameter(name="enabled")] = None,
        kind: Annotated[list[str] | None, QueryParameter(name="kind")] = None,
    ) -> Response[Envelope[PageOut[JobOut]]]:
        paging = page_request(page, limit, sort, allowed=("id", "next_fire_at"), default="id")
        result = await use_case.execute(actor, JobQuery(enabled=enabled, kinds=frozenset(kind or ())), paging)
        return ok(request, page_out(result, JobOut.of))

    @get("/jobs/{job_id:str}", opt=requires(Permission.JOBS_READ), summary="A job with its last 20 fires")
    async def get_job(self, request: Request[Any, Any, Any], job_id: JobIdPath, actor: FromDishka[Actor],
                      use_case: FromDishka[GetJob]) -> Response[Envelope[JobDetailOut]]:
        return ok(request, JobDetailOut.detail(await use_case.execute(actor, job_id)))

    @patch("/jobs/{job_id:str}", opt=requires(Permission.JOBS_MANAGE), summary="Edit the schedule",
           description=UpdateJob.__doc__)
    async def update_job(self, request: Request[Any, Any, Any], job_id: JobIdPath, data: JSONBody[JobPatch],
                         actor: FromDishka[Actor], use_case: FromDishka[UpdateJob]) -> Response[Envelope[JobOut]]:
        view = await use_case.execute(UpdateJobInput(actor=actor, job_id=job_id, revision=data.revision,
                                                     cron=given(data.cron), timezone=given(data.timezone),
                                                     params=given(data.params)))
        return ok(request, JobOut.of(view), message="Job updated")

    @post("/jobs/{job_id:str}/actions/pause", opt=requires(Permission.JOBS_MANAGE), status_code=200,
          summary="Pause scheduled firing (idempotent)")
    async def pause(self, request: Request[Any, Any, Any], job_id: JobIdPath, actor: FromDishka[Actor],
                    use_case: FromDishka[SetJobEnabled]) -> Response[Envelope[JobOut]]:
        return ok(request, JobOut.of(await use_case.execute(actor, job_id, enabled=False)), message="Job paused")

    @post("/jobs/{job_id:str}/actions/resume", opt=requires(Permission.JOBS_MANAGE), status_code=200,
          summary="Resume scheduled firing (idempotent)")
    async def resume(self, request: Request[Any, Any, Any], job_id: JobIdPath, actor: FromDishka[Actor],
                     use_case: FromDishka[SetJobEnabled]) -> Response[Envelope[JobOut]]:
        return ok(request, JobOut.of(await use_case.execute(actor, job_id, enabled=True)), message="Job resumed")

    @post("/jobs/{job_id:str}/actions/run", opt=requires(Permission.JOBS_MANAGE), status_code=202,
          summary="Run now through the queue", description=RunJobNow.__doc__)
    async def run_now(self, request: Request[Any, Any, Any], job_id: JobIdPath, actor: FromDishka[Actor],
                      use_case: FromDishka[RunJobNow]
                      ) -> Response[Envelope[SessionReceiptOut | PipelineReceiptOut]]:
        receipt = await use_case.execute(actor, job_id)
        out: SessionReceiptOut | PipelineReceiptOut = (
            SessionReceiptOut.of(receipt) if isinstance(receipt, LaunchedSession) else PipelineReceiptOut.of(receipt))
        return ok(request, out, message="Job queued", status_code=202, location=out.status_url)

    @post("/jobs/{job_id:str}/actions/reset", opt=requires(Permission.SYSTEM_MANAGE), status_code=200,
          summary="Restore a built-in job's cron, time zone and params", description=ResetJob.__doc__)
    async def reset(self, request: Request[Any, Any, Any], job_id: JobIdPath, actor: FromDishka[Actor],
                    use_case: FromDishka[ResetJob]) -> Response[Envelope[JobOut]]:
        return ok(request, JobOut.of(await use_case.execute(actor, job_id)), message="Job reset")
