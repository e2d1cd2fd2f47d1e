"""Change a user's role, active flag or display name (api.md §4.3)."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.identity.user_changes import SessionRevoker, load_user
from whalefall.application.ports.audit import AuditEntry, AuditLog, field_changes
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.unset import UNSET, Unset
from whalefall.domain.errors import PermissionDeniedError, SelfModificationForbiddenError, VersionConflictError
from whalefall.domain.identity.roles import Permission, Role, may_assign_role
from whalefall.domain.identity.users import User, UserId, ensure_admin_remains


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateUserInput:
    actor: Actor
    user_id: UserId
    role: Role | None = None
    is_active: bool | None = None
    display_name: str | None | Unset = UNSET
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateUser:
    """Nobody changes their own role or active flag (403 SELF_MODIFICATION_FORBIDDEN); an actor assigns only roles
    whose permissions it holds; the last active admin cannot be demoted or disabled (409, checked with the admin
    rows locked). Role and active changes rotate the security stamp (sessions end)."""

    users: UserRepository
    revoker: SessionRevoker
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: UpdateUserInput) -> User:
        data.actor.require(Permission.USERS_MANAGE)
        if data.user_id == data.actor.user_id and (data.role is not None or data.is_active is not None):
            raise SelfModificationForbiddenError("body.role" if data.role is not None else "body.is_active")
        if data.role is not None and not may_assign_role(data.actor.permissions, data.role):
            raise PermissionDeniedError(field_path="body.role",
                                        message="you cannot assign a role with permissions you do not hold")
        admins = await self.users.lock_active_admins()
        user = await load_user(self.users, data.user_id)
        if data.revision is not None and data.revision != user.revision:
            raise VersionConflictError(user.revision)
        after: dict[str, object] = {}
        if data.role is not None and data.role is not user.role:
            after["role"] = data.role.value
        if data.is_active is not None and data.is_active != user.is_active:
            after["is_active"] = data.is_active
        if data.display_name is not UNSET and data.display_name != user.display_name:
            after["display_name"] = data.display_name
        if not after:
            return user
        role = data.role or user.role
        active = user.is_active if data.is_active is None else data.is_active
        if user.is_active_admin:
            ensure_admin_remains(admins, changed=user.id, still_active_admin=role is Role.ADMIN and active)
        now = self.clock.now()
        if "role" in after or "is_active" in after:
            await self.revoker.revoke(user.id, at=now, extra=after)
        else:
            await self.users.update(user.id, after, at=now)
        before = {"role": user.role.value, "is_active": user.is_active, "display_name": user.display_name}
        await self.audit.record(AuditEntry(actor=data.actor, action="user.update", target_type="user",
                                           target_id=str(user.id), changes=field_changes(before, after)))
        await self.uow.commit()
        return await load_user(self.users, user.id)
