"""Credential key rotation as a queued `credential_rotation` session (POST /credentials/actions/rotate-keys)."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.instances.credentials import RotateCredentialKeys
from whalefall.application.ports.sessions import NewRecord, SessionView
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionTrigger

ROTATION_ITEM_KEY = "all-credentials"


@dataclass(frozen=True, slots=True)
class StartCredentialRotation:
    """Open a fleet `credential_rotation` session with one record for the whole keyring. Requires
    `system:manage`; a running rotation → 409 JOB_RUNNING (fleet lock of the kind)."""

    open_session: OpenSession

    async def execute(self, actor: Actor, *, trigger: SessionTrigger = SessionTrigger.MANUAL) -> SessionView:
        actor.require(Permission.SYSTEM_MANAGE)
        return await self.open_session.execute(OpenSessionInput(
            kind=SessionKind.CREDENTIAL_ROTATION, scope=SessionScope.FLEET, trigger=trigger,
            records=[NewRecord(item_type="batch", item_key=ROTATION_ITEM_KEY)],
            created_by=actor.user_id, origin_request_id=actor.request_id))


@dataclass(frozen=True, slots=True)
class RunCredentialRotation(RecordWork):
    """The worker's side: re-encrypt every secret not under the active key, 200 per transaction, fenced and
    cancellable between batches. A cancel or a lost lease keeps the batches already committed: rotation is
    idempotent and resumable, so a later run finishes the rest. The audit event names the session."""

    rotate: RotateCredentialKeys

    async def run(self, context: RecordContext) -> RecordResult:
        outcome = await self.rotate.execute(Actor.system("worker"), between_batches=context.check_cancel,
                                            before_commit=context.fence)
        return RecordResult(counters={"rotated": outcome.rotated},
                            details={"active_key_id": outcome.active_key_id, "usage": dict(outcome.usage)})
