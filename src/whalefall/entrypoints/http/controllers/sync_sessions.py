"""Sync session routes (api.md §3.15, operations §1.10): list, detail with records, records, cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, QueryParameter

from whalefall.application.ports.sessions import SessionQuery
from whalefall.application.sessions.cancel_session import CancelSession
from whalefall.application.sessions.queries import GetSession, ListRecords, ListSessions, RecordQuery
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.schemas.sync_sessions import RecordOut, SessionDetailOut, SessionOut

SessionIdPath = FromPath[str]


class SyncSessionController(Controller):
    path = "/sync-sessions"
    tags = ["sync-sessions"]

    @get("/", opt=requires(Permission.SESSIONS_READ), summary="Sync sessions", description=ListSessions.__doc__)
    async def list_sessions(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListSessions],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        kind: Annotated[list[SessionKind] | None, QueryParameter(name="kind")] = None,
        status: Annotated[list[SessionStatus] | None, QueryParameter(name="status")] = None,
        trigger: Annotated[SessionTrigger | None, QueryParameter(name="trigger")] = None,
        session_scope: Annotated[SessionScope | None, QueryParameter(name="scope")] = None,
        job_id: Annotated[str | None, QueryParameter(name="job_id", min_length=1, max_length=64)] = None,
        pipeline_run_id: Annotated[str | None, QueryParameter(name="pipeline_run_id", min_length=1,
                                                              max_length=64)] = None,
        created_by: Annotated[int | None, QueryParameter(name="created_by", ge=1)] = None,
        instance_id: Annotated[int | None, QueryParameter(name="instance_id", ge=1)] = None,
        since: Annotated[datetime | None, QueryParameter(name="since")] = None,
        until: Annotated[datetime | None, QueryParameter(name="until")] = None,
    ) -> Response[Envelope[PageOut[SessionOut]]]:
        if since is not None and until is not None and since >= until:
            raise ValidationProblemsError([Problem("query.since", "invalid_range", "since must be before until")])
        paging = page_request(page, limit, sort, allowed=("created_at", "duration_ms"), default="-created_at")
        query = SessionQuery(kinds=frozenset(kind or ()), statuses=frozenset(status or ()), trigger=trigger,
                             scope=session_scope, job_id=job_id, pipeline_run_id=pipeline_run_id, created_by=created_by,
                             instance_id=instance_id, since=since, until=until)
        return ok(request, page_out(await use_case.execute(actor, query, paging), SessionOut.of))

    @get("/{session_id:str}", opt=requires(Permission.SESSIONS_READ), summary="A session with its first records",
         description=GetSession.__doc__)
    async def get_session(self, request: Request[Any, Any, Any], session_id: SessionIdPath, actor: FromDishka[Actor],
                          use_case: FromDishka[GetSession]) -> Response[Envelope[SessionDetailOut]]:
        detail = await use_case.execute(actor, session_id)
        return ok(request, SessionDetailOut(**SessionOut.fields_of(detail.session),
                                            records=[RecordOut.of(r) for r in detail.records.items],
                                            records_total=detail.records.total))

    @get("/{session_id:str}/records", opt=requires(Permission.SESSIONS_READ), summary="Records of a session",
         description=ListRecords.__doc__)
    async def list_records(
        self, request: Request[Any, Any, Any], session_id: SessionIdPath, actor: FromDishka[Actor],
        use_case: FromDishka[ListRecords], page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        status: Annotated[list[RecordStatus] | None, QueryParameter(name="status")] = None,
        error_class: Annotated[list[str] | None, QueryParameter(name="error_class")] = None,
        instance_id: Annotated[int | None, QueryParameter(name="instance_id", ge=1)] = None,
    ) -> Response[Envelope[PageOut[RecordOut]]]:
        paging = page_request(page, limit, sort, allowed=("item_key", "status", "finished_at"), default="item_key")
        query = RecordQuery(statuses=frozenset(status or ()), error_classes=frozenset(error_class or ()),
                            instance_id=instance_id)
        return ok(request, page_out(await use_case.execute(actor, session_id, query, paging), RecordOut.of))

    @post("/{session_id:str}/actions/cancel", opt=requires(Permission.SYNC_RUN), status_code=202,
          summary="Cancel a running session", description=CancelSession.__doc__)
    async def cancel_session(self, request: Request[Any, Any, Any], session_id: SessionIdPath,
                             actor: FromDishka[Actor], use_case: FromDishka[CancelSession]
                             ) -> Response[Envelope[SessionOut]]:
        session = await use_case.execute(actor, session_id)
        return ok(request, SessionOut.of(session), message="Cancellation requested", status_code=202,
                  location=f"/api/v1/sync-sessions/{session.id}")
