"""Bodies of the auth and user routes (api.md §2 User, §3.2–3.3)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from whalefall.application.identity.browser_sessions import StartedSession
from whalefall.application.identity.token_pairs import TokenPair
from whalefall.domain.identity.roles import Role
from whalefall.domain.identity.users import User

Username = Annotated[str, Meta(min_length=1, max_length=64)]
Password = Annotated[str, Meta(min_length=1, max_length=1024)]
DisplayName = Annotated[str, Meta(max_length=128)]


class LoginIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Username
    password: Password


class RefreshIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, Meta(min_length=1, max_length=512)]


class LogoutIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, Meta(min_length=1, max_length=512)] | None = None


class PasswordChangeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


class ProfilePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = frozenset({"username", "role", "is_active", "id"})
    display_name: DisplayName | None


class UserOut(msgspec.Struct, kw_only=True):
    id: int
    username: str
    display_name: str | None
    role: Role
    is_active: bool
    must_change_password: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    password_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    revision: int

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(id=u.id, username=u.username, display_name=u.display_name, role=u.role, is_active=u.is_active,
                   must_change_password=u.must_change_password, locked_until=u.locked_until,
                   last_login_at=u.last_login_at, password_changed_at=u.password_changed_at,
                   created_at=u.created_at, updated_at=u.updated_at, deleted_at=u.deleted_at, revision=u.revision)


class TokensOut(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: str
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    user: UserOut

    @classmethod
    def of(cls, pair: TokenPair) -> TokensOut:
        return cls(access_token=pair.access_token, token_type="Bearer", expires_at=pair.expires_at,
                   refresh_token=pair.refresh_token, refresh_expires_at=pair.refresh_expires_at,
                   user=UserOut.of(pair.user))


class AuthInfoOut(msgspec.Struct, kw_only=True):
    method: str
    expires_at: datetime | None
    token_id: str | None = None
    scopes: list[str] | None = None


class MeOut(msgspec.Struct, kw_only=True):
    user: UserOut
    permissions: list[str]
    auth: AuthInfoOut
    csrf_token: str | None = None


class SessionOut(msgspec.Struct, kw_only=True):
    """POST /auth/session: the session id travels only in the cookie."""

    user: UserOut
    csrf_token: str
    idle_expires_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, started: StartedSession) -> SessionOut:
        return cls(user=UserOut.of(started.user), csrf_token=started.csrf_token,
                   idle_expires_at=started.idle_expires_at, expires_at=started.expires_at)


class PasswordChangedOut(msgspec.Struct, kw_only=True):
    password_changed_at: datetime


class PermissionOut(msgspec.Struct, kw_only=True):
    name: str
    description: str


class RoleOut(msgspec.Struct, kw_only=True):
    name: str
    permissions: list[str]


class PermissionsOut(msgspec.Struct, kw_only=True):
    permissions: list[PermissionOut]
    roles: list[RoleOut]


class UserCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = frozenset({"id", "created_at", "updated_at", "revision"})
    username: Username
    display_name: DisplayName | None = None
    role: Role
    password: Password
    must_change_password: bool = True
    is_active: bool = True


class UserPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = frozenset({"id", "username", "created_at", "updated_at",
                                                            "last_login_at", "must_change_password"})
    role: Role | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    display_name: DisplayName | None | UnsetType = UNSET
    revision: int | None = None


class ResetPasswordIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    new_password: Password


class RevokedOut(msgspec.Struct, kw_only=True):
    revoked_sessions: int
    revoked_refresh_families: int
