"""Idempotency keys on every creating or action `POST` (api.md §1.14), as one mechanism for all routes.

Two halves. `begin_idempotent_request` runs in the `before_request` hook, after the permission guard (so the
principal is known and 401/403 answers are never stored): it claims the key, or returns the stored answer to replay
unchanged with `Idempotent-Replayed: true`. `idempotency_middleware` wraps the application: for a claimed request
it holds the answer back until the application has returned (and the request's unit of work is closed), stores it
or frees the key, then sends it, so a client never sees an answer whose key is still "in progress".

Routes under `/auth/` ignore the header: the spec exempts login, refresh and the session routes, and logout and
the password change are credential operations whose answers must not be replayed to whoever holds the key.
Public routes have no principal to scope a key to, so they ignore it too. A malformed key is a 400 detail on
`header.Idempotency-Key`, reported with the request's other validation problems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final, cast

from litestar import Litestar, Request, Response
from litestar.enums import ParamType, ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import OpenAPIType, Operation, Parameter, Schema
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from whalefall.application.idempotency.keys import (
    BeginIdempotentRequest,
    ClaimedKey,
    FinishIdempotentRequest,
    IdempotentRequest,
    key_problems,
)
from whalefall.application.ports.idempotency import KEY_HEADER, StoredResponse
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import Problem
from whalefall.entrypoints.http.auth import PUBLIC

EXEMPT_PREFIX: Final = "/api/v1/auth/"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
_HOLDER: Final = "whalefall.idempotency"
_PATH_PARAMETER: Final = re.compile(r"\{(\w+):\w+\}")


@dataclass
class _Claim:
    """Set by the before_request half when it claimed the request's key; read by the middleware."""

    claimed: ClaimedKey | None = None
    messages: list[Message] = field(default_factory=list)


def applies(request: Request[Any, Any, Any]) -> bool:
    """A non-public POST outside `/auth/`."""
    return (request.method == "POST" and not request.url.path.startswith(EXEMPT_PREFIX)
            and request.route_handler.opt.get("permission") not in (None, PUBLIC))


def header_problems(request: Request[Any, Any, Any]) -> list[Problem]:
    """Validation problems of the `Idempotency-Key` header on a route that honours it."""
    if not applies(request):
        return []
    return key_problems(request.headers.get(KEY_HEADER))


async def begin_idempotent_request(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """Claim the key (nothing to do without a valid key); a finished first request is replayed as stored."""
    holder = request.scope.get(_HOLDER)
    key = request.headers.get(KEY_HEADER)
    if not isinstance(holder, _Claim) or key is None or not applies(request) or key_problems(key):
        return None
    container = request.state.dishka_container
    actor: Actor = await container.get(Actor)
    begin: BeginIdempotentRequest = await container.get(BeginIdempotentRequest)
    outcome = await begin.execute(IdempotentRequest(
        actor=actor, key=key, method=request.method,
        route=str(request.scope.get("path_template") or request.url.path),
        path=request.url.path, path_params=dict(request.path_params),
        query_string=request.scope.get("query_string", b"").decode("latin-1"), body=await request.body()))
    if isinstance(outcome, StoredResponse):
        return _replay(outcome)
    holder.claimed = outcome
    return None


def _replay(stored: StoredResponse) -> Response[bytes]:
    headers = {name: value for name, value in stored.headers.items() if name != "content-type"}
    return Response(content=stored.body, status_code=stored.status, headers={**headers, REPLAYED_HEADER: "true"},
                    media_type=stored.headers.get("content-type", "application/json"))


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    """Holds back the answer of a claimed request until it is stored (or the key freed), then sends it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        claim = _Claim()
        cast(dict[str, object], scope)[_HOLDER] = claim

        async def capture(message: Message) -> None:
            if claim.claimed is None:
                await send(message)
            else:
                claim.messages.append(message)

        try:
            await app(scope, receive, capture)
        except BaseException:
            if claim.claimed is not None:
                await _finish(scope, claim.claimed, [])
            raise
        if claim.claimed is not None:
            await _finish(scope, claim.claimed, claim.messages)
            for message in claim.messages:
                await send(message)

    return middleware


async def _finish(scope: Scope, claimed: ClaimedKey, messages: list[Message]) -> None:
    """Store the answer, or free the key when there is no complete answer (the client went away, a crash)."""
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    complete = any(m["type"] == "http.response.body" and not m.get("more_body", False) for m in messages)
    status = int(start["status"]) if start is not None and complete else 500
    raw_headers: list[tuple[bytes, bytes]] = list(start.get("headers", [])) if start is not None else []
    headers = {bytes(name).decode("latin-1"): bytes(value).decode("latin-1") for name, value in raw_headers}
    body = b"".join(bytes(m.get("body", b"")) for m in messages if m["type"] == "http.response.body")
    container = scope["litestar_app"].state.dishka_container
    async with container() as request_container:
        finish: FinishIdempotentRequest = await request_container.get(FinishIdempotentRequest)
        await finish.execute(claimed, status, headers, body)


def document_idempotency_key(app: Litestar) -> None:
    """on_startup: every POST that honours the key documents the `Idempotency-Key` header parameter."""
    if app.openapi_config is None:
        return
    honoured = {_PATH_PARAMETER.sub(r"{\1}", route.path) for route in app.routes
                for handler in getattr(route, "route_handlers", ())
                if isinstance(handler, HTTPRouteHandler) and "POST" in handler.http_methods
                and handler.opt.get("permission") not in (None, PUBLIC) and not route.path.startswith(EXEMPT_PREFIX)}
    parameter = Parameter(
        name=KEY_HEADER, param_in=ParamType.HEADER, required=False,
        description="Replays the first answer for a repeated request (api.md §1.14); 1–128 of [A-Za-z0-9_.:-].",
        schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]{1,128}$"))
    for path, item in (app.openapi_schema.paths or {}).items():
        operation: Operation | None = item.post
        if operation is None or path not in honoured:
            continue
        parameters = list(operation.parameters or [])
        if not any(getattr(p, "name", None) == KEY_HEADER for p in parameters):
            operation.parameters = [*parameters, parameter]
