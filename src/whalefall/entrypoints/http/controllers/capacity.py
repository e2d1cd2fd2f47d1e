"""Capacity routes (api.md §3.11): aggregation rows, one-period summaries, raw samples, forecasts, aggregation."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream

from whalefall.application.capacity.capacity_exports import (
    DATABASE_AGGREGATION_COLUMNS,
    INSTANCE_AGGREGATION_COLUMNS,
    ExportCapacityAggregations,
)
from whalefall.application.capacity.capacity_queries import (
    ListCapacitySamples,
    ListDatabaseAggregations,
    ListInstanceAggregations,
    SummarizeCapacity,
)
from whalefall.application.capacity.forecast_capacity import ForecastCapacity, ForecastCapacityInput
from whalefall.application.capacity.start_capacity_aggregation import (
    StartCapacityAggregation,
    StartCapacityAggregationInput,
)
from whalefall.application.capacity.start_capacity_collection import (
    StartCapacityCollection,
    StartCapacityCollectionInput,
)
from whalefall.application.ports.capacity import AggregationQuery
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import parse_sort
from whalefall.domain.capacity import PeriodType, Trend
from whalefall.domain.errors import Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine, InstanceId
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.csv_response import CSV_MEDIA_TYPE, csv_download
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out, server_time
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.receipts import SessionReceiptOut, selection_of, session_receipt
from whalefall.entrypoints.http.schemas.capacity import (
    AggregateIn,
    CollectIn,
    DatabaseAggregationOut,
    DatabaseSampleOut,
    ForecastOut,
    InstanceAggregationOut,
    InstanceSampleOut,
    SummaryOut,
    SyncCapacityIn,
)

PeriodTypeQuery = Annotated[PeriodType, QueryParameter(name="period_type", description="required; one period type")]
StartOnQuery = Annotated[date | None, QueryParameter(name="start_on")]
EndOnQuery = Annotated[date | None, QueryParameter(name="end_on")]
InstanceIdsQuery = Annotated[list[int] | None, QueryParameter(name="instance_id")]
DatabaseIdsQuery = Annotated[list[int] | None, QueryParameter(name="database_id")]
DbTypesQuery = Annotated[list[DbEngine] | None, QueryParameter(name="db_type")]
TagsAnyQuery = Annotated[list[str] | None, QueryParameter(name="tags_any")]
TrendsQuery = Annotated[list[Trend] | None, QueryParameter(name="trend")]
IsCompleteQuery = Annotated[bool | None, QueryParameter(name="is_complete")]
IncludePartialQuery = Annotated[bool, QueryParameter(name="include_partial")]
PeriodStartQuery = Annotated[date | None, QueryParameter(name="period_start")]
InstanceIdQuery = Annotated[int, QueryParameter(name="instance_id", ge=1)]
Bom = Annotated[bool, QueryParameter(name="bom", description="prefix a UTF-8 byte-order mark")]
DB_SORT = ("period_start", "avg_bytes", "change_bytes", "change_percent")
INSTANCE_SORT = ("period_start", "avg_total_bytes", "change_bytes", "change_percent")


def _query(period_type: PeriodType, start_on: date | None, end_on: date | None, instance_id: list[int] | None,
           db_type: list[DbEngine] | None, tags_any: list[str] | None, trend: list[Trend] | None,
           is_complete: bool | None, include_partial: bool, *, database_id: list[int] | None = None,
           period_start: date | None = None) -> AggregationQuery:
    return AggregationQuery(period_type=period_type, start_on=start_on, end_on=end_on, period_start=period_start,
                            instance_ids=frozenset(instance_id or ()), database_ids=frozenset(database_id or ()),
                            db_types=frozenset(db_type or ()), tags_any=frozenset(tags_any or ()),
                            trends=frozenset(trend or ()), is_complete=is_complete, include_partial=include_partial)


class CapacityController(Controller):
    path = "/capacity"
    tags = ["capacity"]

    @get("/databases", opt=requires(Permission.CAPACITY_READ), summary="Database aggregations",
         description=ListDatabaseAggregations.__doc__)
    async def database_rows(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
        use_case: FromDishka[ListDatabaseAggregations], period_type: PeriodTypeQuery,
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None, start_on: StartOnQuery = None,
        end_on: EndOnQuery = None, instance_id: InstanceIdsQuery = None, database_id: DatabaseIdsQuery = None,
        db_type: DbTypesQuery = None, tags_any: TagsAnyQuery = None, trend: TrendsQuery = None,
        is_complete: IsCompleteQuery = None, include_partial: IncludePartialQuery = False,
    ) -> Response[Envelope[PageOut[DatabaseAggregationOut]]]:
        paging = page_request(page, limit, sort, allowed=DB_SORT, default="-period_start")
        query = _query(period_type, start_on, end_on, instance_id, db_type, tags_any, trend, is_complete,
                       include_partial, database_id=database_id)
        return ok(request, page_out(await use_case.execute(actor, query, paging), DatabaseAggregationOut.of))

    @get("/databases/summary", opt=requires(Permission.CAPACITY_READ), summary="Database totals of one period",
         description=SummarizeCapacity.__doc__)
    async def database_summary(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[SummarizeCapacity],
        period_type: PeriodTypeQuery, period_start: PeriodStartQuery = None, instance_id: InstanceIdsQuery = None,
        database_id: DatabaseIdsQuery = None, db_type: DbTypesQuery = None, tags_any: TagsAnyQuery = None,
        trend: TrendsQuery = None, is_complete: IsCompleteQuery = None, include_partial: IncludePartialQuery = False,
    ) -> Response[Envelope[SummaryOut]]:
        query = _query(period_type, None, None, instance_id, db_type, tags_any, trend, is_complete, include_partial,
                       database_id=database_id, period_start=period_start)
        return ok(request, SummaryOut.of(await use_case.execute(actor, query, level="databases")))

    @get("/instances", opt=requires(Permission.CAPACITY_READ), summary="Instance aggregations",
         description=ListInstanceAggregations.__doc__)
    async def instance_rows(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
        use_case: FromDishka[ListInstanceAggregations], period_type: PeriodTypeQuery,
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None, start_on: StartOnQuery = None,
        end_on: EndOnQuery = None, instance_id: InstanceIdsQuery = None, db_type: DbTypesQuery = None,
        tags_any: TagsAnyQuery = None, trend: TrendsQuery = None, is_complete: IsCompleteQuery = None,
        include_partial: IncludePartialQuery = False,
    ) -> Response[Envelope[PageOut[InstanceAggregationOut]]]:
        paging = page_request(page, limit, sort, allowed=INSTANCE_SORT, default="-period_start")
        query = _query(period_type, start_on, end_on, instance_id, db_type, tags_any, trend, is_complete,
                       include_partial)
        return ok(request, page_out(await use_case.execute(actor, query, paging), InstanceAggregationOut.of))

    @get("/instances/summary", opt=requires(Permission.CAPACITY_READ), summary="Instance totals of one period",
         description=SummarizeCapacity.__doc__)
    async def instance_summary(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[SummarizeCapacity],
        period_type: PeriodTypeQuery, period_start: PeriodStartQuery = None, instance_id: InstanceIdsQuery = None,
        db_type: DbTypesQuery = None, tags_any: TagsAnyQuery = None, trend: TrendsQuery = None,
        is_complete: IsCompleteQuery = None, include_partial: IncludePartialQuery = False,
    ) -> Response[Envelope[SummaryOut]]:
        query = _query(period_type, None, None, instance_id, db_type, tags_any, trend, is_complete, include_partial,
                       period_start=period_start)
        return ok(request, SummaryOut.of(await use_case.execute(actor, query, level="instances")))

    @get("/samples/databases", opt=requires(Permission.CAPACITY_READ), summary="Raw daily database samples",
         description=ListCapacitySamples.__doc__)
    async def database_samples(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListCapacitySamples],
        instance_id: InstanceIdQuery, page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        database_name: Annotated[str | None, QueryParameter(name="database_name", min_length=1,
                                                            max_length=512)] = None,
        start_on: StartOnQuery = None, end_on: EndOnQuery = None,
    ) -> Response[Envelope[PageOut[DatabaseSampleOut]]]:
        paging = page_request(page, limit, sort, allowed=("collected_on",), default="collected_on")
        result = await use_case.databases(actor, instance_id, database_name, start_on, end_on, paging)
        return ok(request, page_out(result, DatabaseSampleOut.of))

    @get("/samples/instances", opt=requires(Permission.CAPACITY_READ), summary="Raw daily instance samples",
         description=ListCapacitySamples.__doc__)
    async def instance_samples(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListCapacitySamples],
        instance_id: InstanceIdQuery, page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        start_on: StartOnQuery = None, end_on: EndOnQuery = None,
    ) -> Response[Envelope[PageOut[InstanceSampleOut]]]:
        paging = page_request(page, limit, sort, allowed=("collected_on",), default="collected_on")
        result = await use_case.instances(actor, instance_id, start_on, end_on, paging)
        return ok(request, page_out(result, InstanceSampleOut.of))

    @get("/forecast", opt=requires(Permission.CAPACITY_READ), summary="Least-squares forecast",
         description=ForecastCapacity.__doc__)
    async def forecast(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ForecastCapacity],
        instance_id: InstanceIdQuery,
        database_name: Annotated[str | None, QueryParameter(name="database_name", min_length=1,
                                                            max_length=512)] = None,
        window_days: Annotated[int | None, QueryParameter(name="window_days", ge=7, le=730)] = None,
        threshold_bytes: Annotated[int | None, QueryParameter(name="threshold_bytes", ge=0)] = None,
        horizons: Annotated[list[int] | None, QueryParameter(name="horizons", description="days, 1–3650")] = None,
    ) -> Response[Envelope[ForecastOut]]:
        bad = [Problem(f"query.horizons[{k}]" if len(horizons or ()) > 1 else "query.horizons", "too_small"
                       if h < 1 else "too_large", "must be within 1–3650", {"min": 1, "max": 3650})
               for k, h in enumerate(horizons or ()) if not 1 <= h <= 3650]
        if bad:
            raise ValidationProblemsError(bad)
        result = await use_case.execute(ForecastCapacityInput(
            actor=actor, instance_id=instance_id, database_name=database_name, window_days=window_days,
            threshold_bytes=threshold_bytes, horizons=tuple(horizons) if horizons else (30, 90)))
        return ok(request, ForecastOut.of(result))

    @post("/actions/aggregate", opt=requires(Permission.SYNC_RUN), status_code=202,
          summary="Queue an aggregation", description=StartCapacityAggregation.__doc__)
    async def aggregate(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                        use_case: FromDishka[StartCapacityAggregation], data: JSONBody[AggregateIn]
                        ) -> Response[Envelope[SessionReceiptOut]]:
        session = await use_case.execute(StartCapacityAggregationInput(
            actor=actor, period_types=tuple(data.period_types or PeriodType), window=data.window_spec()))
        return session_receipt(request, session, message="Aggregation queued")

    @post("/actions/collect", opt=requires(Permission.SYNC_RUN), status_code=202,
          summary="Queue a capacity collection", description=StartCapacityCollection.__doc__)
    async def collect(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                      use_case: FromDishka[StartCapacityCollection], data: JSONBody[CollectIn]
                      ) -> Response[Envelope[SessionReceiptOut]]:
        session = await use_case.execute(StartCapacityCollectionInput(actor=actor, selection=selection_of(data),
                                                                      include_tables=data.include_tables))
        return session_receipt(request, session, message="Capacity collection queued")

    @get("/databases/exports", opt=requires(Permission.CAPACITY_READ), media_type=CSV_MEDIA_TYPE,
         summary="Database aggregations as CSV (needs exports:run too)",
         description=ExportCapacityAggregations.__doc__)
    async def export_database_rows(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
        use_case: FromDishka[ExportCapacityAggregations], period_type: PeriodTypeQuery, sort: SortQuery = None,
        bom: Bom = False, start_on: StartOnQuery = None, end_on: EndOnQuery = None,
        instance_id: InstanceIdsQuery = None, database_id: DatabaseIdsQuery = None, db_type: DbTypesQuery = None,
        tags_any: TagsAnyQuery = None, trend: TrendsQuery = None, is_complete: IsCompleteQuery = None,
        include_partial: IncludePartialQuery = False,
    ) -> Stream:
        query = _query(period_type, start_on, end_on, instance_id, db_type, tags_any, trend, is_complete,
                       include_partial, database_id=database_id)
        rows = await use_case.execute(actor, query, parse_sort(sort, allowed=DB_SORT, default="-period_start"),
                                      level="databases")
        return csv_download("capacity_databases", DATABASE_AGGREGATION_COLUMNS, rows, at=server_time(request),
                            bom=bom)

    @get("/instances/exports", opt=requires(Permission.CAPACITY_READ), media_type=CSV_MEDIA_TYPE,
         summary="Instance aggregations as CSV (needs exports:run too)",
         description=ExportCapacityAggregations.__doc__)
    async def export_instance_rows(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
        use_case: FromDishka[ExportCapacityAggregations], period_type: PeriodTypeQuery, sort: SortQuery = None,
        bom: Bom = False, start_on: StartOnQuery = None, end_on: EndOnQuery = None,
        instance_id: InstanceIdsQuery = None, db_type: DbTypesQuery = None, tags_any: TagsAnyQuery = None,
        trend: TrendsQuery = None, is_complete: IsCompleteQuery = None, include_partial: IncludePartialQuery = False,
    ) -> Stream:
        query = _query(period_type, start_on, end_on, instance_id, db_type, tags_any, trend, is_complete,
                       include_partial)
        rows = await use_case.execute(actor, query, parse_sort(sort, allowed=INSTANCE_SORT,
                                                               default="-period_start"), level="instances")
        return csv_download("capacity_instances", INSTANCE_AGGREGATION_COLUMNS, rows, at=server_time(request),
                            bom=bom)


class CapacitySyncController(Controller):
    """`POST /instances/{id}/actions/sync-capacity` (api.md §3.5); the path belongs to this controller only."""

    path = "/instances"
    tags = ["capacity"]

    @post("/{instance_id:int}/actions/sync-capacity", opt=requires(Permission.SYNC_RUN), status_code=202,
          summary="Collect one instance's capacity (queued)", description=StartCapacityCollection.__doc__)
    async def sync_capacity(self, request: Request[Any, Any, Any], instance_id: FromPath[int],
                            actor: FromDishka[Actor], use_case: FromDishka[StartCapacityCollection],
                            data: JSONBody[SyncCapacityIn | None] = None) -> Response[Envelope[SessionReceiptOut]]:
        session = await use_case.execute(StartCapacityCollectionInput(
            actor=actor, instance_id=InstanceId(instance_id),
            include_tables=data.include_tables if data is not None else None))
        return session_receipt(request, session, message="Capacity collection queued")
