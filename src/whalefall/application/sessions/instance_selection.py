"""Resolve an api.md §1.13 Selection (or one instance) to instances and open a per-instance session for them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from whalefall.application.ports.instances import InstanceQuery, InstanceRecord, InstanceRepository
from whalefall.application.ports.sessions import NewRecord, SessionView
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import InvalidReferenceError, NotFoundError, Problem
from whalefall.domain.instances import DbEngine, InstanceId, InstanceInactiveError
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionTrigger


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceSelection:
    """api.md §1.13 Selection. Only `instance_ids` → a targeted session; anything else (the empty selection
    included: every active, non-deleted instance) → a fleet session."""

    instance_ids: tuple[int, ...] | None = None
    db_types: frozenset[DbEngine] = frozenset()
    tags_any: frozenset[str] = frozenset()
    tags_all: frozenset[str] = frozenset()

    @property
    def targeted(self) -> bool:
        return self.instance_ids is not None and not (self.db_types or self.tags_any or self.tags_all)

    def params(self) -> dict[str, object]:
        """The selection as the session's `params` (sorted, so equal selections store equal params)."""
        params: dict[str, object] = {}
        if self.instance_ids is not None:
            params["instance_ids"] = list(self.instance_ids)
        if self.db_types:
            params["db_types"] = sorted(d.value for d in self.db_types)
        if self.tags_any:
            params["tags_any"] = sorted(self.tags_any)
        if self.tags_all:
            params["tags_all"] = sorted(self.tags_all)
        return params


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceSessionRequest:
    """What differs between the per-instance session kinds: the kind and any extra `params` (added last)."""

    kind: SessionKind
    actor: Actor
    selection: InstanceSelection
    instance_id: InstanceId | None
    trigger: SessionTrigger
    extra_params: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class OpenInstanceSession:
    """Open a session with one `instance` record per resolved instance, ordered by name.

    One instance (`instance_id`): unknown or deleted → 404, inactive → 409 INSTANCE_INACTIVE; a targeted session.
    A selection: listed ids that are unknown or deleted → 422 INVALID_REFERENCE (detail `not_found`), inactive →
    detail `inactive`, every problem reported at once; filters narrow the active, non-deleted instances, and listed
    ids combined with filters are intersected with them. Permission checks are the caller's; the fleet lock and
    enqueue-after-commit are OpenSession's rules."""

    instances: InstanceRepository
    open_session: OpenSession

    async def execute(self, request: InstanceSessionRequest) -> SessionView:
        if request.instance_id is not None:
            chosen = [await self._single(request.instance_id)]
            scope = SessionScope.TARGETED
            params: dict[str, object] = {"instance_ids": [int(request.instance_id)]}
        else:
            chosen = await self._resolve(request.selection)
            scope = SessionScope.TARGETED if request.selection.targeted else SessionScope.FLEET
            params = request.selection.params()
        params.update(request.extra_params)
        return await self.open_session.execute(OpenSessionInput(
            kind=request.kind, scope=scope, trigger=request.trigger,
            records=[NewRecord(item_type="instance", item_key=str(i.id), instance_id=int(i.id),
                               instance_name=i.name) for i in chosen],
            created_by=request.actor.user_id, origin_request_id=request.actor.request_id, params=params))

    async def _single(self, instance_id: InstanceId) -> InstanceRecord:
        record = await self.instances.get(instance_id)
        if record is None or record.deleted_at is not None:
            raise NotFoundError("instance", instance_id)
        if not record.is_active:
            raise InstanceInactiveError()
        return record

    async def _resolve(self, selection: InstanceSelection) -> list[InstanceRecord]:
        live = await self.instances.all_for_export(InstanceQuery(
            db_types=selection.db_types, tags_any=selection.tags_any, tags_all=selection.tags_all))
        if selection.instance_ids is None:
            return sorted((i for i in live if i.is_active), key=lambda i: i.name)
        # Targeted: no filters, so `live` already holds every non-deleted instance; save the second read.
        if selection.targeted:
            by_id = {int(i.id): i for i in live}
        else:
            by_id = {int(i.id): i for i in await self.instances.all_for_export(InstanceQuery())}
        problems: list[Problem] = []
        for index, instance_id in enumerate(selection.instance_ids):
            found = by_id.get(instance_id)
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
        return sorted((by_id[i] for i in set(selection.instance_ids) if i in matching), key=lambda i: i.name)
