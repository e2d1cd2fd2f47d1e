"""Read model of a job for the API: next fire times, last fire with its run's status, the running run, overlaps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from whalefall.application.ports.pipelines import PipelineDefinitionStore, PipelineRunStore
from whalefall.application.ports.scheduler import (
    PIPELINE_JOB_KIND,
    FireOutcome,
    FireRecord,
    JobRecord,
    JobStore,
    SessionLauncher,
)
from whalefall.application.scheduler.defaults import overlaps
from whalefall.domain.errors import NotFoundError
from whalefall.domain.pipelines import InvalidCronError, next_fires

NEXT_FIRES = 3
RECENT_FIRES = 20


@dataclass(frozen=True, slots=True)
class FireTime:
    at: datetime
    local: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LastFire:
    scheduled_for: datetime
    fired_at: datetime
    outcome: FireOutcome
    session_id: str | None
    pipeline_run_id: str | None
    status: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningRef:
    session_id: str | None = None
    pipeline_run_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobView:
    job: JobRecord
    next_fires: tuple[FireTime, ...]
    last_fire: LastFire | None
    running: RunningRef | None
    overlaps_with: tuple[str, ...]
    fires: tuple[FireRecord, ...] = ()


def upcoming(job: JobRecord, now: datetime, n: int = NEXT_FIRES) -> tuple[FireTime, ...]:
    """The next `n` instants (UTC and in the job's zone); none for a paused job, which does not fire."""
    if not job.enabled:
        return ()
    tz = ZoneInfo(job.timezone)
    try:
        return tuple(FireTime(at, at.astimezone(tz)) for at in next_fires(job.cron, now, tz, n))
    except InvalidCronError:
        return ()


@dataclass(frozen=True, slots=True)
class JobViews:
    """Builds JobViews; shared by every job use case so the shape is computed one way."""

    jobs: JobStore
    sessions: SessionLauncher
    definitions: PipelineDefinitionStore
    runs: PipelineRunStore

    async def _pipeline_kinds(self, jobs: Sequence[JobRecord]) -> dict[str, frozenset[str]]:
        kinds: dict[str, frozenset[str]] = {}
        for job in jobs:
            if job.kind == PIPELINE_JOB_KIND and job.enabled and job.target:
                record = await self.definitions.get(job.target)
                steps = record.document.get("steps", []) if record else []
                kinds[job.target] = frozenset(str(s.get("kind")) for s in steps if isinstance(s, dict))
        return kinds

    async def _status(self, session_id: str | None, pipeline_run_id: str | None) -> str | None:
        if session_id:
            status = await self.sessions.status(session_id)
            return str(status) if status else None
        if pipeline_run_id:
            run = await self.runs.get(pipeline_run_id)
            return str(run.status) if run else None
        return None

    async def _running(self, job: JobRecord) -> RunningRef | None:
        if job.kind == PIPELINE_JOB_KIND:
            run_id = await self.runs.running_run(job.target or "")
            return RunningRef(pipeline_run_id=run_id) if run_id else None
        session_id = await self.sessions.running_for_job(job.id)
        return RunningRef(session_id=session_id) if session_id else None

    async def build(self, jobs: Sequence[JobRecord], now: datetime, *, with_fires: bool = False) -> list[JobView]:
        all_jobs = await self.jobs.list_jobs()
        overlap = overlaps(all_jobs, await self._pipeline_kinds(all_jobs))
        views: list[JobView] = []
        for job in jobs:
            recent = await self.jobs.fires(job.id, limit=RECENT_FIRES if with_fires else 1)
            last = None
            if recent:
                fire = recent[0]
                last = LastFire(scheduled_for=fire.scheduled_for, fired_at=fire.fired_at, outcome=fire.outcome,
                                session_id=fire.session_id, pipeline_run_id=fire.pipeline_run_id,
                                status=await self._status(fire.session_id, fire.pipeline_run_id))
            views.append(JobView(job=job, next_fires=upcoming(job, now), last_fire=last,
                                 running=await self._running(job), overlaps_with=tuple(overlap.get(job.id, [])),
                                 fires=tuple(recent) if with_fires else ()))
        return views

    async def one(self, job_id: str, now: datetime, *, with_fires: bool = False) -> JobView:
        job = await self.jobs.get(job_id)
        if job is None:
            raise NotFoundError("job", job_id)
        return (await self.build([job], now, with_fires=with_fires))[0]
