"""StartCapacityCollection: resolve a selection (or one instance) and open a `capacity_collection` session."""

from __future__ import annotations

from dataclasses import dataclass, field

from whalefall.application.ports.instances import InstanceRepository
from whalefall.application.ports.sessions import SessionView
from whalefall.application.sessions.instance_selection import (
    InstanceSelection,
    InstanceSessionRequest,
    OpenInstanceSession,
)
from whalefall.application.sessions.open_session import OpenSession
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import InstanceId
from whalefall.domain.sessions.sessions import SessionKind, SessionTrigger

# The §1.13 Selection is the same for every per-instance session kind.
CapacitySelection = InstanceSelection


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
        extra = {} if data.include_tables is None else {"include_tables": data.include_tables}
        return await OpenInstanceSession(self.instances, self.open_session).execute(InstanceSessionRequest(
            kind=SessionKind.CAPACITY_COLLECTION, actor=data.actor, selection=data.selection,
            instance_id=data.instance_id, trigger=data.trigger, extra_params=extra))
