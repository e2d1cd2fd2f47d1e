"""Token login, refresh, logout, own profile and password, permission registry (api.md §3.2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import JSONBody

from whalefall.application.identity.browser_sessions import EndBrowserSession, StartBrowserSession, StartSessionInput
from whalefall.application.identity.login import Login, LoginInput
from whalefall.application.identity.login_throttle import LoginThrottle
from whalefall.application.identity.logout import Logout, LogoutInput
from whalefall.application.identity.passwords import ChangeOwnPassword, ChangePasswordInput
from whalefall.application.identity.refresh_tokens import RefreshInput, RefreshTokens
from whalefall.application.identity.user_admin import GetUser, UpdateOwnProfile
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import PERMISSION_DESCRIPTIONS, ROLE_PERMISSIONS, Permission
from whalefall.domain.identity.users import UserId
from whalefall.entrypoints.http.auth import AUTHENTICATED, PUBLIC, origin_of, requires
from whalefall.entrypoints.http.csrf import check_origin
from whalefall.entrypoints.http.envelope import Envelope, ok
from whalefall.entrypoints.http.schemas.auth import (
    AuthInfoOut,
    LoginIn,
    LogoutIn,
    MeOut,
    PasswordChangedOut,
    PasswordChangeIn,
    PermissionOut,
    PermissionsOut,
    ProfilePatch,
    RefreshIn,
    RoleOut,
    SessionOut,
    TokensOut,
    UserOut,
)
from whalefall.entrypoints.http.session_cookie import COOKIE_NAME, SessionCookiePolicy
from whalefall.entrypoints.settings import Settings


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/login", opt=requires(PUBLIC), status_code=200, summary="Token login")
    async def login(self, request: Request[Any, Any, Any], data: JSONBody[LoginIn], settings: FromDishka[Settings],
                    use_case: FromDishka[Login]) -> Response[Envelope[TokensOut]]:
        pair = await use_case.execute(LoginInput(username=data.username, password=data.password,
                                                 origin=origin_of(request, settings)))
        return ok(request, TokensOut.of(pair), message="Logged in")

    @post("/refresh", opt=requires(PUBLIC), status_code=200, summary="Rotate the refresh token")
    async def refresh(self, request: Request[Any, Any, Any], data: JSONBody[RefreshIn], settings: FromDishka[Settings],
                      throttle: FromDishka[LoginThrottle], use_case: FromDishka[RefreshTokens]
                      ) -> Response[Envelope[TokensOut]]:
        origin = origin_of(request, settings)
        await throttle.check_refresh_address(origin.client_ip)  # 60 per minute per address (api.md §4.8)
        pair = await use_case.execute(RefreshInput(refresh_token=data.refresh_token, origin=origin))
        return ok(request, TokensOut.of(pair), message="Tokens refreshed")

    @post("/logout", opt=requires(AUTHENTICATED, password_change_exempt=True), status_code=200,
          summary="End a token session")
    async def logout(self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[Logout],
                     data: JSONBody[LogoutIn | None] = None) -> Response[Envelope[None]]:
        await use_case.execute(LogoutInput(actor=actor, refresh_token=data.refresh_token if data else None))
        return ok(request, None, message="Logged out")

    @get("/me", opt=requires(AUTHENTICATED, password_change_exempt=True), summary="Who am I")
    async def me(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                 users: FromDishka[GetUser]) -> Response[Envelope[MeOut]]:
        assert actor.user_id is not None
        user = await users.execute(actor, UserId(actor.user_id))
        expires = actor.expires_at if isinstance(actor.expires_at, datetime) else None
        scopes = actor.extra.get("scopes")
        csrf = actor.extra.get("csrf_token")
        return ok(request, MeOut(user=UserOut.of(user), permissions=sorted(p.value for p in actor.permissions),
                                 auth=AuthInfoOut(method=actor.auth_method.value, expires_at=expires,
                                                  token_id=actor.token_id,
                                                  scopes=list(scopes) if isinstance(scopes, list) else None),
                                 csrf_token=csrf if isinstance(csrf, str) else None))

    @post("/session", opt=requires(PUBLIC), status_code=200, summary="Browser login: sets the session cookie",
          description=StartBrowserSession.__doc__)
    async def start_session(self, request: Request[Any, Any, Any], data: JSONBody[LoginIn],
                            settings: FromDishka[Settings], use_case: FromDishka[StartBrowserSession]
                            ) -> Response[Envelope[SessionOut]]:
        policy = SessionCookiePolicy.from_settings(settings)
        check_origin(request, settings)  # login CSRF
        started = await use_case.execute(StartSessionInput(
            login=LoginInput(username=data.username, password=data.password, origin=origin_of(request, settings)),
            previous_session=request.cookies.get(COOKIE_NAME)))
        response = ok(request, SessionOut.of(started), message="Logged in")
        response.set_cookie(policy.cookie(request, started.session_token, max_age=started.lifetime_s))
        return response

    @delete("/session", opt=requires(AUTHENTICATED, password_change_exempt=True), status_code=200,
            summary="Browser logout: ends the session server-side", description=EndBrowserSession.__doc__)
    async def end_session(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                          settings: FromDishka[Settings], use_case: FromDishka[EndBrowserSession]
                          ) -> Response[Envelope[None]]:
        await use_case.execute(actor)
        response = ok(request, None, message="Logged out")
        response.set_cookie(SessionCookiePolicy.from_settings(settings).expired(request))
        return response

    @patch("/me", opt=requires(AUTHENTICATED), summary="Update own profile")
    async def update_me(self, request: Request[Any, Any, Any], data: JSONBody[ProfilePatch], actor: FromDishka[Actor],
                        use_case: FromDishka[UpdateOwnProfile]) -> Response[Envelope[UserOut]]:
        return ok(request, UserOut.of(await use_case.execute(actor, data.display_name)))

    @post("/password", opt=requires(AUTHENTICATED, password_change_exempt=True), status_code=200,
          summary="Change own password; other sessions end")
    async def change_password(self, request: Request[Any, Any, Any], data: JSONBody[PasswordChangeIn],
                              actor: FromDishka[Actor], use_case: FromDishka[ChangeOwnPassword]
                              ) -> Response[Envelope[PasswordChangedOut]]:
        changed = await use_case.execute(ChangePasswordInput(actor=actor, current_password=data.current_password,
                                                             new_password=data.new_password))
        return ok(request, PasswordChangedOut(password_changed_at=changed), message="Password changed")

    @get("/permissions", opt=requires(AUTHENTICATED), summary="The permission registry")
    async def permissions(self, request: Request[Any, Any, Any]) -> Response[Envelope[PermissionsOut]]:
        return ok(request, PermissionsOut(
            permissions=[PermissionOut(name=p.value, description=PERMISSION_DESCRIPTIONS[p]) for p in Permission],
            roles=[RoleOut(name=role.value, permissions=sorted(p.value for p in perms))
                   for role, perms in ROLE_PERMISSIONS.items()]))
