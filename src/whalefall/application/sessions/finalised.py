"""Telling interested parties that a session became terminal, after the commit that finalised it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Protocol

from whalefall.application.ports.sessions import SessionStore, SessionView
from whalefall.domain.sessions.sessions import TERMINAL_SESSION_STATUSES

logger = logging.getLogger(__name__)


class SessionFinalisedListener(Protocol):
    """Reacts to a terminal session (pipeline advance, dashboard invalidation, …). Called after the commit; a
    listener must be idempotent because a crash between commit and call leaves the reaper or the leader's periodic
    passes to catch up, and two finalisation paths can report the same session."""

    async def session_finalised(self, session: SessionView) -> None: ...


@dataclass(frozen=True, slots=True)
class SessionFinalisedListeners:
    """The listeners of this process. A failing listener is logged and never fails the record or the session."""

    listeners: tuple[SessionFinalisedListener, ...] = ()

    async def notify(self, session: SessionView) -> None:
        for listener in self.listeners:
            try:
                await listener.session_finalised(session)
            except Exception:  # a listener's failure must not undo or hide the finalisation
                logger.warning("session.finalised_listener_failed",
                               extra={"session_id": session.id, "listener": type(listener).__name__},
                               exc_info=True)

    async def notify_if_terminal(self, store: SessionStore, session_id: str) -> None:
        """Read the session (committed state) and notify when it is terminal."""
        if not self.listeners:
            return
        session = await store.get(session_id)
        if session is not None and session.status in TERMINAL_SESSION_STATUSES:
            await self.notify(session)


NO_LISTENERS: Final = SessionFinalisedListeners()
