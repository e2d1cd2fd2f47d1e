"""Instance CSV routes (api.md §3.5, §5): export, import template, import with per-row results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import QueryParameter
from litestar.response import Stream

from whalefall.application.instances.export_instances import SORTABLE, ExportInstances, ExportInstancesInput
from whalefall.application.instances.import_instances import ImportInstances, ImportInstancesInput
from whalefall.application.instances.instance_csv import COLUMNS, export_row
from whalefall.application.ports.instances import InstanceQuery
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import parse_sort
from whalefall.domain.errors import Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import CredentialId, DbEngine
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.csv_response import CSV_MEDIA_TYPE, csv_download
from whalefall.entrypoints.http.envelope import Envelope, ok, server_time
from whalefall.entrypoints.http.paging import SortQuery
from whalefall.entrypoints.http.schemas.instance_files import ImportReportOut

MAX_FILE_BYTES: Final = 5 * 1024 * 1024
#: The multipart framing around the file part; the file itself is checked against MAX_FILE_BYTES.
_MULTIPART_SLACK: Final = 64 * 1024
Bom = Annotated[bool, QueryParameter(name="bom", description="prefix a UTF-8 byte-order mark")]


@dataclass
class MultipartImportOperation(Operation):
    """Documents the multipart body, which the handler reads itself (the JSON validator skips it)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(required=True, content={"multipart/form-data": OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.OBJECT, required=["file"], properties={"file": Schema(
                type=OpenAPIType.STRING, content_media_type="text/csv",
                description="UTF-8 CSV, at most 5 MiB and 10 000 data rows")}))})


async def _upload(request: Request[Any, Any, Any]) -> bytes:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise HTTPException(status_code=415, detail="Content-Type must be multipart/form-data")
    form = await request.form()
    unknown = [key for key in form if key != "file"]
    upload = form.get("file")
    problems = [Problem(f"body.{key}", "unknown_field", "unknown form field") for key in unknown]
    if not isinstance(upload, UploadFile):
        problems.append(Problem("file", "required", "a multipart part named `file` is required"))
    if problems:
        raise ValidationProblemsError(problems)
    assert isinstance(upload, UploadFile)
    content = await upload.read()
    if len(content) > MAX_FILE_BYTES:
        raise HTTPException(status_code=413, detail="The file is larger than 5 MiB")
    return content


class InstanceFileController(Controller):
    path = "/instances"
    tags = ["instances"]

    @get("/exports", opt=requires(Permission.INSTANCES_READ), media_type=CSV_MEDIA_TYPE,
         summary="Instances as CSV (needs exports:run too)", description=ExportInstances.__doc__)
    async def export_instances(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ExportInstances],
        sort: SortQuery = None, bom: Bom = False,
        q: Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)] = None,
        db_type: Annotated[list[DbEngine] | None, QueryParameter(name="db_type")] = None,
        flavor: Annotated[list[str] | None, QueryParameter(name="flavor")] = None,
        status: Annotated[Literal["active", "inactive", "deleted"] | None, QueryParameter(name="status")] = None,
        tags_any: Annotated[list[str] | None, QueryParameter(name="tags_any")] = None,
        tags_all: Annotated[list[str] | None, QueryParameter(name="tags_all")] = None,
        credential_id: Annotated[int | None, QueryParameter(name="credential_id", ge=1)] = None,
        connection: Annotated[Literal["ok", "failed", "never"] | None, QueryParameter(name="connection")] = None,
    ) -> Stream:
        query = InstanceQuery(q=q, db_types=frozenset(db_type or ()), flavors=frozenset(flavor or ()), status=status,
                              tags_any=frozenset(tags_any or ()), tags_all=frozenset(tags_all or ()),
                              credential_id=CredentialId(credential_id) if credential_id else None,
                              connection=connection)
        records = await use_case.execute(ExportInstancesInput(
            actor=actor, query=query, sort=parse_sort(sort, allowed=SORTABLE, default="name")))
        return csv_download("instances", COLUMNS, (export_row(r) for r in records), at=server_time(request), bom=bom)

    @get("/imports/template", opt=requires(Permission.INSTANCES_READ), media_type=CSV_MEDIA_TYPE,
         summary="Header-only CSV for imports")
    async def import_template(self, request: Request[Any, Any, Any], bom: Bom = False) -> Stream:
        return csv_download("instances_template", COLUMNS, (), at=server_time(request), bom=bom)

    @post("/imports", opt=requires(Permission.INSTANCES_WRITE, accepts_body=True), status_code=200,
          request_max_body_size=MAX_FILE_BYTES + _MULTIPART_SLACK, operation_class=MultipartImportOperation,
          summary="Import instances from CSV", description=ImportInstances.__doc__)
    async def import_instances(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ImportInstances],
        mode: Annotated[Literal["create", "upsert"], QueryParameter(name="mode")] = "create",
        dry_run: Annotated[bool, QueryParameter(name="dry_run")] = False,
        atomic: Annotated[bool, QueryParameter(name="atomic")] = False,
    ) -> Response[Envelope[ImportReportOut]]:
        report = await use_case.execute(ImportInstancesInput(actor=actor, content=await _upload(request), mode=mode,
                                                             dry_run=dry_run, atomic=atomic))
        message = "Import checked" if dry_run else "Import applied" if report.applied else "Import not applied"
        return ok(request, ImportReportOut.of(report), message=message)
