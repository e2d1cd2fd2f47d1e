"""Small user administration actions: unlock, revoke sessions, own profile, and the user queries."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.identity.login_throttle import LoginThrottle
from whalefall.application.identity.user_changes import RevokedSessions, SessionRevoker, load_user
from whalefall.application.ports.audit import AuditEntry, AuditLog, field_changes
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserQuery, UserRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.identity.users import User, UserId
from whalefall.domain.instances import has_surrounding_space_or_control


@dataclass(frozen=True, slots=True)
class GetUser:
    """users:read, or oneself."""

    users: UserRepository

    async def execute(self, actor: Actor, user_id: UserId) -> User:
        if actor.user_id != user_id:
            actor.require(Permission.USERS_READ)
        return await load_user(self.users, user_id, include_deleted=True)


@dataclass(frozen=True, slots=True)
class ListUsers:
    users: UserRepository

    async def execute(self, actor: Actor, query: UserQuery, page: PageRequest) -> Page[User]:
        actor.require(Permission.USERS_READ)
        return await self.users.list_page(query, page)


@dataclass(frozen=True, slots=True)
class UnlockUser:
    """Clears a login lockout (users:manage): `locked_until` and the username's failure and lockout counters."""

    users: UserRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork
    throttle: LoginThrottle | None = None

    async def execute(self, actor: Actor, user_id: UserId) -> User:
        actor.require(Permission.USERS_MANAGE)
        user = await load_user(self.users, user_id)
        if self.throttle is not None:
            await self.throttle.unlock(user.username)
        await self.users.update(user.id, {"locked_until": None}, at=self.clock.now())
        await self.audit.record(AuditEntry(actor=actor, action="user.unlock", target_type="user",
                                           target_id=str(user.id)))
        await self.uow.commit()
        return await load_user(self.users, user.id)


@dataclass(frozen=True, slots=True)
class RevokeUserSessions:
    """Ends every live browser session and refresh family of a user and reports how many of each ended (sessions
    already ended, idle- or absolutely expired are not counted); self allowed; API tokens untouched."""

    users: UserRepository
    revoker: SessionRevoker
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, user_id: UserId) -> RevokedSessions:
        if actor.user_id != user_id:
            actor.require(Permission.USERS_MANAGE)
        user = await load_user(self.users, user_id)
        revoked = await self.revoker.revoke(user.id, at=self.clock.now())
        await self.audit.record(AuditEntry(actor=actor, action="user.revoke_sessions", target_type="user",
                                           target_id=str(user.id),
                                           details={"revoked_sessions": revoked.sessions,
                                                    "revoked_refresh_families": revoked.refresh_families}))
        await self.uow.commit()
        return revoked


@dataclass(frozen=True, slots=True)
class UpdateOwnProfile:
    """PATCH /auth/me: only the display name."""

    users: UserRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, display_name: str | None) -> User:
        assert actor.user_id is not None
        if display_name is not None and (has_surrounding_space_or_control(display_name) or len(display_name) > 128):
            raise ValidationProblemsError([Problem("body.display_name", "invalid_format",
                                                   "no surrounding whitespace or control characters, ≤ 128")])
        user = await load_user(self.users, UserId(actor.user_id))
        if display_name != user.display_name:
            await self.users.update(user.id, {"display_name": display_name}, at=self.clock.now())
            await self.audit.record(AuditEntry(
                actor=actor, action="user.update", target_type="user", target_id=str(user.id),
                changes=field_changes({"display_name": user.display_name}, {"display_name": display_name})))
            await self.uow.commit()
        return await load_user(self.users, user.id)
