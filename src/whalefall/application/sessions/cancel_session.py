"""CancelSession: cooperative cancellation of a running session (operations §1.7)."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.sessions import SessionStore, SessionView
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.finalised import NO_LISTENERS, SessionFinalisedListeners
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.sessions.sessions import TERMINAL_SESSION_STATUSES


@dataclass(frozen=True, slots=True)
class CancelSession:
    """Needs `sync:run`. Sets `cancel_requested_at/by`, turns every pending record `cancelled` in the same
    transaction and finalises the session at once when nothing is running; running records stop at their next safe
    point (a record whose data commit already happened stays `completed`). Asking again while the session still
    runs is a no-op that answers the session; a terminal session → SessionFinishedError (409 SESSION_FINISHED);
    unknown → NotFoundError (404)."""

    store: SessionStore
    uow: UnitOfWork
    clock: Clock
    finalised: SessionFinalisedListeners = NO_LISTENERS

    async def execute(self, actor: Actor, session_id: str) -> SessionView:
        actor.require(Permission.SYNC_RUN)
        session = await self.store.request_cancel(session_id, by=actor.user_id, now=self.clock.now())
        await self.uow.commit()
        if session.status in TERMINAL_SESSION_STATUSES:
            await self.finalised.notify(session)
        return session
