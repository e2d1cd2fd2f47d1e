"""StartAccountsSync: resolve a selection (or one instance) to instances and open an `accounts_sync` session."""

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
AccountsSyncSelection = InstanceSelection


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
        return await OpenInstanceSession(self.instances, self.open_session).execute(InstanceSessionRequest(
            kind=SessionKind.ACCOUNTS_SYNC, actor=data.actor, selection=data.selection,
            instance_id=data.instance_id, trigger=data.trigger, extra_params={}))
