"""Query the audit trail (api.md §3.17): a bounded window (default 30 days, at most 366) and exact filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from whalefall.application.audit.reader import AuditEventReader, AuditEventView, AuditQuery
from whalefall.application.ports.audit import AuditOutcome
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.logs import resolve_window
from whalefall.application.shared.actor import Actor, ActorType
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import NotFoundError
from whalefall.domain.identity.roles import Permission

DEFAULT_WINDOW: Final = timedelta(days=30)
MAX_WINDOW: Final = timedelta(days=366)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditSearchInput:
    actor: Actor
    since: datetime | None = None
    until: datetime | None = None
    actor_type: ActorType | None = None
    actor_ids: frozenset[int] = frozenset()
    action_prefix: str | None = None
    outcomes: frozenset[AuditOutcome] = frozenset()
    target_type: str | None = None
    target_id: str | None = None
    request_id: str | None = None

    def query(self, now: datetime) -> AuditQuery:
        """The store query; raises ValidationProblemsError for a bad or too wide window."""
        window = resolve_window(self.since, self.until, now=now, default=DEFAULT_WINDOW, maximum=MAX_WINDOW)
        return AuditQuery(window=window, actor_type=self.actor_type, actor_ids=self.actor_ids,
                          action_prefix=self.action_prefix, outcomes=self.outcomes, target_type=self.target_type,
                          target_id=self.target_id, request_id=self.request_id)


@dataclass(frozen=True, slots=True)
class SearchAuditEvents:
    """audit:read. Reads are not audited (only exports are)."""

    events: AuditEventReader
    clock: Clock

    async def execute(self, data: AuditSearchInput, page: PageRequest) -> Page[AuditEventView]:
        data.actor.require(Permission.AUDIT_READ)
        return await self.events.search(data.query(self.clock.now()), page)


@dataclass(frozen=True, slots=True)
class GetAuditEvent:
    """audit:read; 404 when the event does not exist (or was removed by retention)."""

    events: AuditEventReader

    async def execute(self, actor: Actor, event_id: int) -> AuditEventView:
        actor.require(Permission.AUDIT_READ)
        event = await self.events.get(event_id)
        if event is None:
            raise NotFoundError("audit event", event_id)
        return event
