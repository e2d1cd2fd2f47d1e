"""The Litestar application: /api/v1 routes, guard, validation hook, error mapping, OpenAPI, request ids."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Final

import msgspec
import structlog
from dishka import AsyncContainer
from dishka.integrations.litestar import DishkaRouter, setup_dishka
from litestar import Litestar, Request, Response, Router
from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from whalefall import __version__
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.metrics import RequestMetrics
from whalefall.domain.errors import Problem, ValidationProblemsError
from whalefall.entrypoints.http.auth import AUTHENTICATED, PUBLIC, authorize, requires
from whalefall.entrypoints.http.controllers.account_changes import AccountChangeController
from whalefall.entrypoints.http.controllers.accounts import AccountController, AccountSyncController
from whalefall.entrypoints.http.controllers.api_tokens import ApiTokenController
from whalefall.entrypoints.http.controllers.audit_events import AuditEventController
from whalefall.entrypoints.http.controllers.auth import AuthController
from whalefall.entrypoints.http.controllers.capacity import CapacityController, CapacitySyncController
from whalefall.entrypoints.http.controllers.classification_assignments import ClassificationAssignmentController
from whalefall.entrypoints.http.controllers.classifications import ClassificationController
from whalefall.entrypoints.http.controllers.credentials import CredentialController
from whalefall.entrypoints.http.controllers.dashboard import DashboardController
from whalefall.entrypoints.http.controllers.databases import DatabaseController
from whalefall.entrypoints.http.controllers.instance_files import InstanceFileController
from whalefall.entrypoints.http.controllers.instances import InstanceController
from whalefall.entrypoints.http.controllers.logs import LogController
from whalefall.entrypoints.http.controllers.metrics import metrics_controller
from whalefall.entrypoints.http.controllers.partitions import PartitionController
from whalefall.entrypoints.http.controllers.pipeline_runs import PipelineRunController
from whalefall.entrypoints.http.controllers.pipelines import PipelineController
from whalefall.entrypoints.http.controllers.rules import PrivilegeCatalogController, RuleController
from whalefall.entrypoints.http.controllers.scheduler import SchedulerController
from whalefall.entrypoints.http.controllers.sync_sessions import SyncSessionController
from whalefall.entrypoints.http.controllers.system import SystemController
from whalefall.entrypoints.http.controllers.tags import TagController
from whalefall.entrypoints.http.controllers.users import UserController
from whalefall.entrypoints.http.dashboard_invalidation import invalidate_dashboard
from whalefall.entrypoints.http.envelope import ErrorEnvelope
from whalefall.entrypoints.http.errors import EXCEPTION_HANDLERS
from whalefall.entrypoints.http.failure_audit import audit_failed_write, mark_authorized_write
from whalefall.entrypoints.http.idempotency import (
    begin_idempotent_request,
    document_idempotency_key,
    header_problems,
    idempotency_middleware,
)
from whalefall.entrypoints.http.request_id import request_id_middleware
from whalefall.entrypoints.http.session_cookie import SessionCookiePolicy
from whalefall.entrypoints.http.validation import MAX_JSON_BYTES, validate_request
from whalefall.entrypoints.settings import Settings

_access_log = structlog.stdlib.get_logger("whalefall.entrypoints.http.access")

API_PREFIX: Final = "/api/v1"
SCHEMA_PATH: Final = f"{API_PREFIX}/schema"
CONTROLLERS: Final = (SystemController, AuthController, UserController, InstanceController, CredentialController,
                      TagController, LogController, AuditEventController, AccountController, AccountSyncController,
                      AccountChangeController, SchedulerController, PipelineController, PipelineRunController,
                      SyncSessionController, ClassificationController, RuleController, PrivilegeCatalogController,
                      ClassificationAssignmentController, DatabaseController, CapacityController,
                      CapacitySyncController, PartitionController, ApiTokenController, InstanceFileController,
                      DashboardController)


def _openapi(settings: Settings) -> OpenAPIConfig | None:
    if settings.api_docs == "off":
        return None
    permission = PUBLIC if settings.api_docs == "public" else AUTHENTICATED
    return OpenAPIConfig(
        title="whalefall API", version=__version__,
        description="Govern a fleet of databases: inventory, credentials, grant ledger, classification, capacity.",
        render_plugins=[SwaggerRenderPlugin(path="/"), JsonRenderPlugin(path="/openapi.json")],
        openapi_router=Router(path=SCHEMA_PATH, route_handlers=[], opt=requires(permission)),
    )


def create_app(container: AsyncContainer, settings: Settings, clock: Clock) -> Litestar:
    """Build the app around an already-built container (the caller owns its lifetime)."""
    SessionCookiePolicy.from_settings(settings)  # invalid cookie settings fail at start-up (api.md §4.7)
    api = DishkaRouter(API_PREFIX, route_handlers=[*CONTROLLERS, metrics_controller(
        public=settings.get("metrics.public", False))])
    cors = None
    if settings.cors_origins:
        cors = CORSConfig(allow_origins=list(settings.cors_origins), allow_credentials=True,
                          allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                          allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-CSRF-Token",
                                         "X-Request-ID"],
                          expose_headers=["X-Request-ID", "Location", "Retry-After", "Idempotent-Replayed",
                                          "Content-Disposition"])
    app = Litestar(
        route_handlers=[api], guards=[authorize], before_request=before_request,
        exception_handlers=dict(EXCEPTION_HANDLERS), openapi_config=_openapi(settings), cors_config=cors,
        logging_config=None, request_max_body_size=MAX_JSON_BYTES, debug=False,
        before_send=[invalidate_dashboard], after_exception=[audit_failed_write],
    )
    app.state.clock = clock
    app.state.draining = False
    setup_dishka(container, app)
    document_error_envelope(app)
    app.on_startup.append(document_idempotency_key)
    app.asgi_handler = idempotency_middleware(app.asgi_handler)
    app.asgi_handler = request_metrics_middleware(app.asgi_handler, container, settings)
    app.asgi_handler = request_id_middleware(app.asgi_handler)
    return app


_ERROR_DESCRIPTIONS: Final = {
    400: "VALIDATION_ERROR: one detail per problem", 401: "Authentication required or failed",
    403: "Permission denied, CSRF, account state", 404: "No such resource or route", 409: "Conflict with the state",
    413: "Body or upload over its limit", 415: "Unsupported Content-Type", 422: "A domain rule refused the request",
    429: "Rate limited; Retry-After is set", 500: "Unexpected failure", 503: "A required dependency is unavailable",
}


_MAX_INT64: Final = 2**63 - 1


async def before_request(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """Claim the idempotency key first (a replay answers at once; a stored 400 is replayed like any answer), then
    validate (api.md §1.14, §1.6)."""
    mark_authorized_write(request)
    replay = await begin_idempotent_request(request)
    if replay is not None:
        return replay
    await validate_with_bounds(request)
    return None


async def validate_with_bounds(request: Request[Any, Any, Any]) -> None:
    """`validate_request`, plus the bounds the metadata store imposes on integers: a path id or a page whose offset
    does not fit a 64-bit integer is a 400 naming it (found by the Schemathesis run; it was a 500)."""
    problems = [Problem(f"path.{name}", "too_large", f"must be at most {_MAX_INT64}", {"max": _MAX_INT64})
                for name, value in request.path_params.items()
                if isinstance(value, int) and not -_MAX_INT64 - 1 <= value <= _MAX_INT64]
    problems.extend(header_problems(request))
    page, limit = request.query_params.get("page", ""), request.query_params.get("limit", "20")
    if page.isdigit() and limit.isdigit() and int(limit) > 0 and (int(page) - 1) * int(limit) > _MAX_INT64:
        problems.append(Problem("query.page", "too_large", "the page is beyond any possible result",
                                {"max": _MAX_INT64 // int(limit)}))
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
        with contextlib.suppress(msgspec.DecodeError):
            problems.extend(_oversized(msgspec.json.decode(await request.body()), "body"))
    try:
        await validate_request(request)
    except ValidationProblemsError as exc:
        problems = [*problems, *exc.problems]
    if problems:
        raise ValidationProblemsError(problems)


def _oversized(value: object, path: str) -> list[Problem]:
    """Integers of a JSON body that no 64-bit column can hold (msgspec decodes arbitrary precision)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -_MAX_INT64 - 1 <= value <= _MAX_INT64:
        return [Problem(path, "too_large", f"must be at most {_MAX_INT64}", {"max": _MAX_INT64})]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _oversized(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _oversized(item, f"{path}[{index}]")]
    return []


