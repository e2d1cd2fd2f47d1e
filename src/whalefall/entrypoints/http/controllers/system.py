"""Discovery and health probes (api.md §3.1)."""

from __future__ import annotations

from typing import Any, cast

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, head
from litestar.openapi import ResponseSpec

from whalefall.application.health.health_details import GetHealthDetails
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import Problem
from whalefall.domain.identity.roles import Permission
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


class ComponentDetailOut(msgspec.Struct, kw_only=True):
    name: str
    status: str
    required: bool
    latency_ms: float
    detail: dict[str, Any]


class HealthDetailsOut(msgspec.Struct, kw_only=True):
    status: str
    version: str
    components: list[ComponentDetailOut]


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
    async def ready(self, request: Request[Any, Any, Any], health: FromDishka[GetHealthDetails]
                    ) -> Response[Envelope[ReadyOut]]:
        """Required components down → 503 with one detail per component; optional ones (cache, broker, scheduler,
        workers, unknown credential key ids) only make the answer `degraded`. Names and statuses only."""
        report = await health.report(draining=bool(getattr(request.app.state, "draining", False)), readiness=True)
        down = [c for c in report.components if c.required and c.status == "down"]
        if down:
            failure = error_response(request, status=503, code="NOT_READY", message="Not ready",
                                     problems=[Problem(f"components.{c.name}", "down", f"{c.name} is down")
                                               for c in down], headers={"Retry-After": "5"})
            return cast(Response[Envelope[ReadyOut]], failure)
        return ok(request, ReadyOut(status=report.status, components=[
            ComponentOut(name=c.name, status=c.status) for c in report.components]))

    @head("/health/live", opt=requires(PUBLIC), summary="Liveness (HEAD)")
    async def live_head(self) -> Response[None]:
        return Response(content=None, status_code=200)

    @head("/health/ready", opt=requires(PUBLIC), summary="Readiness (HEAD): 503 when a required component is down")
    async def ready_head(self, request: Request[Any, Any, Any], health: FromDishka[GetHealthDetails]
                         ) -> Response[None]:
        report = await health.report(draining=bool(getattr(request.app.state, "draining", False)), readiness=True)
        ok_all = report.status != "down"
        return Response(content=None, status_code=200 if ok_all else 503,
                        headers=None if ok_all else {"Retry-After": "5"})

    @get("/health/details", opt=requires(Permission.SYSTEM_READ), summary="Every component with latency and detail",
         description=GetHealthDetails.__doc__)
    async def details(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                      use_case: FromDishka[GetHealthDetails]) -> Response[Envelope[HealthDetailsOut]]:
        """Always 200 for an authorised caller: the body says what is down (the probes answer 503)."""
        report = await use_case.execute(actor, draining=bool(getattr(request.app.state, "draining", False)))
        return ok(request, HealthDetailsOut(status=report.status, version=report.version, components=[
            ComponentDetailOut(name=c.name, status=c.status, required=c.required, latency_ms=c.latency_ms,
                               detail=dict(c.detail)) for c in report.components]))
