"""Soft-delete a user: disabled, hidden, username reserved; sessions end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from whalefall.application.identity.user_changes import SessionRevoker, load_user
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import SelfModificationForbiddenError, VersionConflictError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.identity.users import UserId, ensure_admin_remains


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteUserInput:
    actor: Actor
    user_id: UserId
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class DeleteUser:
    """Not oneself (403); not the last active admin (409). Repeating a delete answers the same `deleted_at`."""

    users: UserRepository
    revoker: SessionRevoker
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: DeleteUserInput) -> datetime:
        data.actor.require(Permission.USERS_MANAGE)
        if data.user_id == data.actor.user_id:
            raise SelfModificationForbiddenError()
        admins = await self.users.lock_active_admins()
        user = await load_user(self.users, data.user_id, include_deleted=True)
        if user.deleted_at is not None:
            return user.deleted_at
        if data.revision is not None and data.revision != user.revision:
            raise VersionConflictError(user.revision)
        if user.is_active_admin:
            ensure_admin_remains(admins, changed=user.id, still_active_admin=False)
        now = self.clock.now()
        await self.revoker.revoke(user.id, at=now, extra={"deleted_at": now, "is_active": False})
        await self.audit.record(AuditEntry(actor=data.actor, action="user.delete", target_type="user",
                                           target_id=str(user.id)))
        await self.uow.commit()
        return now
