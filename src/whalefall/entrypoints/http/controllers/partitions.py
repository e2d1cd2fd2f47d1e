"""Partition routes (api.md §3.12): info, health, children, dry-run plan, queued apply and cleanup."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter

from whalefall.application.partitions.maintain_partitions import PartitionConfig, PlanPartitions
from whalefall.application.partitions.partition_status import InspectPartitions
from whalefall.application.partitions.start_partition_maintenance import StartPartitionMaintenance
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.receipts import SessionReceiptOut, session_receipt
from whalefall.entrypoints.http.schemas.partitions import InfoOut, PartitionOut, PlanOut, StatusOut, UnsupportedOut


class PartitionController(Controller):
    path = "/partitions"
    tags = ["partitions"]

    @get("/info", opt=requires(Permission.PARTITIONS_READ), summary="Partitioned tables and policy")
    async def info(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                   use_case: FromDishka[InspectPartitions], config: FromDishka[PartitionConfig]
                   ) -> Response[Envelope[InfoOut]]:
        return ok(request, InfoOut.of(await use_case.info(actor), config.policy))

    @get("/status", opt=requires(Permission.PARTITIONS_READ), summary="Partition health",
         description=InspectPartitions.__doc__)
    async def status(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                     use_case: FromDishka[InspectPartitions]) -> Response[Envelope[StatusOut]]:
        return ok(request, StatusOut.of(await use_case.health(actor)))

    @get("/", opt=requires(Permission.PARTITIONS_READ), summary="Children with their real bounds")
    async def list_partitions(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[InspectPartitions],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        table: Annotated[list[str] | None, QueryParameter(name="table")] = None,
        partition_state: Annotated[Literal["past", "current", "future", "default"] | None,
                                   QueryParameter(name="state")] = None,
    ) -> Response[Envelope[PageOut[PartitionOut]]]:
        paging = page_request(page, limit, sort, allowed=("table", "lower"), default="table,lower")
        result = await use_case.children(actor, tables=frozenset(table or ()), state=partition_state, page=paging)
        return ok(request, page_out(result, PartitionOut.of))

    @get("/plan", opt=requires(Permission.PARTITIONS_READ), summary="Dry run of the planner",
         description=PlanPartitions.__doc__)
    async def plan(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[PlanPartitions],
        today: Annotated[date | None, QueryParameter(name="today")] = None,
        premake_months: Annotated[int | None, QueryParameter(name="premake_months", ge=0, le=24)] = None,
    ) -> Response[Envelope[PlanOut]]:
        return ok(request, PlanOut.of(await use_case.execute(actor, today=today, premake_months=premake_months)))

    @post("/actions/apply", opt=requires(Permission.PARTITIONS_MANAGE), status_code=202,
          summary="Queue the whole plan", description=StartPartitionMaintenance.__doc__)
    async def apply(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                    use_case: FromDishka[StartPartitionMaintenance]
                    ) -> Response[Envelope[SessionReceiptOut]] | Response[Envelope[UnsupportedOut]]:
        return await _queued(request, use_case, actor, drops_only=False)

    @post("/actions/cleanup", opt=requires(Permission.PARTITIONS_MANAGE), status_code=202,
          summary="Queue the retention drops only", description=StartPartitionMaintenance.__doc__)
    async def cleanup(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                      use_case: FromDishka[StartPartitionMaintenance]
                      ) -> Response[Envelope[SessionReceiptOut]] | Response[Envelope[UnsupportedOut]]:
        return await _queued(request, use_case, actor, drops_only=True)


async def _queued(request: Request[Any, Any, Any], use_case: StartPartitionMaintenance, actor: Actor, *,
                  drops_only: bool) -> Response[Envelope[SessionReceiptOut]] | Response[Envelope[UnsupportedOut]]:
    session = await use_case.execute(actor, drops_only=drops_only)
    if session is None:
        return ok(request, UnsupportedOut(supported=False, reason=use_case.partitions.reason),
                  message="Partitioning is not supported by this metadata store")
    return session_receipt(request, session, message="Partition maintenance queued")
