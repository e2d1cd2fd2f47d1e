"""Queue a `partition_maintenance` session: one record per partitioned table (api.md §3.12)."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.partitions.maintain_partitions import PartitionConfig
from whalefall.application.ports.partitions import PartitionManager
from whalefall.application.ports.sessions import NewRecord, SessionView
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionTrigger


@dataclass(frozen=True, slots=True)
class StartPartitionMaintenance:
    """Open a fleet `partition_maintenance` session (the whole plan, or `drops_only` for cleanup). On SQLite
    nothing is queued and None is returned (the API answers 200 `supported: false`). Requires
    `partitions:manage`; a running one → 409 JOB_RUNNING."""

    partitions: PartitionManager
    open_session: OpenSession
    config: PartitionConfig

    async def execute(self, actor: Actor, *, drops_only: bool = False,
                      trigger: SessionTrigger = SessionTrigger.MANUAL) -> SessionView | None:
        actor.require(Permission.PARTITIONS_MANAGE)
        if not self.partitions.supported:
            return None
        tables = sorted(t.name for t in self.config.policy.tables)
        return await self.open_session.execute(OpenSessionInput(
            kind=SessionKind.PARTITION_MAINTENANCE, scope=SessionScope.FLEET, trigger=trigger,
            records=[NewRecord(item_type="table", item_key=t) for t in tables],
            created_by=actor.user_id, origin_request_id=actor.request_id, params={"drops_only": drops_only}))
