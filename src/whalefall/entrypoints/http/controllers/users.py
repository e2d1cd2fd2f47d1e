"""User administration (api.md §3.3, §4.3)."""

from __future__ import annotations

from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from whalefall.application.identity.create_user import CreateUser, CreateUserInput
from whalefall.application.identity.delete_user import DeleteUser, DeleteUserInput
from whalefall.application.identity.passwords import ResetPasswordInput, ResetUserPassword
from whalefall.application.identity.update_user import UpdateUser, UpdateUserInput
from whalefall.application.identity.user_admin import GetUser, ListUsers, RevokeUserSessions, UnlockUser
from whalefall.application.ports.identity import UserQuery
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission, Role
from whalefall.domain.identity.users import UserId
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import DeletedOut, Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.patching import given, given_or_none
from whalefall.entrypoints.http.schemas.auth import ResetPasswordIn, RevokedOut, UserCreate, UserOut, UserPatch


class UserController(Controller):
    path = "/users"
    tags = ["users"]

    @get("/", opt=requires(Permission.USERS_READ), summary="List users")
    async def list_users(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListUsers],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        q: Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)] = None,
        role: Annotated[list[Role] | None, QueryParameter(name="role")] = None,
        is_active: Annotated[bool | None, QueryParameter(name="is_active")] = None,
        include_deleted: Annotated[bool, QueryParameter(name="include_deleted")] = False,
    ) -> Response[Envelope[PageOut[UserOut]]]:
        paging = page_request(page, limit, sort, allowed=("username", "created_at", "last_login_at"),
                              default="username")
        query = UserQuery(q=q, roles=frozenset(role or ()), is_active=is_active, include_deleted=include_deleted)
        return ok(request, page_out(await use_case.execute(actor, query, paging), UserOut.of))

    @post("/", opt=requires(Permission.USERS_MANAGE), summary="Create a user")
    async def create_user(self, request: Request[Any, Any, Any], data: JSONBody[UserCreate], actor: FromDishka[Actor],
                          use_case: FromDishka[CreateUser]) -> Response[Envelope[UserOut]]:
        user = await use_case.execute(CreateUserInput(
            actor=actor, username=data.username, password=data.password, role=data.role,
            display_name=data.display_name, must_change_password=data.must_change_password,
            is_active=data.is_active))
        return ok(request, UserOut.of(user), message="User created", status_code=201,
                  location=f"/api/v1/users/{user.id}")

    @get("/{user_id:int}", opt=requires(Permission.USERS_READ), summary="User detail")
    async def get_user(self, request: Request[Any, Any, Any], user_id: FromPath[int], actor: FromDishka[Actor],
                       use_case: FromDishka[GetUser]) -> Response[Envelope[UserOut]]:
        return ok(request, UserOut.of(await use_case.execute(actor, UserId(user_id))))

    @patch("/{user_id:int}", opt=requires(Permission.USERS_MANAGE), summary="Change role, active flag, display name")
    async def update_user(self, request: Request[Any, Any, Any], user_id: FromPath[int], data: JSONBody[UserPatch],
                          actor: FromDishka[Actor], use_case: FromDishka[UpdateUser]) -> Response[Envelope[UserOut]]:
        user = await use_case.execute(UpdateUserInput(
            actor=actor, user_id=UserId(user_id), role=given_or_none(data.role),
            is_active=given_or_none(data.is_active), display_name=given(data.display_name), revision=data.revision))
        return ok(request, UserOut.of(user))

    @delete("/{user_id:int}", opt=requires(Permission.USERS_MANAGE), status_code=200, summary="Soft-delete a user")
    async def delete_user(self, request: Request[Any, Any, Any], user_id: FromPath[int], actor: FromDishka[Actor],
                          use_case: FromDishka[DeleteUser],
                          revision: Annotated[int | None, QueryParameter(name="revision")] = None
                          ) -> Response[Envelope[DeletedOut]]:
        deleted_at = await use_case.execute(DeleteUserInput(actor=actor, user_id=UserId(user_id), revision=revision))
        return ok(request, DeletedOut(id=user_id, deleted_at=deleted_at), message="User deleted")

    @post("/{user_id:int}/actions/reset-password", opt=requires(Permission.USERS_MANAGE), status_code=200,
          summary="Set a temporary password")
    async def reset_password(self, request: Request[Any, Any, Any], user_id: FromPath[int],
                             data: JSONBody[ResetPasswordIn], actor: FromDishka[Actor],
                             use_case: FromDishka[ResetUserPassword]) -> Response[Envelope[UserOut]]:
        user = await use_case.execute(ResetPasswordInput(actor=actor, user_id=UserId(user_id),
                                                         new_password=data.new_password))
        return ok(request, UserOut.of(user), message="Password reset")

    @post("/{user_id:int}/actions/unlock", opt=requires(Permission.USERS_MANAGE), status_code=200,
          summary="Clear a login lockout")
    async def unlock(self, request: Request[Any, Any, Any], user_id: FromPath[int], actor: FromDishka[Actor],
                     use_case: FromDishka[UnlockUser]) -> Response[Envelope[UserOut]]:
        return ok(request, UserOut.of(await use_case.execute(actor, UserId(user_id))))

    @post("/{user_id:int}/actions/revoke-sessions", opt=requires(Permission.USERS_MANAGE, self_param="user_id"),
          status_code=200,
          summary="End all sessions and refresh families (self allowed)")
    async def revoke_sessions(self, request: Request[Any, Any, Any], user_id: FromPath[int], actor: FromDishka[Actor],
                              use_case: FromDishka[RevokeUserSessions]) -> Response[Envelope[RevokedOut]]:
        revoked = await use_case.execute(actor, UserId(user_id))
        return ok(request, RevokedOut(revoked_sessions=revoked.sessions,
                                      revoked_refresh_families=revoked.refresh_families))

