"""Instance routes (api.md §3.5): CRUD, soft delete, restore, purge, single and batch connection tests."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from whalefall.application.identity.request_limits import LimitedAction, PrincipalRateLimits
from whalefall.application.instances.create_instance import CreateInstance, CreateInstanceInput
from whalefall.application.instances.instance_lifecycle import DeleteInstance, PurgeInstance, RestoreInstance
from whalefall.application.instances.instance_queries import GetInstance, ListInstances
from whalefall.application.instances.start_connection_tests import (
    StartConnectionTests,
    StartConnectionTestsInput,
    distinct_ids,
)
from whalefall.application.instances.test_connection import TestInstanceConnection
from whalefall.application.instances.update_instance import UpdateInstance, UpdateInstanceInput
from whalefall.application.ports.instances import InstanceQuery
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import CredentialId, DbEngine, InstanceId
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import DeletedOut, Envelope, IdOut, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.patching import given
from whalefall.entrypoints.http.receipts import SessionReceiptOut, session_receipt
from whalefall.entrypoints.http.schemas.connection_tests import ConnectionTestResultOut, ConnectionTestsIn
from whalefall.entrypoints.http.schemas.instances import InstanceCreate, InstanceOut, InstancePatch

SORTABLE = ("name", "db_type", "host", "created_at", "last_success_at", "last_accounts_sync_at")


class InstanceController(Controller):
    path = "/instances"
    tags = ["instances"]

    @get("/", opt=requires(Permission.INSTANCES_READ), summary="List instances")
    async def list_instances(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListInstances],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        q: Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)] = None,
        db_type: Annotated[list[DbEngine] | None, QueryParameter(name="db_type")] = None,
        flavor: Annotated[list[str] | None, QueryParameter(name="flavor")] = None,
        status: Annotated[Literal["active", "inactive", "deleted"] | None, QueryParameter(name="status")] = None,
        tags_any: Annotated[list[str] | None, QueryParameter(name="tags_any")] = None,
        tags_all: Annotated[list[str] | None, QueryParameter(name="tags_all")] = None,
        credential_id: Annotated[int | None, QueryParameter(name="credential_id", ge=1)] = None,
        connection: Annotated[Literal["ok", "failed", "never"] | None, QueryParameter(name="connection")] = None,
    ) -> Response[Envelope[PageOut[InstanceOut]]]:
        paging = page_request(page, limit, sort, allowed=SORTABLE, default="name")
        query = InstanceQuery(q=q, db_types=frozenset(db_type or ()), flavors=frozenset(flavor or ()), status=status,
                              tags_any=frozenset(tags_any or ()), tags_all=frozenset(tags_all or ()),
                              credential_id=CredentialId(credential_id) if credential_id else None,
                              connection=connection)
        return ok(request, page_out(await use_case.execute(actor, query, paging), InstanceOut.of))

    @post("/", opt=requires(Permission.INSTANCES_WRITE), summary="Register an instance",
          description=CreateInstance.__doc__)
    async def create_instance(self, request: Request[Any, Any, Any], data: JSONBody[InstanceCreate],
                              actor: FromDishka[Actor], use_case: FromDishka[CreateInstance]
                              ) -> Response[Envelope[InstanceOut]]:
        record = await use_case.execute(CreateInstanceInput(
            actor=actor, name=data.name, db_type=data.db_type, host=data.host, port=data.port,
            database_name=data.database_name,
            credential_id=CredentialId(data.credential_id) if data.credential_id is not None else None,
            description=data.description, is_active=data.is_active, tags=data.tags,
            capacity_limit_bytes=data.capacity_limit_bytes, collect_table_sizes=data.collect_table_sizes))
        return ok(request, InstanceOut.of(record), message="Instance created", status_code=201,
                  location=f"/api/v1/instances/{record.id}")

    @get("/{instance_id:int}", opt=requires(Permission.INSTANCES_READ), summary="Instance detail")
    async def get_instance(self, request: Request[Any, Any, Any], instance_id: FromPath[int],
                           actor: FromDishka[Actor], use_case: FromDishka[GetInstance]
                           ) -> Response[Envelope[InstanceOut]]:
        return ok(request, InstanceOut.of(await use_case.execute(actor, InstanceId(instance_id))))

    @patch("/{instance_id:int}", opt=requires(Permission.INSTANCES_WRITE), summary="Update an instance",
           description=UpdateInstance.__doc__)
    async def update_instance(self, request: Request[Any, Any, Any], instance_id: FromPath[int],
                              data: JSONBody[InstancePatch], actor: FromDishka[Actor],
                              use_case: FromDishka[UpdateInstance]) -> Response[Envelope[InstanceOut]]:
        credential = given(data.credential_id)
        record = await use_case.execute(UpdateInstanceInput(
            actor=actor, instance_id=InstanceId(instance_id), name=given(data.name), db_type=given(data.db_type),
            host=given(data.host), port=given(data.port), database_name=given(data.database_name),
            credential_id=CredentialId(credential) if isinstance(credential, int) else credential,
            description=given(data.description), is_active=given(data.is_active), tags=given(data.tags),
            capacity_limit_bytes=given(data.capacity_limit_bytes),
            collect_table_sizes=given(data.collect_table_sizes), revision=data.revision))
        return ok(request, InstanceOut.of(record), message="Instance updated")

    @delete("/{instance_id:int}", opt=requires(Permission.INSTANCES_WRITE), status_code=200,
            summary="Soft-delete an instance")
    async def delete_instance(self, request: Request[Any, Any, Any], instance_id: FromPath[int],
                              actor: FromDishka[Actor], use_case: FromDishka[DeleteInstance],
                              revision: Annotated[int | None, QueryParameter(name="revision")] = None
                              ) -> Response[Envelope[DeletedOut]]:
        deleted_at = await use_case.execute(actor, InstanceId(instance_id), revision)
        return ok(request, DeletedOut(id=instance_id, deleted_at=deleted_at), message="Instance deleted")

    @post("/{instance_id:int}/actions/restore", opt=requires(Permission.INSTANCES_WRITE), status_code=200,
          summary="Undo a soft delete")
    async def restore_instance(self, request: Request[Any, Any, Any], instance_id: FromPath[int],
                               actor: FromDishka[Actor], use_case: FromDishka[RestoreInstance]
                               ) -> Response[Envelope[InstanceOut]]:
        return ok(request, InstanceOut.of(await use_case.execute(actor, InstanceId(instance_id))),
                  message="Instance restored")

    @post("/{instance_id:int}/actions/purge", opt=requires(Permission.SYSTEM_MANAGE), status_code=200,
          summary="Physically delete a soft-deleted instance and its data")
    async def purge_instance(self, request: Request[Any, Any, Any], instance_id: FromPath[int],
                             actor: FromDishka[Actor], use_case: FromDishka[PurgeInstance]
                             ) -> Response[Envelope[IdOut]]:
        await use_case.execute(actor, InstanceId(instance_id))
        return ok(request, IdOut(id=instance_id), message="Instance purged")

    @post("/{instance_id:int}/actions/test-connection", opt=requires(Permission.INSTANCES_WRITE), status_code=200,
          summary="Test the registered endpoint with its stored credential",
          description=TestInstanceConnection.__doc__)
    async def test_connection(self, request: Request[Any, Any, Any], instance_id: FromPath[int],
                              actor: FromDishka[Actor], use_case: FromDishka[TestInstanceConnection]
                              ) -> Response[Envelope[ConnectionTestResultOut]]:
        result = await use_case.execute(actor, InstanceId(instance_id))
        return ok(request, ConnectionTestResultOut.of(result),
                  message="Connection test passed" if result.ok else "Connection test failed")

    @post("/actions/test-connections", opt=requires(Permission.INSTANCES_WRITE), status_code=202,
          summary="Test the connections of listed instances (queued)", description=StartConnectionTests.__doc__)
    async def test_connections(self, request: Request[Any, Any, Any], data: JSONBody[ConnectionTestsIn],
                               actor: FromDishka[Actor], use_case: FromDishka[StartConnectionTests],
                               limits: FromDishka[PrincipalRateLimits]) -> Response[Envelope[SessionReceiptOut]]:
        # Each listed instance spends one test of its per-instance limit (api.md §4.8), so batches cannot bypass it.
        ids = tuple(data.instance_ids)
        await limits.check_each(actor, LimitedAction.CONNECTION_TEST, (str(i) for i in distinct_ids(ids)))
        session = await use_case.execute(StartConnectionTestsInput(actor=actor, instance_ids=ids))
        return session_receipt(request, session, message="Connection tests queued")
