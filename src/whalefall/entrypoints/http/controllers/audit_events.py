"""Audit trail routes (api.md §3.17): query, one event, CSV export (itself audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from whalefall.application.audit.export_audit_events import ExportAuditEvents
from whalefall.application.audit.query_audit_events import AuditSearchInput, GetAuditEvent, SearchAuditEvents
from whalefall.application.ports.audit import AuditOutcome
from whalefall.application.shared.actor import Actor, ActorType
from whalefall.domain.identity.roles import Permission
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.csv_response import CSV_MEDIA_TYPE, csv_download
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out, server_time
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.schemas.audit_events import CSV_COLUMNS, AuditEventOut, csv_row

Since = Annotated[datetime | None, QueryParameter(name="since", description="inclusive, RFC 3339 with an offset")]
Until = Annotated[datetime | None, QueryParameter(name="until", description="exclusive, RFC 3339 with an offset")]
ActorTypeQuery = Annotated[ActorType | None, QueryParameter(name="actor_type")]
ActorIds = Annotated[list[int] | None, QueryParameter(name="actor_id")]
ActionPrefix = Annotated[str | None, QueryParameter(name="action", min_length=1, max_length=64,
                                                    description="prefix")]
Outcomes = Annotated[list[AuditOutcome] | None, QueryParameter(name="outcome")]
TargetType = Annotated[str | None, QueryParameter(name="target_type", min_length=1, max_length=32)]
TargetId = Annotated[str | None, QueryParameter(name="target_id", min_length=1, max_length=64)]
RequestId = Annotated[str | None, QueryParameter(name="request_id", min_length=1, max_length=128)]


class AuditEventController(Controller):
    path = "/audit-events"
    tags = ["audit"]

    @get("/", opt=requires(Permission.AUDIT_READ), summary="Query audit events",
         description=SearchAuditEvents.__doc__)
    async def search_events(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[SearchAuditEvents],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None, since: Since = None,
        until: Until = None, actor_type: ActorTypeQuery = None, actor_id: ActorIds = None,
        action: ActionPrefix = None, outcome: Outcomes = None, target_type: TargetType = None,
        target_id: TargetId = None, request_id: RequestId = None,
    ) -> Response[Envelope[PageOut[AuditEventOut]]]:
        paging = page_request(page, limit, sort, allowed=("ts",), default="-ts")
        data = AuditSearchInput(actor=actor, since=since, until=until, actor_type=actor_type,
                                actor_ids=frozenset(actor_id or ()), action_prefix=action,
                                outcomes=frozenset(outcome or ()), target_type=target_type, target_id=target_id,
                                request_id=request_id)
        return ok(request, page_out(await use_case.execute(data, paging), AuditEventOut.of))

    @get("/exports", opt=requires(Permission.AUDIT_READ), summary="Audit events as CSV (needs exports:run too)",
         description=ExportAuditEvents.__doc__, media_type=CSV_MEDIA_TYPE)
    async def export_events(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ExportAuditEvents],
        since: Since = None, until: Until = None, actor_type: ActorTypeQuery = None, actor_id: ActorIds = None,
        action: ActionPrefix = None, outcome: Outcomes = None, target_type: TargetType = None,
        target_id: TargetId = None, request_id: RequestId = None,
        bom: Annotated[bool, QueryParameter(name="bom", description="prefix a UTF-8 byte-order mark")] = False,
    ) -> Stream:
        rows = await use_case.execute(AuditSearchInput(
            actor=actor, since=since, until=until, actor_type=actor_type, actor_ids=frozenset(actor_id or ()),
            action_prefix=action, outcomes=frozenset(outcome or ()), target_type=target_type, target_id=target_id,
            request_id=request_id))
        return csv_download("audit_events", CSV_COLUMNS, (csv_row(event) for event in rows),
                            at=server_time(request), bom=bom)

    @get("/{event_id:int}", opt=requires(Permission.AUDIT_READ), summary="One audit event")
    async def get_event(self, request: Request[Any, Any, Any], event_id: FromPath[int], actor: FromDishka[Actor],
                        use_case: FromDishka[GetAuditEvent]) -> Response[Envelope[AuditEventOut]]:
        return ok(request, AuditEventOut.of(await use_case.execute(actor, event_id)))
