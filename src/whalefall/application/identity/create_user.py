"""Create a user (api.md §3.3, §4.3–4.4); also used by `whalefall users create-admin`."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserRepository
from whalefall.application.ports.security import PasswordHasher, TokenGenerator
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import AlreadyExistsError, PermissionDeniedError, Problem, ValidationProblemsError
from whalefall.domain.identity.passwords import require_password_policy
from whalefall.domain.identity.roles import Permission, Role, may_assign_role
from whalefall.domain.identity.users import User, valid_username


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateUserInput:
    actor: Actor
    username: str
    password: str
    role: Role
    display_name: str | None = None
    must_change_password: bool = True
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class CreateUser:
    """Needs users:manage and every permission of the assigned role. Username unique case-insensitively (deleted
    users keep theirs) → 409; password policy → 422 PASSWORD_POLICY_VIOLATION. Audited `user.create`."""

    users: UserRepository
    hasher: PasswordHasher
    tokens: TokenGenerator
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork
    password_min_length: int = 12

    async def execute(self, data: CreateUserInput) -> User:
        data.actor.require(Permission.USERS_MANAGE)
        if not may_assign_role(data.actor.permissions, data.role):
            raise PermissionDeniedError(field_path="body.role", message="you cannot assign a role with permissions "
                                                                        "you do not hold")
        if not valid_username(data.username):
            raise ValidationProblemsError([Problem("body.username", "invalid_format",
                                                   "3–64 characters of letters, digits, '_', '.', '-'")])
        password = require_password_policy(data.password, username=data.username, field_path="body.password",
                                           min_length=self.password_min_length)
        if await self.users.get_by_username(data.username) is not None:
            raise AlreadyExistsError("body.username", "this username is taken")
        now = self.clock.now()
        user_id = await self.users.add({
            "username": data.username, "display_name": data.display_name, "role": data.role.value,
            "password_hash": self.hasher.hash(password), "is_active": data.is_active,
            "must_change_password": data.must_change_password, "security_stamp": self.tokens.random_id(),
            "password_changed_at": now,
        }, at=now)
        await self.audit.record(AuditEntry(actor=data.actor, action="user.create", target_type="user",
                                           target_id=str(user_id),
                                           details={"username": data.username, "role": data.role.value}))
        await self.uow.commit()
        created = await self.users.get(user_id)
        assert created is not None
        return created
