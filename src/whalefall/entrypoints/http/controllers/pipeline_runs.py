"""Pipeline run routes (api.md §3.14): list, detail with step runs, rerun-failed, cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, QueryParameter

from whalefall.application.pipelines.runs import CancelPipelineRun, GetPipelineRun, ListPipelineRuns, RerunFailed
from whalefall.application.ports.pipelines import RunQuery
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.pipelines import RunStatus
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.schemas.pipelines import PipelineReceiptOut, PipelineRunOut

RunIdPath = FromPath[str]


class PipelineRunController(Controller):
    path = "/pipeline-runs"
    tags = ["pipelines"]

    @get("/", opt=requires(Permission.JOBS_READ), summary="Pipeline runs", description=ListPipelineRuns.__doc__)
    async def list_runs(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListPipelineRuns],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        pipeline: Annotated[list[str] | None, QueryParameter(name="pipeline")] = None,
        status: Annotated[list[RunStatus] | None, QueryParameter(name="status")] = None,
        trigger: Annotated[Literal["scheduled", "manual"] | None, QueryParameter(name="trigger")] = None,
        since: Annotated[datetime | None, QueryParameter(name="since")] = None,
        until: Annotated[datetime | None, QueryParameter(name="until")] = None,
    ) -> Response[Envelope[PageOut[PipelineRunOut]]]:
        if since is not None and until is not None and since >= until:
            raise ValidationProblemsError([Problem("query.since", "invalid_range", "since must be before until")])
        paging = page_request(page, limit, sort, allowed=("created_at", "finished_at"), default="-created_at")
        query = RunQuery(pipelines=frozenset(pipeline or ()), statuses=frozenset(status or ()), trigger=trigger,
                         since=since, until=until)
        result = await use_case.execute(actor, query, paging)
        return ok(request, page_out(result, lambda view: PipelineRunOut.of(view, with_steps=False)))

    @get("/{run_id:str}", opt=requires(Permission.JOBS_READ), summary="A run with its step runs and levels")
    async def get_run(self, request: Request[Any, Any, Any], run_id: RunIdPath, actor: FromDishka[Actor],
                      use_case: FromDishka[GetPipelineRun]) -> Response[Envelope[PipelineRunOut]]:
        return ok(request, PipelineRunOut.of(await use_case.execute(actor, run_id)))

    @post("/{run_id:str}/actions/rerun-failed", opt=requires(Permission.JOBS_MANAGE), status_code=202,
          summary="Re-run failed, skipped and cancelled steps", description=RerunFailed.__doc__)
    async def rerun_failed(self, request: Request[Any, Any, Any], run_id: RunIdPath, actor: FromDishka[Actor],
                           use_case: FromDishka[RerunFailed]) -> Response[Envelope[PipelineReceiptOut]]:
        receipt = PipelineReceiptOut.of(await use_case.execute(actor, run_id))
        return ok(request, receipt, message="Re-run queued", status_code=202, location=receipt.status_url)

    @post("/{run_id:str}/actions/cancel", opt=requires(Permission.JOBS_MANAGE), status_code=202,
          summary="Cancel pending steps and the sessions of running ones", description=CancelPipelineRun.__doc__)
    async def cancel_run(self, request: Request[Any, Any, Any], run_id: RunIdPath, actor: FromDishka[Actor],
                         use_case: FromDishka[CancelPipelineRun]) -> Response[Envelope[PipelineRunOut]]:
        view = await use_case.execute(actor, run_id)
        return ok(request, PipelineRunOut.of(view), message="Cancel requested", status_code=202,
                  location=f"/api/v1/pipeline-runs/{run_id}")
