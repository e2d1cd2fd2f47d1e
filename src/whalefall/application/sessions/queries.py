"""Read use cases of sync sessions and records (operations §1.10, api.md §3.15)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from whalefall.application.ports.sessions import RecordView, SessionQuery, SessionStore, SessionView
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest, SortKey
from whalefall.domain.errors import NotFoundError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.sessions.records import RecordStatus

DETAIL_RECORDS: Final = 200
FAILED_FIRST: Final = (SortKey("failed_first"), SortKey("item_key"))


@dataclass(frozen=True, slots=True)
class SessionDetail:
    session: SessionView
    records: Page[RecordView]


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordQuery:
    statuses: frozenset[RecordStatus] = frozenset()
    error_classes: frozenset[str] = frozenset()
    instance_id: int | None = None


async def _session(store: SessionStore, session_id: str) -> SessionView:
    session = await store.get(session_id)
    if session is None:
        raise NotFoundError("session", session_id)
    return session


@dataclass(frozen=True, slots=True)
class GetSession:
    """The session with its counters and the first 200 records, failed ones first (then by item key)."""

    store: SessionStore

    async def execute(self, actor: Actor, session_id: str) -> SessionDetail:
        actor.require(Permission.SESSIONS_READ)
        session = await _session(self.store, session_id)
        records = await self.store.list_records(session_id, PageRequest(1, DETAIL_RECORDS, FAILED_FIRST))
        return SessionDetail(session, records)


@dataclass(frozen=True, slots=True)
class ListSessions:
    """Sessions matching the filters; `instance_id` matches sessions that have a record for the instance."""

    store: SessionStore

    async def execute(self, actor: Actor, query: SessionQuery, page: PageRequest) -> Page[SessionView]:
        actor.require(Permission.SESSIONS_READ)
        return await self.store.list_sessions(query, page)


@dataclass(frozen=True, slots=True)
class ListRecords:
    """One page of a session's records; unknown session → NotFoundError."""

    store: SessionStore

    async def execute(self, actor: Actor, session_id: str, query: RecordQuery, page: PageRequest) -> Page[RecordView]:
        actor.require(Permission.SESSIONS_READ)
        await _session(self.store, session_id)
        return await self.store.list_records(session_id, page, statuses=query.statuses,
                                             error_classes=query.error_classes, instance_id=query.instance_id)
