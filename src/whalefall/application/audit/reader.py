"""Read port of the audit trail (operations.md §6, api.md §3.17); writes go through `ports.audit.AuditLog`."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from whalefall.application.ports.audit import AuditOutcome
from whalefall.application.ports.logs import TimeWindow
from whalefall.application.shared.actor import ActorType
from whalefall.application.shared.paging import Page, PageRequest


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEventView:
    """One stored event (api.md §2 `AuditEvent`)."""

    id: int
    ts: datetime
    actor_type: str
    actor_id: int | None
    actor_name: str
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    request_id: str | None
    ip: str | None
    user_agent: str | None
    changes: Mapping[str, object]
    details: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditQuery:
    """Filters of `GET /audit-events`; empty sets and None mean "no restriction"; `action_prefix` is a prefix."""

    window: TimeWindow
    actor_type: ActorType | None = None
    actor_ids: frozenset[int] = frozenset()
    action_prefix: str | None = None
    outcomes: frozenset[AuditOutcome] = frozenset()
    target_type: str | None = None
    target_id: str | None = None
    request_id: str | None = None


class AuditEventReader(Protocol):
    """Queries over `audit_events` in the current unit of work."""

    @abstractmethod
    async def search(self, query: AuditQuery, page: PageRequest) -> Page[AuditEventView]:
        """Sorted by `ts` (page.sort), ties by id; exact total."""

    @abstractmethod
    async def get(self, event_id: int) -> AuditEventView | None:
        """None when there is no such event."""

    @abstractmethod
    async def count(self, query: AuditQuery) -> int:
        """How many events match (the export cap is checked with it before any row is read)."""

    @abstractmethod
    async def export(self, query: AuditQuery, *, limit: int) -> Sequence[AuditEventView]:
        """At most `limit` matching events, oldest first, ties by id."""
