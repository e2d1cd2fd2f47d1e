"""List and read jobs (operations.md §3.5): the `Job` shape with next fires, last fire, running and overlaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from whalefall.application.ports.clock import Clock
from whalefall.application.scheduler.views import JobView, JobViews
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.identity.roles import Permission

_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobQuery:
    enabled: bool | None = None
    kinds: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ListJobs:
    """Every job matching the filters, one page; sort `id` (default) or `next_fire_at` (paused jobs last)."""

    views: JobViews
    clock: Clock

    async def execute(self, actor: Actor, query: JobQuery, page: PageRequest) -> Page[JobView]:
        actor.require(Permission.JOBS_READ)
        jobs = [job for job in await self.views.jobs.list_jobs()
                if (query.enabled is None or job.enabled is query.enabled)
                and (not query.kinds or job.kind in query.kinds)]
        views = await self.views.build(jobs, self.clock.now())
        for key in reversed(page.sort or ()):
            if key.field == "next_fire_at":
                with_fire = [v for v in views if v.next_fires]
                without = [v for v in views if not v.next_fires]
                with_fire.sort(key=lambda v: v.next_fires[0].at if v.next_fires else _FAR_FUTURE,
                               reverse=key.descending)
                views = with_fire + without
            else:
                views.sort(key=lambda v: v.job.id, reverse=key.descending)
        chunk = views[page.offset:page.offset + page.limit]
        return Page(tuple(chunk), len(views), page.page, page.limit)


@dataclass(frozen=True, slots=True)
class GetJob:
    """One job with its last 20 fires."""

    views: JobViews
    clock: Clock

    async def execute(self, actor: Actor, job_id: str) -> JobView:
        actor.require(Permission.JOBS_READ)
        return await self.views.one(job_id, self.clock.now(), with_fires=True)
