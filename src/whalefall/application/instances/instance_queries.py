"""Read use cases of instances."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.instances.create_instance import load_instance
from whalefall.application.ports.instances import InstanceQuery, InstanceRecord, InstanceRepository
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import InstanceId


@dataclass(frozen=True, slots=True)
class GetInstance:
    """Soft-deleted instances are returned too (with `deleted_at`)."""

    instances: InstanceRepository

    async def execute(self, actor: Actor, instance_id: InstanceId) -> InstanceRecord:
        actor.require(Permission.INSTANCES_READ)
        return await load_instance(self.instances, instance_id, include_deleted=True)


@dataclass(frozen=True, slots=True)
class ListInstances:
    instances: InstanceRepository

    async def execute(self, actor: Actor, query: InstanceQuery, page: PageRequest) -> Page[InstanceRecord]:
        actor.require(Permission.INSTANCES_READ)
        return await self.instances.list_page(query, page)
