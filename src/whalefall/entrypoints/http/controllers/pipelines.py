"""Pipeline definition routes (api.md §3.14): CRUD, dry validation, run, reset."""

from __future__ import annotations

from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from whalefall.application.pipelines.definitions import (
    CreatePipeline,
    DeletePipeline,
    GetPipeline,
    ListPipelines,
    ReplacePipeline,
    ResetPipeline,
    ValidatePipeline,
)
from whalefall.application.pipelines.runs import RunPipeline
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.schemas.pipelines import (
    PipelineIn,
    PipelineNameOut,
    PipelineOut,
    PipelinePut,
    PipelineReceiptOut,
    ValidationOut,
)

NamePath = FromPath[str]


class PipelineController(Controller):
    path = "/pipelines"
    tags = ["pipelines"]

    @get("/", opt=requires(Permission.JOBS_READ), summary="Pipeline definitions")
    async def list_pipelines(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListPipelines],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        is_builtin: Annotated[bool | None, QueryParameter(name="is_builtin")] = None,
    ) -> Response[Envelope[PageOut[PipelineOut]]]:
        paging = page_request(page, limit, sort, allowed=("name", "updated_at"), default="name")
        return ok(request, page_out(await use_case.execute(actor, is_builtin=is_builtin, page=paging), PipelineOut.of))

    @post("/", opt=requires(Permission.JOBS_MANAGE), summary="Create a definition", description=CreatePipeline.__doc__)
    async def create_pipeline(self, request: Request[Any, Any, Any], data: JSONBody[PipelineIn],
                              actor: FromDishka[Actor], use_case: FromDishka[CreatePipeline]
                              ) -> Response[Envelope[PipelineOut]]:
        view = await use_case.execute(actor, data.document())
        return ok(request, PipelineOut.of(view), message="Pipeline created", status_code=201,
                  location=f"/api/v1/pipelines/{view.record.name}")

    @post("/actions/validate", opt=requires(Permission.JOBS_READ), status_code=200,
          summary="Validate a draft (200 either way)", description=ValidatePipeline.__doc__)
    async def validate_pipeline(self, request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]],
                                actor: FromDishka[Actor], use_case: FromDishka[ValidatePipeline]
                                ) -> Response[Envelope[ValidationOut]]:
        return ok(request, ValidationOut.of(await use_case.execute(actor, data)))

    @get("/{name:str}", opt=requires(Permission.JOBS_READ), summary="One definition with its levels")
    async def get_pipeline(self, request: Request[Any, Any, Any], name: NamePath, actor: FromDishka[Actor],
                           use_case: FromDishka[GetPipeline]) -> Response[Envelope[PipelineOut]]:
        return ok(request, PipelineOut.of(await use_case.execute(actor, name)))

    @put("/{name:str}", opt=requires(Permission.JOBS_MANAGE), summary="Replace a definition",
         description=ReplacePipeline.__doc__)
    async def replace_pipeline(self, request: Request[Any, Any, Any], name: NamePath, data: JSONBody[PipelinePut],
                               actor: FromDishka[Actor], use_case: FromDishka[ReplacePipeline]
                               ) -> Response[Envelope[PipelineOut]]:
        view = await use_case.execute(actor, name, data.document(), revision=data.revision)
        return ok(request, PipelineOut.of(view), message="Pipeline replaced")

    @delete("/{name:str}", opt=requires(Permission.JOBS_MANAGE), status_code=200, summary="Delete a custom definition",
            description=DeletePipeline.__doc__)
    async def delete_pipeline(self, request: Request[Any, Any, Any], name: NamePath, actor: FromDishka[Actor],
                              use_case: FromDishka[DeletePipeline],
                              revision: Annotated[int | None, QueryParameter(name="revision")] = None
                              ) -> Response[Envelope[PipelineNameOut]]:
        await use_case.execute(actor, name, revision=revision)
        return ok(request, PipelineNameOut(name=name), message="Pipeline deleted")

    @post("/{name:str}/actions/run", opt=requires(Permission.JOBS_MANAGE), status_code=202,
          summary="Start a run (queued)", description=RunPipeline.__doc__)
    async def run_pipeline(self, request: Request[Any, Any, Any], name: NamePath, actor: FromDishka[Actor],
                           use_case: FromDishka[RunPipeline]) -> Response[Envelope[PipelineReceiptOut]]:
        receipt = PipelineReceiptOut.of(await use_case.execute(actor, name))
        return ok(request, receipt, message="Pipeline run queued", status_code=202, location=receipt.status_url)

    @post("/{name:str}/actions/reset", opt=requires(Permission.SYSTEM_MANAGE), status_code=200,
          summary="Restore a built-in definition", description=ResetPipeline.__doc__)
    async def reset_pipeline(self, request: Request[Any, Any, Any], name: NamePath, actor: FromDishka[Actor],
                             use_case: FromDishka[ResetPipeline]) -> Response[Envelope[PipelineOut]]:
        return ok(request, PipelineOut.of(await use_case.execute(actor, name)), message="Pipeline reset")
