"""Authentication and the per-route permission guard: every route declares `opt=requires(...)` explicitly."""

from __future__ import annotations

import ipaddress
from typing import Any, Final

from dishka import Provider, Scope, provide
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from whalefall.application.errors import AuthenticationError, PasswordChangeRequiredError, TokenInvalidError
from whalefall.application.identity.api_tokens import looks_like_api_token
from whalefall.application.identity.authenticate import AuthenticateAccessToken, AuthenticateInput
from whalefall.application.identity.authenticate_api_token import AuthenticateApiToken
from whalefall.application.identity.browser_sessions import AuthenticateBrowserSession, SessionAuthInput
from whalefall.application.identity.request_limits import PrincipalRateLimits
from whalefall.application.ports.audit import AuditEntry, AuditLog, AuditOutcome
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor, ActorType
from whalefall.domain.errors import PermissionDeniedError
from whalefall.domain.identity.roles import Permission
from whalefall.entrypoints.http.csrf import check_csrf
from whalefall.entrypoints.http.rate_limits import enforce_request_limit
from whalefall.entrypoints.http.session_cookie import COOKIE_NAME
from whalefall.entrypoints.settings import Settings

PUBLIC: Final = "public"
AUTHENTICATED: Final = "authenticated"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def requires(permission: Permission | str, *, password_change_exempt: bool = False,
             accepts_body: bool = False, self_param: str | None = None) -> dict[str, Any]:
    """Route options: the permission the route needs (`public`, `authenticated` or a Permission); `self_param`
    names a path parameter that, when it equals the caller's own user id, waives the permission."""
    return {"permission": str(permission), "password_change_exempt": password_change_exempt,
            "accepts_body": accepts_body, "self_param": self_param}


def origin_of(request: Request[Any, Any, Any], settings: Settings | None = None) -> Actor:
    """An anonymous actor carrying the request context (login, refresh)."""
    return Actor(actor_type=ActorType.USER, name="anonymous", request_id=request_id_of(request),
                 client_ip=client_address(request, settings), user_agent=request.headers.get("user-agent"))


def _trusted(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings | None) -> str | None:
    """The socket peer, unless it is one of `WHALEFALL_TRUSTED_PROXIES` (comma list of addresses or CIDRs): then
    the right-most `X-Forwarded-For` entry that is not a trusted proxy (api.md §4.8)."""
    peer = connection.client.host if connection.client else None
    trusted = settings.get("trusted.proxies", "") if settings is not None else ""
    if not trusted or peer is None:
        return peer
    networks = []
    for entry in trusted.split(","):
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue
    if not _trusted(peer, networks):
        return peer
    forwarded = [part.strip() for value in connection.headers.getall("x-forwarded-for", [])
                 for part in value.split(",") if part.strip()]
    return next((hop for hop in reversed(forwarded) if not _trusted(hop, networks)), forwarded[0] if forwarded
                else peer)


def request_id_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    value = connection.scope.get("state", {}).get("request_id")
    return str(value) if value else None


class HttpAuthProvider(Provider):
    """Resolves the request's Actor once per request: `Authorization: Bearer` (a JWT access token or a `wf_` API
    token) alone when present, cookies ignored; otherwise the `whalefall_session` cookie, whose unsafe requests
    must pass the CSRF check; neither → 401 AUTHENTICATION_REQUIRED."""

    scope = Scope.REQUEST

    @provide
    async def actor(self, http_request: Request, settings: Settings,  # type: ignore[type-arg]
                    authenticate: AuthenticateAccessToken, api_tokens: AuthenticateApiToken,
                    sessions: AuthenticateBrowserSession) -> Actor:
        request_id = request_id_of(http_request)
        client_ip = client_address(http_request, settings)
        user_agent = http_request.headers.get("user-agent")
        header = http_request.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise TokenInvalidError()
            data = AuthenticateInput(token=token, request_id=request_id, client_ip=client_ip, user_agent=user_agent)
            if looks_like_api_token(token):
                return await api_tokens.execute(data)
            return await authenticate.execute(data)
        cookie = http_request.cookies.get(COOKIE_NAME)
        if cookie:
            actor = await sessions.execute(SessionAuthInput(session_token=cookie, request_id=request_id,
                                                            client_ip=client_ip, user_agent=user_agent))
            check_csrf(http_request, settings, str(actor.extra["csrf_token"]))
            return actor
        raise AuthenticationError()


async def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-level guard. A route without a declared permission is refused (fail closed); refused writes are
    audited with outcome `denied` in their own transaction. Every authenticated request is counted against its
    per-principal limit (api.md §4.8) before the permission check, so a refused request still spends budget."""
    permission = handler.opt.get("permission")
    if permission is None:
        raise PermissionDeniedError(message="this route declares no permission")
    if permission == PUBLIC:
        return
    container = connection.state.dishka_container
    actor: Actor = await container.get(Actor)
    await enforce_request_limit(connection, actor, await container.get(PrincipalRateLimits))
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
