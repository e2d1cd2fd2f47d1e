"""Discovery and health probes (api.md §3.1)."""

from __future__ import annotations

from typing import Any, cast

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, head
from litestar.openapi import ResponseSpec

from whalefall.application.health.check_readiness import CheckReadiness
from whalefall.domain.errors import Problem
from whalefall.entrypoints.http.auth import PUBLIC, requires
from whalefall.entrypoints.http.envelope import Envelope, ErrorEnvelope, ok
from whalefall.entrypoints.http.errors import error_response


class DiscoveryOut(msgspec.Struct, kw_only=True):
    api_version: str
    docs_url: str
    openapi_url: str
    live_url: str
    ready_url: str


class LiveOut(msgspec.Struct, kw_only=True):
    status: str


class ComponentOut(msgspec.Struct, kw_only=True):
    name: str
    status: str


class ReadyOut(msgspec.Struct, kw_only=True):
    status: str
    components: list[ComponentOut]


class SystemController(Controller):
    path = "/"
    tags = ["system"]

    @get("/", opt=requires(PUBLIC), summary="API discovery")
    async def discovery(self, request: Request[Any, Any, Any]) -> Response[Envelope[DiscoveryOut]]:
        return ok(request, DiscoveryOut(api_version="v1", docs_url="/api/v1/schema",
                                        openapi_url="/api/v1/schema/openapi.json", live_url="/api/v1/health/live",
                                        ready_url="/api/v1/health/ready"))

    @get("/health/live", opt=requires(PUBLIC), summary="Liveness: the process serves requests")
    async def live(self, request: Request[Any, Any, Any]) -> Response[Envelope[LiveOut]]:
        return ok(request, LiveOut(status="live"))

    @get("/health/ready", opt=requires(PUBLIC), summary="Readiness: 503 NOT_READY when a required component is down",
         responses={503: ResponseSpec(data_container=ErrorEnvelope, description="A required component is down")})
    async def ready(self, request: Request[Any, Any, Any], readiness: FromDishka[CheckReadiness]
                    ) -> Response[Envelope[ReadyOut]]:
        components = await readiness.execute(draining=bool(getattr(request.app.state, "draining", False)))
        down = [c for c in components if c.required and not c.ok]
        if down:
            failure = error_response(request, status=503, code="NOT_READY", message="Not ready",
                                     problems=[Problem(f"components.{c.name}", "down", f"{c.name} is down")
                                               for c in down], headers={"Retry-After": "5"})
            return cast(Response[Envelope[ReadyOut]], failure)
        return ok(request, ReadyOut(status="ok", components=[ComponentOut(name=c.name, status="ok")
                                                             for c in components]))

    @head("/health/live", opt=requires(PUBLIC), summary="Liveness (HEAD)")
    async def live_head(self) -> Response[None]:
        return Response(content=None, status_code=200)

    @head("/health/ready", opt=requires(PUBLIC), summary="Readiness (HEAD): 503 when a required component is down")
    async def ready_head(self, request: Request[Any, Any, Any], readiness: FromDishka[CheckReadiness]
                         ) -> Response[None]:
        components = await readiness.execute(draining=bool(getattr(request.app.state, "draining", False)))
        ok_all = all(c.ok for c in components if c.required)
        return Response(content=None, status_code=200 if ok_all else 503,
                        headers=None if ok_all else {"Retry-After": "5"})
