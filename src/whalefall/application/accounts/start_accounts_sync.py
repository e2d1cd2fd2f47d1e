"""StartAccountsSync: resolve a selection (or one instance) to instances and open an `accounts_sync` session."""

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
class AccountsSyncSelection:
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
class StartAccountsSyncInput:
    actor: Actor
    selection: AccountsSyncSelection = field(default_factory=AccountsSyncSelection)
    instance_id: InstanceId | None = None
    trigger: SessionTrigger = SessionTrigger.MANUAL


@dataclass(frozen=True, slots=True)
class StartAccountsSync:
    """Queue an account sync (permission `sync:run`).

    One instance (`instance_id`): deleted or unknown → 404, inactive → 409 INSTANCE_INACTIVE; a targeted session.
    A selection: listed ids that are unknown or deleted → 422 INVALID_REFERENCE (detail `not_found`), inactive →
    detail `inactive`, every problem reported at once; filters (`db_types`, `tags_any`, `tags_all`) narrow the
    active, non-deleted instances, and listed ids combined with filters are intersected with them. The resolved
    instances are frozen into the session's records (one per instance). Session creation, the fleet lock
    (409 JOB_RUNNING) and enqueue-after-commit (503 QUEUE_UNAVAILABLE) are OpenSession's rules.
    """

    instances: InstanceRepository
    open_session: OpenSession

    async def execute(self, data: StartAccountsSyncInput) -> SessionView:
        data.actor.require(Permission.SYNC_RUN)
        if data.instance_id is not None:
            chosen = [await self._single(data.instance_id)]
            scope = SessionScope.TARGETED
            params: dict[str, object] = {"instance_ids": [int(data.instance_id)]}
        else:
            chosen = await self._resolve(data.selection)
            scope = SessionScope.TARGETED if data.selection.targeted else SessionScope.FLEET
            params = _params(data.selection)
        return await self.open_session.execute(OpenSessionInput(
            kind=SessionKind.ACCOUNTS_SYNC, scope=scope, trigger=data.trigger,
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

    async def _resolve(self, selection: AccountsSyncSelection) -> list[InstanceRecord]:
        live = await self.instances.all_for_export(InstanceQuery(
            db_types=selection.db_types, tags_any=selection.tags_any, tags_all=selection.tags_all))
        if selection.instance_ids is None:
            return [i for i in live if i.is_active]
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
        wanted = set(selection.instance_ids)
        matching = {int(i.id) for i in live}
        return sorted((by_id[i] for i in wanted if i in matching), key=lambda i: i.name)


def _params(selection: AccountsSyncSelection) -> dict[str, object]:
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
