"""Partial update of an instance (capacity.md §1.1 update; api.md §1.12, §4.11)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from whalefall.application.instances.create_instance import load_instance
from whalefall.application.instances.fields import TagResolver, check_credential, check_endpoint, check_name
from whalefall.application.ports.audit import AuditEntry, AuditLog, field_changes
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.instances import CredentialRepository, InstanceRecord, InstanceRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.unset import UNSET, Unset
from whalefall.domain.errors import ValidationProblemsError, VersionConflictError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import (
    CredentialId,
    DbEngine,
    DuplicateEndpointError,
    EndpointKey,
    InstanceId,
    InstanceNameTakenError,
)

#: Columns cleared when the endpoint or the credential changes: they described another server.
_CONTACT_RESET = {
    "flavor": None, "version_raw": None, "version": None, "version_major": None, "version_minor": None,
    "edition": None, "last_contact_at": None, "last_contact_ok": None, "last_contact_error_code": None,
    "last_success_at": None,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateInstanceInput:
    actor: Actor
    instance_id: InstanceId
    name: str | Unset = UNSET
    db_type: DbEngine | Unset = UNSET
    host: str | Unset = UNSET
    port: int | None | Unset = UNSET
    database_name: str | None | Unset = UNSET
    credential_id: CredentialId | None | Unset = UNSET
    description: str | None | Unset = UNSET
    is_active: bool | Unset = UNSET
    tags: Sequence[str | int] | Unset = UNSET
    capacity_limit_bytes: int | None | Unset = UNSET
    collect_table_sizes: bool | Unset = UNSET
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateInstance:
    """Absent fields are unchanged; `tags` absent keeps the tag set, present (even []) replaces it. Setting or
    changing the credential, or moving the endpoint of an instance that has one, needs credentials:write (the
    audit event records old and new endpoint) and clears version and contact fields. A stale `revision` → 409
    VERSION_CONFLICT; a deleted instance → 404."""

    instances: InstanceRepository
    credentials: CredentialRepository
    tag_resolver: TagResolver
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: UpdateInstanceInput) -> InstanceRecord:
        data.actor.require(Permission.INSTANCES_WRITE)
        current = await load_instance(self.instances, data.instance_id, for_update=True)
        if data.revision is not None and data.revision != current.revision:
            raise VersionConflictError(current.revision)
        db_type = current.db_type if data.db_type is UNSET else data.db_type
        host = current.host if data.host is UNSET else data.host
        port = current.port if data.port is UNSET else data.port
        database_name = current.database_name if data.database_name is UNSET else data.database_name
        current_credential = current.credential.id if current.credential else None
        credential_id = current_credential if data.credential_id is UNSET else data.credential_id
        problems = [] if data.name is UNSET else check_name(data.name, "body.name")
        normalized_host, effective_port, endpoint_problems = check_endpoint(db_type, host, port, database_name,
                                                                            "body.")
        problems += endpoint_problems
        if problems:
            raise ValidationProblemsError(problems)
        assert normalized_host is not None
        endpoint_moved = (db_type, normalized_host, effective_port, database_name) != (
            current.db_type, current.host, current.port, current.database_name)
        credential_changed = credential_id != current_credential
        if credential_changed or (endpoint_moved and credential_id is not None):
            data.actor.require(Permission.CREDENTIALS_WRITE)
        if credential_id is not None and (credential_changed or db_type is not current.db_type):
            await check_credential(self.credentials, credential_id, db_type, "body.credential_id")
        tag_ids = None if data.tags is UNSET else await self.tag_resolver.resolve(data.tags, "body.tags")
        if data.name is not UNSET and data.name != current.name and await self.instances.name_taken(
                data.name, exclude=current.id):
            raise InstanceNameTakenError()
        if endpoint_moved and await self.instances.endpoint_taken(
                EndpointKey.of(db_type, normalized_host, effective_port, database_name), exclude=current.id):
            raise DuplicateEndpointError()
        after: dict[str, object] = {
            key: value for key, value in {
                "name": data.name, "description": data.description, "is_active": data.is_active,
                "capacity_limit_bytes": data.capacity_limit_bytes, "collect_table_sizes": data.collect_table_sizes,
            }.items() if value is not UNSET
        }
        if endpoint_moved:
            after.update({"db_type": db_type.value, "host": normalized_host, "port": effective_port,
                          "database_name": database_name})
        if credential_changed:
            after["credential_id"] = credential_id
        before = _comparable(current)
        changes = field_changes(before, after)
        now = self.clock.now()
        if changes:
            values = dict(after)
            if endpoint_moved or credential_changed:
                values.update(_CONTACT_RESET)
            await self.instances.update(current.id, values, at=now, by=data.actor.user_id)
        old_tags = sorted(t.id for t in current.tags)
        if tag_ids is not None and sorted(tag_ids) != old_tags:
            await self.instances.replace_tags(current.id, tag_ids, at=now, by=data.actor.user_id)
            changes["tag_ids"] = (old_tags, sorted(tag_ids))
            if not any(key != "tag_ids" for key in changes):
                await self.instances.update(current.id, {}, at=now, by=data.actor.user_id)
        if changes:
            await self.audit.record(AuditEntry(actor=data.actor, action="instance.update", target_type="instance",
                                               target_id=str(current.id), changes=changes))
            await self.uow.commit()
        return await load_instance(self.instances, current.id)


def _comparable(record: InstanceRecord) -> dict[str, object]:
    return {
        "name": record.name, "description": record.description, "is_active": record.is_active,
        "capacity_limit_bytes": record.capacity_limit_bytes, "collect_table_sizes": record.collect_table_sizes,
        "db_type": record.db_type.value, "host": record.host, "port": record.port,
        "database_name": record.database_name, "credential_id": record.credential.id if record.credential else None,
    }
