"""Register an instance (capacity.md §1.1 create; api.md §3.5, §4.11)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from whalefall.application.instances.fields import TagResolver, check_credential, check_endpoint, check_name
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.instances import CredentialRepository, InstanceRecord, InstanceRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import NotFoundError, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import (
    CredentialId,
    DbEngine,
    DuplicateEndpointError,
    EndpointKey,
    InstanceId,
    InstanceNameTakenError,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateInstanceInput:
    actor: Actor
    name: str
    db_type: DbEngine
    host: str
    port: int | None = None
    database_name: str | None = None
    credential_id: CredentialId | None = None
    description: str | None = None
    is_active: bool = True
    tags: Sequence[str | int] = ()
    capacity_limit_bytes: int | None = None
    collect_table_sizes: bool = False
    field_prefix: str = "body."


@dataclass(frozen=True, slots=True)
class CreateInstance:
    """instances:write (+ credentials:write when a credential is attached). Names are never trimmed; the host is
    normalised (IPv6 compressed, brackets removed); Oracle needs a service name. Unknown tags or credential → 422
    INVALID_REFERENCE listing each; name taken → 409 INSTANCE_NAME_TAKEN; endpoint taken → 409 DUPLICATE_ENDPOINT.
    One transaction with its `instance.create` audit event."""

    instances: InstanceRepository
    credentials: CredentialRepository
    tag_resolver: TagResolver
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: CreateInstanceInput) -> InstanceRecord:
        data.actor.require(Permission.INSTANCES_WRITE)
        if data.credential_id is not None:
            data.actor.require(Permission.CREDENTIALS_WRITE)
        prefix = data.field_prefix
        problems = check_name(data.name, f"{prefix}name")
        host, port, endpoint_problems = check_endpoint(data.db_type, data.host, data.port, data.database_name, prefix)
        problems += endpoint_problems
        if problems:
            raise ValidationProblemsError(problems)
        assert host is not None
        if data.credential_id is not None:
            await check_credential(self.credentials, data.credential_id, data.db_type, f"{prefix}credential_id")
        tag_ids = await self.tag_resolver.resolve(data.tags, f"{prefix}tags")
        if await self.instances.name_taken(data.name):
            raise InstanceNameTakenError(f"{prefix}name")
        if await self.instances.endpoint_taken(EndpointKey.of(data.db_type, host, port, data.database_name)):
            raise DuplicateEndpointError(f"{prefix}host")
        now = self.clock.now()
        values: dict[str, object] = {
            "name": data.name, "db_type": data.db_type.value, "host": host, "port": port,
            "database_name": data.database_name, "credential_id": data.credential_id,
            "description": data.description, "is_active": data.is_active,
            "capacity_limit_bytes": data.capacity_limit_bytes, "collect_table_sizes": data.collect_table_sizes,
        }
        instance_id = await self.instances.add(values, at=now, by=data.actor.user_id)
        if tag_ids:
            await self.instances.replace_tags(instance_id, tag_ids, at=now, by=data.actor.user_id)
        await self.audit.record(AuditEntry(actor=data.actor, action="instance.create", target_type="instance",
                                           target_id=str(instance_id),
                                           details={"name": data.name, "db_type": data.db_type.value,
                                                    "host": host, "port": port}))
        await self.uow.commit()
        return await load_instance(self.instances, instance_id, include_deleted=True)


async def load_instance(instances: InstanceRepository, instance_id: InstanceId, *, include_deleted: bool = False,
                        for_update: bool = False) -> InstanceRecord:
    """The instance or NotFoundError (soft-deleted ones only when asked for)."""
    record = await instances.get(instance_id, for_update=for_update)
    if record is None or (record.deleted_at is not None and not include_deleted):
        raise NotFoundError("instance", instance_id)
    return record
