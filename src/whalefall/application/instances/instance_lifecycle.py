"""Soft delete, restore and purge of instances (capacity.md §1.1 lifecycle)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from whalefall.application.instances.create_instance import load_instance
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.instances import InstanceRecord, InstanceRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import InvalidStateError, VersionConflictError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DuplicateEndpointError, InstanceId, InstanceNameTakenError


@dataclass(frozen=True, slots=True)
class DeleteInstance:
    """Soft delete: sets `deleted_at` (is_active untouched); repeating answers the same `deleted_at`."""

    instances: InstanceRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, instance_id: InstanceId, revision: int | None = None) -> datetime:
        actor.require(Permission.INSTANCES_WRITE)
        current = await load_instance(self.instances, instance_id, include_deleted=True, for_update=True)
        if current.deleted_at is not None:
            return current.deleted_at
        if revision is not None and revision != current.revision:
            raise VersionConflictError(current.revision)
        now = self.clock.now()
        await self.instances.update(current.id, {"deleted_at": now, "deleted_by": actor.user_id}, at=now,
                                    by=actor.user_id)
        await self.audit.record(AuditEntry(actor=actor, action="instance.delete", target_type="instance",
                                           target_id=str(current.id), details={"name": current.name}))
        await self.uow.commit()
        return now


@dataclass(frozen=True, slots=True)
class RestoreInstance:
    """Clears `deleted_at` (is_active kept); name and endpoint uniqueness are re-checked (409)."""

    instances: InstanceRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, instance_id: InstanceId) -> InstanceRecord:
        actor.require(Permission.INSTANCES_WRITE)
        current = await load_instance(self.instances, instance_id, include_deleted=True, for_update=True)
        if current.deleted_at is None:
            return current
        if await self.instances.name_taken(current.name, exclude=current.id):
            raise InstanceNameTakenError("path.instance_id")
        if await self.instances.endpoint_taken(current.endpoint_key, exclude=current.id):
            raise DuplicateEndpointError("path.instance_id")
        now = self.clock.now()
        await self.instances.update(current.id, {"deleted_at": None, "deleted_by": None}, at=now, by=actor.user_id)
        await self.audit.record(AuditEntry(actor=actor, action="instance.restore", target_type="instance",
                                           target_id=str(current.id)))
        await self.uow.commit()
        return await load_instance(self.instances, current.id)


@dataclass(frozen=True, slots=True)
class PurgeInstance:
    """system:manage; only a soft-deleted instance (else 409 INVALID_STATE); dependants cascade."""

    instances: InstanceRepository
    audit: AuditLog
    uow: UnitOfWork

    async def execute(self, actor: Actor, instance_id: InstanceId) -> None:
        actor.require(Permission.SYSTEM_MANAGE)
        current = await load_instance(self.instances, instance_id, include_deleted=True, for_update=True)
        if current.deleted_at is None:
            raise InvalidStateError("Only a soft-deleted instance can be purged")
        await self.instances.purge(current.id)
        await self.audit.record(AuditEntry(actor=actor, action="instance.purge", target_type="instance",
                                           target_id=str(current.id), details={"name": current.name}))
        await self.uow.commit()
