"""Password changes: self-service change and administrator reset (api.md §3.2–3.3, §4.4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from whalefall.application.errors import InteractiveAuthRequiredError
from whalefall.application.identity.user_changes import SessionRevoker, load_user
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserRepository
from whalefall.application.ports.security import PasswordHasher
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import Problem, SelfModificationForbiddenError, UnprocessableError
from whalefall.domain.identity.passwords import require_password_policy
from whalefall.domain.identity.roles import Permission
from whalefall.domain.identity.users import User, UserId


class InvalidCurrentPasswordError(UnprocessableError):
    code = "INVALID_CURRENT_PASSWORD"
    default_message = "The current password is wrong"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangePasswordInput:
    actor: Actor
    current_password: str
    new_password: str


@dataclass(frozen=True, slots=True)
class ChangeOwnPassword:
    """Interactive logins only (403 INTERACTIVE_AUTH_REQUIRED for API tokens); wrong current password → 422;
    the policy applies; every session and refresh family of the user ends (the caller logs in again)."""

    users: UserRepository
    hasher: PasswordHasher
    revoker: SessionRevoker
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork
    password_min_length: int = 12

    async def execute(self, data: ChangePasswordInput) -> datetime:
        if not data.actor.is_interactive or data.actor.user_id is None:
            raise InteractiveAuthRequiredError()
        user = await load_user(self.users, UserId(data.actor.user_id))
        if not self.hasher.verify(user.password_hash, data.current_password).ok:
            raise InvalidCurrentPasswordError(problems=[Problem("body.current_password", "invalid",
                                                                "the current password is wrong")])
        password = require_password_policy(data.new_password, username=user.username, field_path="body.new_password",
                                           min_length=self.password_min_length,
                                           current_password=data.current_password)
        now = self.clock.now()
        await self.revoker.revoke(user.id, at=now, extra={"password_hash": self.hasher.hash(password),
                                                           "password_changed_at": now,
                                                           "must_change_password": False})
        await self.audit.record(AuditEntry(actor=data.actor, action="auth.password_change", target_type="user",
                                           target_id=str(user.id), changes={"password": ("<changed>", "<changed>")}))
        await self.uow.commit()
        return now


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetPasswordInput:
    actor: Actor
    user_id: UserId
    new_password: str


@dataclass(frozen=True, slots=True)
class ResetUserPassword:
    """users:manage, never oneself; sets a temporary password with `must_change_password`; sessions end."""

    users: UserRepository
    hasher: PasswordHasher
    revoker: SessionRevoker
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork
    password_min_length: int = 12

    async def execute(self, data: ResetPasswordInput) -> User:
        data.actor.require(Permission.USERS_MANAGE)
        if data.user_id == data.actor.user_id:
            raise SelfModificationForbiddenError()
        user = await load_user(self.users, data.user_id)
        password = require_password_policy(data.new_password, username=user.username, field_path="body.new_password",
                                           min_length=self.password_min_length)
        now = self.clock.now()
        await self.revoker.revoke(user.id, at=now, extra={"password_hash": self.hasher.hash(password),
                                                           "password_changed_at": now, "must_change_password": True})
        await self.audit.record(AuditEntry(actor=data.actor, action="user.reset_password", target_type="user",
                                           target_id=str(user.id), changes={"password": ("<changed>", "<changed>")}))
        await self.uow.commit()
        return await load_user(self.users, user.id)
