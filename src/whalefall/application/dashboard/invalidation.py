"""Which dashboard sections a finalised session, a scheduler fire or a pipeline run invalidates (operations.md §7
"invalidated by"), after its commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from whalefall.application.dashboard.read_dashboard import invalidate_sections
from whalefall.application.ports.cache import Cache
from whalefall.application.ports.dashboard import DashboardRefresh
from whalefall.application.ports.sessions import SessionView
from whalefall.application.sessions.finalised import SessionFinalisedListener
from whalefall.domain.sessions.sessions import SessionKind

#: Every finalised session changes the run counts, the failing jobs and the sessions trend.
ANY_SESSION: Final = ("runs", "jobs", "trends")
#: A session was created (by the scheduler or a pipeline step; HTTP 202 answers are handled by the HTTP hook).
SESSION_CREATED: Final = ("runs", "trends")
#: A pipeline run was created: the runs section shows the last nightly run.
PIPELINE_RUN_CREATED: Final = ("runs",)
#: A pipeline run was finalised: the last run (runs) and the failing jobs of its job (jobs).
PIPELINE_RUN_FINALISED: Final = ("runs", "jobs")
#: A fire row was written (fired, skipped_running, misfire_skipped): last fire and next fire per job.
JOB_FIRED: Final = ("jobs",)
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



@dataclass(frozen=True, slots=True)
class CacheDashboardRefresh(DashboardRefresh):
    """The DashboardRefresh port over the cache: each committed event drops the sections it feeds (a cache error
    is logged by `invalidate_sections`, never raised)."""

    cache: Cache

    async def session_created(self) -> None:
        await invalidate_sections(self.cache, SESSION_CREATED)

    async def pipeline_run_created(self) -> None:
        await invalidate_sections(self.cache, PIPELINE_RUN_CREATED)

    async def pipeline_run_finalised(self) -> None:
        await invalidate_sections(self.cache, PIPELINE_RUN_FINALISED)

    async def job_fired(self) -> None:
        await invalidate_sections(self.cache, JOB_FIRED)
