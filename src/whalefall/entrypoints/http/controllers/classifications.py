"""Classification routes (api.md §3.9): CRUD, current statistics and the auto-classify action."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from whalefall.application.classification.assignments import GetStatistics
from whalefall.application.classification.classifications import (
    CreateClassification,
    CreateClassificationInput,
    DeleteClassification,
    GetClassification,
    ListClassifications,
    UpdateClassification,
    UpdateClassificationInput,
)
from whalefall.application.classification.start_classification import (
    ClassificationSelection,
    StartClassification,
    StartClassificationInput,
)
from whalefall.application.classification.statistics_trend import GetStatisticsTrend, TrendQuery
from whalefall.application.ports.classification import ClassificationQuery
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine
from whalefall.domain.periods import PeriodType
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.schemas.classification import (
    AutoClassifyIn,
    ClassificationCreate,
    ClassificationOut,
    ClassificationPatch,
    IdOut,
    SessionReceiptOut,
    StatisticsOut,
    TrendOut,
)


class ClassificationController(Controller):
    path = "/classifications"
    tags = ["classifications"]

    @get("/", opt=requires(Permission.CLASSIFICATIONS_READ), summary="List classifications",
         description=ListClassifications.__doc__)
    async def list_classifications(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListClassifications],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        q: Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)] = None,
        is_system: Annotated[bool | None, QueryParameter(name="is_system")] = None,
        is_active: Annotated[bool | None, QueryParameter(name="is_active")] = None,
    ) -> Response[Envelope[PageOut[ClassificationOut]]]:
        paging = page_request(page, limit, sort, allowed=("priority", "code", "risk_level"), default="-priority")
        result = await use_case.execute(actor, ClassificationQuery(q=q, is_system=is_system, is_active=is_active),
                                        paging)
        return ok(request, page_out(result, ClassificationOut.of))

    @post("/", opt=requires(Permission.RULES_WRITE), summary="Create a classification",
          description=CreateClassification.__doc__)
    async def create_classification(self, request: Request[Any, Any, Any], data: JSONBody[ClassificationCreate],
                                    actor: FromDishka[Actor], use_case: FromDishka[CreateClassification]
                                    ) -> Response[Envelope[ClassificationOut]]:
        created = await use_case.execute(CreateClassificationInput(
            actor=actor, code=data.code, display_name=data.display_name, description=data.description,
            risk_level=data.risk_level, priority=data.priority, icon=data.icon, is_active=data.is_active))
        return ok(request, ClassificationOut.of(created), message="Classification created", status_code=201,
                  location=f"/api/v1/classifications/{created.id}")

    @get("/statistics", opt=requires(Permission.CLASSIFICATIONS_READ), summary="Current counts",
         description=GetStatistics.__doc__)
    async def statistics(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                         use_case: FromDishka[GetStatistics],
                         db_type: Annotated[list[DbEngine] | None, QueryParameter(name="db_type")] = None,
                         instance_id: Annotated[list[int] | None, QueryParameter(name="instance_id")] = None,
                         ) -> Response[Envelope[StatisticsOut]]:
        result = await use_case.execute(actor, frozenset(db_type or ()), frozenset(instance_id or ()))
        return ok(request, StatisticsOut.of(result))

    @get("/statistics/trend", opt=requires(Permission.CLASSIFICATIONS_READ), summary="Counts per period",
         description=GetStatisticsTrend.__doc__)
    async def statistics_trend(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[GetStatisticsTrend],
        classification_id: Annotated[list[int] | None, QueryParameter(name="classification_id")] = None,
        rule_id: Annotated[list[int] | None, QueryParameter(name="rule_id")] = None,
        period_type: Annotated[PeriodType, QueryParameter(name="period_type")] = PeriodType.DAILY,
        start_on: Annotated[date | None, QueryParameter(name="start_on")] = None,
        end_on: Annotated[date | None, QueryParameter(name="end_on")] = None,
    ) -> Response[Envelope[TrendOut]]:
        result = await use_case.execute(actor, TrendQuery(
            classification_ids=tuple(classification_id or ()), rule_ids=tuple(rule_id or ()),
            period_type=period_type, start_on=start_on, end_on=end_on))
        return ok(request, TrendOut.of(result))

    @post("/actions/auto-classify", opt=requires(Permission.SYNC_RUN), status_code=202,
          summary="Classify (queued, kind classification)", description=StartClassification.__doc__)
    async def auto_classify(self, request: Request[Any, Any, Any], data: JSONBody[AutoClassifyIn],
                            actor: FromDishka[Actor], use_case: FromDishka[StartClassification]
                            ) -> Response[Envelope[SessionReceiptOut]]:
        selection = ClassificationSelection(
            instance_ids=tuple(data.instance_ids) if data.instance_ids is not None else None,
            db_types=frozenset(data.db_types or ()))
        session = await use_case.execute(StartClassificationInput(actor=actor, selection=selection))
        receipt = SessionReceiptOut.of(session)
        return ok(request, receipt, message="Classification queued", status_code=202, location=receipt.status_url)

    @get("/{classification_id:int}", opt=requires(Permission.CLASSIFICATIONS_READ), summary="Classification")
    async def get_classification(self, request: Request[Any, Any, Any], classification_id: FromPath[int],
                                 actor: FromDishka[Actor], use_case: FromDishka[GetClassification]
                                 ) -> Response[Envelope[ClassificationOut]]:
        return ok(request, ClassificationOut.of(await use_case.execute(actor, classification_id)))

    @patch("/{classification_id:int}", opt=requires(Permission.RULES_WRITE), summary="Update a classification",
           description=UpdateClassification.__doc__)
    async def update_classification(self, request: Request[Any, Any, Any], classification_id: FromPath[int],
                                    data: JSONBody[ClassificationPatch], actor: FromDishka[Actor],
                                    use_case: FromDishka[UpdateClassification]
                                    ) -> Response[Envelope[ClassificationOut]]:
        updated = await use_case.execute(UpdateClassificationInput(
            actor=actor, classification_id=classification_id, changes=data.changes(), revision=data.revision))
        return ok(request, ClassificationOut.of(updated), message="Classification updated")

    @delete("/{classification_id:int}", opt=requires(Permission.RULES_WRITE), status_code=200,
            summary="Delete a classification", description=DeleteClassification.__doc__)
    async def delete_classification(self, request: Request[Any, Any, Any], classification_id: FromPath[int],
                                    actor: FromDishka[Actor], use_case: FromDishka[DeleteClassification],
                                    revision: Annotated[int | None, QueryParameter(name="revision")] = None,
                                    ) -> Response[Envelope[IdOut]]:
        deleted = await use_case.execute(actor, classification_id, revision)
        return ok(request, IdOut(id=deleted), message="Classification deleted")
