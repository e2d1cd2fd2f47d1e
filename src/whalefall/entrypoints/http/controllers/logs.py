"""Unified log routes (api.md §3.16, operations.md §5.4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter

from whalefall.application.logs.query_logs import (
    GetLogEntry,
    GetLogStats,
    ListLogModules,
    LogSearchInput,
    SearchLogs,
    WindowInput,
)
from whalefall.application.ports.logs import LogLevel
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import PageRequest
from whalefall.domain.identity.roles import Permission
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.schemas.logs import LogEntryOut, LogStatsOut, ModuleCountOut

Since = Annotated[datetime | None, QueryParameter(name="since", description="inclusive, RFC 3339 with an offset")]
Until = Annotated[datetime | None, QueryParameter(name="until", description="exclusive, RFC 3339 with an offset")]
Text = Annotated[str | None, QueryParameter(min_length=1, max_length=200)]


class LogController(Controller):
    path = "/logs"
    tags = ["logs"]

    @get("/", opt=requires(Permission.LOGS_READ), summary="Query the unified logs",
         description=SearchLogs.__doc__)
    async def search_logs(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[SearchLogs],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None, since: Since = None,
        until: Until = None,
        level: Annotated[list[LogLevel] | None, QueryParameter(name="level")] = None,
        min_level: Annotated[LogLevel | None, QueryParameter(name="min_level")] = None,
        module: Annotated[list[str] | None, QueryParameter(name="module")] = None,
        logger: Annotated[str | None, QueryParameter(name="logger", min_length=1, max_length=200,
                                                     description="prefix")] = None,
        event: Annotated[str | None, QueryParameter(name="event", min_length=1, max_length=128,
                                                    description="prefix")] = None,
        q: Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100,
                                                description="case-insensitive substring of the message")] = None,
        request_id: Annotated[str | None, QueryParameter(name="request_id", min_length=1, max_length=128)] = None,
        session_id: Annotated[str | None, QueryParameter(name="session_id", min_length=1, max_length=64)] = None,
        pipeline_run_id: Annotated[str | None, QueryParameter(name="pipeline_run_id", min_length=1,
                                                              max_length=64)] = None,
        instance_id: Annotated[int | None, QueryParameter(name="instance_id", ge=1)] = None,
        user_id: Annotated[int | None, QueryParameter(name="user_id", ge=1)] = None,
    ) -> Response[Envelope[PageOut[LogEntryOut]]]:
        paging = page_request(page, limit, sort, allowed=("ts",), default="-ts")
        result = await use_case.execute(LogSearchInput(
            actor=actor, since=since, until=until, levels=frozenset(level or ()), min_level=min_level,
            modules=frozenset(module or ()), logger_prefix=logger, event_prefix=event, q=q, request_id=request_id,
            session_id=session_id, pipeline_run_id=pipeline_run_id, instance_id=instance_id, user_id=user_id,
            page=paging))
        return ok(request, page_out(result, LogEntryOut.of))

    @get("/stats", opt=requires(Permission.LOGS_READ), summary="Log counts in a window",
         description=GetLogStats.__doc__)
    async def log_stats(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                        use_case: FromDishka[GetLogStats], since: Since = None, until: Until = None
                        ) -> Response[Envelope[LogStatsOut]]:
        stats = await use_case.execute(WindowInput(actor=actor, since=since, until=until))
        return ok(request, LogStatsOut.of(stats))

    @get("/modules", opt=requires(Permission.LOGS_READ), summary="The fixed module list with counts",
         description=ListLogModules.__doc__)
    async def log_modules(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                          use_case: FromDishka[ListLogModules], page: PageQuery = 1, limit: LimitQuery = 20,
                          since: Since = None, until: Until = None) -> Response[Envelope[PageOut[ModuleCountOut]]]:
        result = await use_case.execute(WindowInput(actor=actor, since=since, until=until),
                                        PageRequest(page=page, limit=limit))
        return ok(request, page_out(result, ModuleCountOut.of))

    @get("/{log_id:int}", opt=requires(Permission.LOGS_READ), summary="One log entry")
    async def get_log(self, request: Request[Any, Any, Any], log_id: FromPath[int], actor: FromDishka[Actor],
                      use_case: FromDishka[GetLogEntry]) -> Response[Envelope[LogEntryOut]]:
        return ok(request, LogEntryOut.of(await use_case.execute(actor, log_id)))