def document_error_envelope(app: Litestar) -> None:
    """Every route documents the error envelope of api.md §1.3 for the statuses it can answer (Litestar would
    otherwise document its own `{status_code, detail}` shape, which this API never sends)."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not isinstance(handler, HTTPRouteHandler) or handler.opt.get("permission") is None:
                continue
            methods = set(handler.http_methods)
            statuses = {400, 429, 500, 503}
            if handler.opt["permission"] != PUBLIC:
                statuses |= {401, 403}
            if "{" in route.path:
                statuses.add(404)
            if methods & {"POST", "PUT", "PATCH", "DELETE"}:
                statuses |= {409, 422}
            if methods & {"POST", "PUT", "PATCH"}:
                statuses |= {413, 415}
            if handler.opt["permission"] == PUBLIC and methods & {"POST"}:
                statuses |= {401, 403}
            documented = {status: ResponseSpec(ErrorEnvelope, description=_ERROR_DESCRIPTIONS[status],
                                               generate_examples=False) for status in sorted(statuses)}
            handler.responses = {**documented, **(handler.responses or {})}


def request_metrics_middleware(app: ASGIApp, container: AsyncContainer, settings: Settings) -> ASGIApp:
    """Counts every HTTP request by method, route TEMPLATE (never the raw path) and status, and logs `http.request`
    for 5xx answers and slow requests (`logs.slow_request_ms`), or for all with `logs.http_requests = all`."""
    slow_s = settings.get("logs.slow_request_ms", 1000) / 1000
    log_all = settings.get("logs.http_requests", "slow_or_error") == "all"

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            duration_s = time.perf_counter() - started
            route = str(scope.get("path_template") or "unmatched")
            # The container in the app state is the live one (tests swap it between requests).
            current = getattr(getattr(scope.get("litestar_app"), "state", None), "dishka_container", container)
            metrics: RequestMetrics = await current.get(RequestMetrics)
            metrics.observe_request(method=scope["method"], route=route, status=status, duration_s=duration_s)
            if log_all or status >= 500 or duration_s >= slow_s:
                level = logging.ERROR if status >= 500 else logging.WARNING if duration_s >= slow_s else logging.INFO
                _access_log.log(level, "http.request", message=f"{scope['method']} {route} {status}",
                                method=scope["method"], route=route, status=status,
                                duration_ms=round(duration_s * 1000))

    return middleware
