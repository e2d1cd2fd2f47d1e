"""Assignment routes (api.md §3.9): current assignments, their history, manual create and delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from whalefall.application.classification.assignments import (
    CreateManualAssignment,
    CreateManualAssignmentInput,
    DeleteManualAssignment,
    ListAssignmentHistory,
    ListAssignments,
)
from whalefall.application.ports.classification import AssignmentQuery
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.schemas.classification import (
    AssignmentOut,
    HistoryOut,
    IdOut,
    ManualAssignmentIn,
)

AccountIds = Annotated[list[int] | None, QueryParameter(name="account_id")]
ClassificationIds = Annotated[list[int] | None, QueryParameter(name="classification_id")]
InstanceIds = Annotated[list[int] | None, QueryParameter(name="instance_id")]
Source = Annotated[Literal["auto", "manual"] | None, QueryParameter(name="source")]


class ClassificationAssignmentController(Controller):
    path = "/classification-assignments"
    tags = ["classifications"]

    @get("/", opt=requires(Permission.CLASSIFICATIONS_READ), summary="Assignments")
    async def list_assignments(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListAssignments],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None, account_id: AccountIds = None,
        classification_id: ClassificationIds = None, instance_id: InstanceIds = None, source: Source = None,
        is_primary: Annotated[bool | None, QueryParameter(name="is_primary")] = None,
    ) -> Response[Envelope[PageOut[AssignmentOut]]]:
        paging = page_request(page, limit, sort, allowed=("assigned_at",), default="assigned_at")
        query = AssignmentQuery(account_ids=frozenset(account_id or ()),
                                classification_ids=frozenset(classification_id or ()),
                                instance_ids=frozenset(instance_id or ()), source=source, is_primary=is_primary)
        return ok(request, page_out(await use_case.execute(actor, query, paging), AssignmentOut.of))

    @get("/history", opt=requires(Permission.CLASSIFICATIONS_READ), summary="Continuous stretches")
    async def history(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListAssignmentHistory],
        page: PageQuery = 1, limit: LimitQuery = 20, account_id: AccountIds = None,
        classification_id: ClassificationIds = None, instance_id: InstanceIds = None, source: Source = None,
        since: Annotated[datetime | None, QueryParameter(name="since")] = None,
        until: Annotated[datetime | None, QueryParameter(name="until")] = None,
    ) -> Response[Envelope[PageOut[HistoryOut]]]:
        paging = page_request(page, limit, None, allowed=("valid_from",), default="valid_from")
        query = AssignmentQuery(account_ids=frozenset(account_id or ()),
                                classification_ids=frozenset(classification_id or ()),
                                instance_ids=frozenset(instance_id or ()), source=source, since=since, until=until)
        return ok(request, page_out(await use_case.execute(actor, query, paging), HistoryOut.of))

    @post("/", opt=requires(Permission.RULES_WRITE), summary="Manual assignment",
          description=CreateManualAssignment.__doc__)
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[ManualAssignmentIn],
                     actor: FromDishka[Actor], use_case: FromDishka[CreateManualAssignment]
                     ) -> Response[Envelope[AssignmentOut]]:
        created = await use_case.execute(CreateManualAssignmentInput(
            actor=actor, account_id=data.account_id, classification_id=data.classification_id, note=data.note))
        return ok(request, AssignmentOut.of(created), message="Assignment created", status_code=201,
                  location=f"/api/v1/classification-assignments/{created.id}")

    @delete("/{assignment_id:int}", opt=requires(Permission.RULES_WRITE), status_code=200,
            summary="Remove a manual assignment", description=DeleteManualAssignment.__doc__)
    async def remove(self, request: Request[Any, Any, Any], assignment_id: FromPath[int], actor: FromDishka[Actor],
                     use_case: FromDishka[DeleteManualAssignment]) -> Response[Envelope[IdOut]]:
        return ok(request, IdOut(id=await use_case.execute(actor, assignment_id)), message="Assignment deleted")
