"""Authentication and the per-route permission guard: every route declares `opt=requires(...)` explicitly."""

from __future__ import annotations

from typing import Any, Final

from dishka import Provider, Scope, provide
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from whalefall.application.errors import AuthenticationError, PasswordChangeRequiredError, TokenInvalidError
from whalefall.application.identity.authenticate import AuthenticateAccessToken, AuthenticateInput
from whalefall.application.ports.audit import AuditEntry, AuditLog, AuditOutcome
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor, ActorType
from whalefall.domain.errors import PermissionDeniedError
from whalefall.domain.identity.roles import Permission

PUBLIC: Final = "public"
AUTHENTICATED: Final = "authenticated"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def requires(permission: Permission | str, *, password_change_exempt: bool = False,
             accepts_body: bool = False, self_param: str | None = None) -> dict[str, Any]:
    """Route options: the permission the route needs (`public`, `authenticated` or a Permission); `self_param`
    names a path parameter that, when it equals the caller's own user id, waives the permission."""
    return {"permission": str(permission), "password_change_exempt": password_change_exempt,
            "accepts_body": accepts_body, "self_param": self_param}


def origin_of(request: Request[Any, Any, Any]) -> Actor:
    """An anonymous actor carrying the request context (login, refresh)."""
    return Actor(actor_type=ActorType.USER, name="anonymous", request_id=request_id_of(request),
                 client_ip=request.client.host if request.client else None,
                 user_agent=request.headers.get("user-agent"))


def request_id_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    value = connection.scope.get("state", {}).get("request_id")
    return str(value) if value else None


class HttpAuthProvider(Provider):
    """Resolves the request's Actor from `Authorization: Bearer <access token>` (once per request)."""

    scope = Scope.REQUEST

    @provide
    async def actor(self, http_request: Request, authenticate: AuthenticateAccessToken) -> Actor:  # type: ignore[type-arg]
        header = http_request.headers.get("authorization")
        if not header:
            raise AuthenticationError()
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenInvalidError()
        return await authenticate.execute(AuthenticateInput(
            token=token.strip(), request_id=request_id_of(http_request),
            client_ip=http_request.client.host if http_request.client else None,
            user_agent=http_request.headers.get("user-agent")))


async def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-level guard. A route without a declared permission is refused (fail closed); refused writes are
    audited with outcome `denied` in their own transaction."""
    permission = handler.opt.get("permission")
    if permission is None:
        raise PermissionDeniedError(message="this route declares no permission")
    if permission == PUBLIC:
        return
    container = connection.state.dishka_container
    actor: Actor = await container.get(Actor)
    if actor.must_change_password and not handler.opt.get("password_change_exempt"):
        raise PasswordChangeRequiredError()
    if permission == AUTHENTICATED or actor.has(Permission(permission)):
        return
    self_param = handler.opt.get("self_param")
    if self_param and actor.user_id is not None and connection.path_params.get(self_param) == actor.user_id:
        return
    if connection.scope.get("method") not in SAFE_METHODS:
        audit: AuditLog = await container.get(AuditLog)
        uow: UnitOfWork = await container.get(UnitOfWork)
        await audit.record(AuditEntry(actor=actor, action=f"http.{handler.handler_name}", outcome=AuditOutcome.DENIED,
                                      details={"permission": permission, "path": connection.url.path}))
        await uow.commit()
    raise PermissionDeniedError(permission)
