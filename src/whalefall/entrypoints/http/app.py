"""The Litestar application: /api/v1 routes, guard, validation hook, error mapping, OpenAPI, request ids."""

from __future__ import annotations

from typing import Final

from dishka import AsyncContainer
from dishka.integrations.litestar import DishkaRouter, setup_dishka
from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin

from whalefall import __version__
from whalefall.application.ports.clock import Clock
from whalefall.entrypoints.http.auth import AUTHENTICATED, PUBLIC, authorize, requires
from whalefall.entrypoints.http.controllers.auth import AuthController
from whalefall.entrypoints.http.controllers.credentials import CredentialController
from whalefall.entrypoints.http.controllers.instances import InstanceController
from whalefall.entrypoints.http.controllers.system import SystemController
from whalefall.entrypoints.http.controllers.tags import TagController
from whalefall.entrypoints.http.controllers.users import UserController
from whalefall.entrypoints.http.errors import EXCEPTION_HANDLERS
from whalefall.entrypoints.http.request_id import request_id_middleware
from whalefall.entrypoints.http.validation import MAX_JSON_BYTES, validate_request
from whalefall.entrypoints.settings import Settings

API_PREFIX: Final = "/api/v1"
SCHEMA_PATH: Final = f"{API_PREFIX}/schema"
CONTROLLERS: Final = (SystemController, AuthController, UserController, InstanceController, CredentialController,
                      TagController)


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
    api = DishkaRouter(API_PREFIX, route_handlers=list(CONTROLLERS))
    cors = None
    if settings.cors_origins:
        cors = CORSConfig(allow_origins=list(settings.cors_origins), allow_credentials=True,
                          allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                          allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-CSRF-Token",
                                         "X-Request-ID"],
                          expose_headers=["X-Request-ID", "Location", "Retry-After", "Idempotent-Replayed",
                                          "Content-Disposition"])
    app = Litestar(
        route_handlers=[api], guards=[authorize], before_request=validate_request,
        exception_handlers=dict(EXCEPTION_HANDLERS), openapi_config=_openapi(settings), cors_config=cors,
        logging_config=None, request_max_body_size=MAX_JSON_BYTES, debug=False,
    )
    app.state.clock = clock
    app.state.draining = False
    setup_dishka(container, app)
    app.asgi_handler = request_id_middleware(app.asgi_handler)
    return app
