"""StartCapacityCollection: resolve a selection (or one instance) and open a `capacity_collection` session."""

from __future__ import annotations

from dataclasses import dataclass, field

from whalefall.application.ports.instances import InstanceQuery, InstanceRecord, InstanceRepository
from whalefall.application.ports.sessions import NewRecord, SessionView
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import InvalidReferenceError, NotFoundError, Problem
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine, InstanceId, InstanceInactiveError
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionTrigger


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacitySelection:
    """api.md §1.13 Selection. Only `instance_ids` → a targeted session; anything else (the empty selection
    included: every active, non-deleted instance) → a fleet session."""

    instance_ids: tuple[int, ...] | None = None
    db_types: frozenset[DbEngine] = frozenset()
    tags_any: frozenset[str] = frozenset()
    tags_all: frozenset[str] = frozenset()

    @property
    def targeted(self) -> bool:
        return self.instance_ids is not None and not (self.db_types or self.tags_any or self.tags_all)


@dataclass(frozen=True, slots=True, kw_only=True)
class StartCapacityCollectionInput:
    actor: Actor
    selection: CapacitySelection = field(default_factory=CapacitySelection)
    instance_id: InstanceId | None = None
    include_tables: bool | None = None
    trigger: SessionTrigger = SessionTrigger.MANUAL


@dataclass(frozen=True, slots=True)
class StartCapacityCollection:
    """Queue a capacity collection (permission `sync:run`), one record per instance.

    One instance (`instance_id`, the sync-capacity action): unknown or deleted → 404, inactive → 409
    INSTANCE_INACTIVE (defect 13); a targeted session. A selection: listed ids that are unknown or deleted → 422
    INVALID_REFERENCE (`not_found`), inactive → `inactive`, all problems at once; filters narrow the active,
    non-deleted instances. `include_tables` true adds table sizes for every instance, false suppresses them, absent
    follows each instance's `collect_table_sizes`. A running fleet collection → 409 JOB_RUNNING; broker down → 503
    (OpenSession's rules)."""

    instances: InstanceRepository
    open_session: OpenSession

    async def execute(self, data: StartCapacityCollectionInput) -> SessionView:
        data.actor.require(Permission.SYNC_RUN)
        params: dict[str, object]
        if data.instance_id is not None:
            chosen = [await self._single(data.instance_id)]
            scope = SessionScope.TARGETED
            params = {"instance_ids": [int(data.instance_id)]}
        else:
            chosen = await self._resolve(data.selection)
            scope = SessionScope.TARGETED if data.selection.targeted else SessionScope.FLEET
            params = _params(data.selection)
        if data.include_tables is not None:
            params["include_tables"] = data.include_tables
        return await self.open_session.execute(OpenSessionInput(
            kind=SessionKind.CAPACITY_COLLECTION, scope=scope, trigger=data.trigger,
            records=[NewRecord(item_type="instance", item_key=str(i.id), instance_id=int(i.id),
                               instance_name=i.name) for i in chosen],
            created_by=data.actor.user_id, origin_request_id=data.actor.request_id, params=params))

    async def _single(self, instance_id: InstanceId) -> InstanceRecord:
        record = await self.instances.get(instance_id)
        if record is None or record.deleted_at is not None:
            raise NotFoundError("instance", instance_id)
        if not record.is_active:
            raise InstanceInactiveError()
        return record

    async def _resolve(self, selection: CapacitySelection) -> list[InstanceRecord]:
        live = await self.instances.all_for_export(InstanceQuery(
            db_types=selection.db_types, tags_any=selection.tags_any, tags_all=selection.tags_all))
        if selection.instance_ids is None:
            return sorted((i for i in live if i.is_active), key=lambda i: i.name)
        every = {int(i.id): i for i in await self.instances.all_for_export(InstanceQuery())}
        problems: list[Problem] = []
        for index, instance_id in enumerate(selection.instance_ids):
            found = every.get(instance_id)
            path = f"body.instance_ids[{index}]"
            if found is None:
                problems.append(Problem(path, "not_found", f"instance {instance_id} does not exist",
                                        {"instance_id": instance_id}))
            elif not found.is_active:
                problems.append(Problem(path, "inactive", f"instance {instance_id} is inactive",
                                        {"instance_id": instance_id}))
        if problems:
            raise InvalidReferenceError(problems=problems)
        matching = {int(i.id) for i in live}
        return sorted((every[i] for i in set(selection.instance_ids) if i in matching), key=lambda i: i.name)


def _params(selection: CapacitySelection) -> dict[str, object]:
    params: dict[str, object] = {}
    if selection.instance_ids is not None:
        params["instance_ids"] = list(selection.instance_ids)
    if selection.db_types:
        params["db_types"] = sorted(d.value for d in selection.db_types)
    if selection.tags_any:
        params["tags_any"] = sorted(selection.tags_any)
    if selection.tags_all:
        params["tags_all"] = sorted(selection.tags_all)
    return params
