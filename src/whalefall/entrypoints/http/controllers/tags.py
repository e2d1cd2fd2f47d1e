"""Tag routes (api.md §3.7): CRUD, categories, bulk assign/remove/clear with receipts."""

from __future__ import annotations

from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from whalefall.application.instances.tags import (
    BulkAssignTags,
    BulkClearTags,
    BulkRemoveTags,
    CreateTag,
    CreateTagInput,
    DeleteTag,
    GetTag,
    ListTagCategories,
    ListTags,
    UpdateTag,
    UpdateTagInput,
)
from whalefall.application.ports.instances import TagQuery
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import InstanceId, TagId
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.patching import given
from whalefall.entrypoints.http.schemas.tags import (
    BulkClear,
    BulkPairs,
    CategoryOut,
    ClearReceiptsOut,
    PairReceiptsOut,
    TagCreate,
    TagOut,
    TagPatch,
    TagUnlinkedOut,
)


class TagController(Controller):
    path = "/tags"
    tags = ["tags"]

    @get("/", opt=requires(Permission.INSTANCES_READ), summary="List tags")
    async def list_tags(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListTags],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        q: Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)] = None,
        category: Annotated[list[str] | None, QueryParameter(name="category")] = None,
        is_active: Annotated[bool | None, QueryParameter(name="is_active")] = None,
    ) -> Response[Envelope[PageOut[TagOut]]]:
        paging = page_request(page, limit, sort, allowed=("name", "category", "created_at", "instance_count"),
                              default="name")
        query = TagQuery(q=q, categories=frozenset(category or ()), is_active=is_active)
        return ok(request, page_out(await use_case.execute(actor, query, paging), TagOut.of))

    @get("/categories", opt=requires(Permission.INSTANCES_READ), summary="Categories in use")
    async def categories(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                         use_case: FromDishka[ListTagCategories], page: PageQuery = 1, limit: LimitQuery = 20
                         ) -> Response[Envelope[PageOut[CategoryOut]]]:
        paging = page_request(page, limit, None, allowed=("category",), default="category")
        result = await use_case.execute(actor, paging)
        return ok(request, page_out(result, lambda item: CategoryOut(category=item[0], tag_count=item[1])))

    @post("/", opt=requires(Permission.TAGS_WRITE), summary="Create a tag")
    async def create_tag(self, request: Request[Any, Any, Any], data: JSONBody[TagCreate], actor: FromDishka[Actor],
                         use_case: FromDishka[CreateTag]) -> Response[Envelope[TagOut]]:
        record = await use_case.execute(CreateTagInput(actor=actor, name=data.name, display_name=data.display_name,
                                                       category=data.category, description=data.description,
                                                       is_active=data.is_active))
        return ok(request, TagOut.of(record), message="Tag created", status_code=201,
                  location=f"/api/v1/tags/{record.id}")

    @get("/{tag_id:int}", opt=requires(Permission.INSTANCES_READ), summary="Tag detail")
    async def get_tag(self, request: Request[Any, Any, Any], tag_id: FromPath[int], actor: FromDishka[Actor],
                      use_case: FromDishka[GetTag]) -> Response[Envelope[TagOut]]:
        return ok(request, TagOut.of(await use_case.execute(actor, TagId(tag_id))))

    @patch("/{tag_id:int}", opt=requires(Permission.TAGS_WRITE), summary="Update a tag")
    async def update_tag(self, request: Request[Any, Any, Any], tag_id: FromPath[int], data: JSONBody[TagPatch],
                         actor: FromDishka[Actor], use_case: FromDishka[UpdateTag]) -> Response[Envelope[TagOut]]:
        record = await use_case.execute(UpdateTagInput(
            actor=actor, tag_id=TagId(tag_id), name=given(data.name), display_name=given(data.display_name),
            category=given(data.category), description=given(data.description), is_active=given(data.is_active),
            revision=data.revision))
        return ok(request, TagOut.of(record), message="Tag updated")

    @delete("/{tag_id:int}", opt=requires(Permission.TAGS_WRITE), status_code=200,
            summary="Delete a tag (linked → 409 unless force, which needs system:manage)")
    async def delete_tag(self, request: Request[Any, Any, Any], tag_id: FromPath[int], actor: FromDishka[Actor],
                         use_case: FromDishka[DeleteTag],
                         force: Annotated[bool, QueryParameter(name="force")] = False,
                         revision: Annotated[int | None, QueryParameter(name="revision")] = None
                         ) -> Response[Envelope[TagUnlinkedOut]]:
        unlinked = await use_case.execute(actor, TagId(tag_id), force=force, revision=revision)
        return ok(request, TagUnlinkedOut(id=tag_id, unlinked_count=unlinked), message="Tag deleted")

    @post("/actions/bulk-assign", opt=requires(Permission.TAGS_WRITE), status_code=200,
          summary="Link every tag to every instance", description=BulkAssignTags.__doc__)
    async def bulk_assign(self, request: Request[Any, Any, Any], data: JSONBody[BulkPairs], actor: FromDishka[Actor],
                          use_case: FromDishka[BulkAssignTags]) -> Response[Envelope[PairReceiptsOut]]:
        receipts = await use_case.execute(actor, [InstanceId(i) for i in data.instance_ids],
                                          [TagId(t) for t in data.tag_ids])
        return ok(request, PairReceiptsOut.of(receipts))

    @post("/actions/bulk-remove", opt=requires(Permission.TAGS_WRITE), status_code=200, summary="Unlink pairs")
    async def bulk_remove(self, request: Request[Any, Any, Any], data: JSONBody[BulkPairs], actor: FromDishka[Actor],
                          use_case: FromDishka[BulkRemoveTags]) -> Response[Envelope[PairReceiptsOut]]:
        receipts = await use_case.execute(actor, [InstanceId(i) for i in data.instance_ids],
                                          [TagId(t) for t in data.tag_ids])
        return ok(request, PairReceiptsOut.of(receipts))

    @post("/actions/bulk-clear", opt=requires(Permission.TAGS_WRITE), status_code=200,
          summary="Remove all tags of instances")
    async def bulk_clear(self, request: Request[Any, Any, Any], data: JSONBody[BulkClear], actor: FromDishka[Actor],
                         use_case: FromDishka[BulkClearTags]) -> Response[Envelope[ClearReceiptsOut]]:
        receipts = await use_case.execute(actor, [InstanceId(i) for i in data.instance_ids])
        return ok(request, ClearReceiptsOut.of(receipts))
