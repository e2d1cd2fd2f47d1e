"""Which dashboard sections a finalised session invalidates (operations.md §7 "invalidated by"), after its commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from whalefall.application.dashboard.read_dashboard import invalidate_sections
from whalefall.application.ports.cache import Cache
from whalefall.application.ports.sessions import SessionView
from whalefall.application.sessions.finalised import SessionFinalisedListener
from whalefall.domain.sessions.sessions import SessionKind

#: Every finalised session changes the run counts, the failing jobs and the sessions trend.
ANY_SESSION: Final = ("runs", "jobs", "trends")
BY_KIND: Final[Mapping[SessionKind, tuple[str, ...]]] = MappingProxyType({
    SessionKind.ACCOUNTS_SYNC: ("connectivity", "accounts"),
    SessionKind.CAPACITY_COLLECTION: ("connectivity", "databases", "capacity"),
    SessionKind.CONNECTION_TEST: ("connectivity",),
    SessionKind.CLASSIFICATION: ("accounts",),
    SessionKind.CAPACITY_AGGREGATION: ("capacity", "growth"),
    SessionKind.PARTITION_MAINTENANCE: ("partitions",),
})


def sections_for(kind: SessionKind) -> tuple[str, ...]:
    return (*BY_KIND.get(kind, ()), *ANY_SESSION)


@dataclass(frozen=True, slots=True)
class DashboardInvalidator(SessionFinalisedListener):
    """Drops the sections fed by a session's kind once the session is terminal (idempotent: deleting a missing
    key is a no-op; cache errors are logged by `invalidate_sections`, never raised)."""

    cache: Cache

    async def session_finalised(self, session: SessionView) -> None:
        await invalidate_sections(self.cache, sections_for(SessionKind(session.kind)))
