"""Edit a job's schedule, pause, resume and reset (operations.md §3.5). Edits live in the metadata store, so every
API replica serves them and the scheduler leader picks them up within its 5 s refresh, without a restart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from whalefall.application.ports.audit import AuditEntry, AuditLog, field_changes
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.scheduler import PIPELINE_JOB_KIND, JobChange, JobRecord, SessionLauncher
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.scheduler.defaults import BUILTIN_JOBS
from whalefall.application.scheduler.views import JobView, JobViews
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.unset import UNSET, Unset
from whalefall.domain.errors import (
    InvalidStateError,
    NotFoundError,
    Problem,
    UnprocessableError,
    VersionConflictError,
)
from whalefall.domain.identity.roles import Permission
from whalefall.domain.pipelines import InvalidCronError, cron_problems, next_fire
from whalefall.domain.pipelines.cron import timezone_problems
from whalefall.domain.sessions.sessions import SessionKind


def next_fire_of(cron: str, timezone: str, enabled: bool, now: datetime) -> datetime | None:
    return next_fire(cron, now, ZoneInfo(timezone)) if enabled else None


async def _load(views: JobViews, job_id: str) -> JobRecord:
    job = await views.jobs.get(job_id)
    if job is None:
        raise NotFoundError("job", job_id)
    return job


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateJobInput:
    actor: Actor
    job_id: str
    revision: int
    cron: str | Unset = UNSET
    timezone: str | Unset = UNSET
    params: Mapping[str, object] | Unset = UNSET


@dataclass(frozen=True, slots=True)
class UpdateJob:
    """Change cron, time zone or params. `revision` is required: a stale one → 409 VERSION_CONFLICT. A bad cron →
    422 INVALID_CRON (details at `body.cron.<field>`); an unknown time zone or bad params → 422. A cron or time-zone
    change stamps `schedule_changed_at`, so instants before the edit never count as misfires."""

    views: JobViews
    sessions: SessionLauncher
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: UpdateJobInput) -> JobView:
        data.actor.require(Permission.JOBS_MANAGE)
        job = await _load(self.views, data.job_id)
        cron_bad = list(cron_problems(data.cron, "body.cron")) if isinstance(data.cron, str) else []
        other: list[Problem] = []
        if isinstance(data.timezone, str):
            other.extend(timezone_problems(data.timezone, "body.timezone"))
        if data.params is not UNSET:
            other.extend(params_problems(self.sessions, job.kind, data.params, "body.params"))
        if cron_bad:
            raise InvalidCronError(problems=[*cron_bad, *other])
        if other:
            raise UnprocessableError("The job change is invalid", problems=other)
        cron = data.cron if isinstance(data.cron, str) else job.cron
        timezone = data.timezone if isinstance(data.timezone, str) else job.timezone
        now = self.clock.now()
        change = JobChange(
            cron=cron, timezone=timezone, params=None if data.params is UNSET else dict(data.params),
            schedule_changed=(cron, timezone) != (job.cron, job.timezone),
            next_fire_at=next_fire_of(cron, timezone, job.enabled, now))
        updated = await self.views.jobs.update(job.id, change, expected_revision=data.revision,
                                               by=data.actor.user_id, now=now)
        if updated is None:
            raise VersionConflictError(job.revision)
        await self.audit.record(AuditEntry(
            actor=data.actor, action="job.update", target_type="job", target_id=job.id,
            changes=field_changes({"cron": job.cron, "timezone": job.timezone, "params": dict(job.params)},
                                  {"cron": updated.cron, "timezone": updated.timezone,
                                   "params": dict(updated.params)})))
        await self.uow.commit()
        return await self.views.one(job.id, now)


def params_problems(sessions: SessionLauncher, kind: str, params: Mapping[str, object],
                    prefix: str) -> list[Problem]:
    """Params problems re-rooted at `prefix`; a pipeline job takes no params."""
    if kind == PIPELINE_JOB_KIND:
        return [Problem(f"{prefix}.{key}", "unknown_field", "a pipeline job takes no params") for key in params]
    found = sessions.params_problems(SessionKind(kind), params)
    return [Problem(prefix + ("" if not p.field else p.field if p.field.startswith("[") else "." + p.field),
                    p.code, p.message, p.context) for p in found]


@dataclass(frozen=True, slots=True)
class SetJobEnabled:
    """Pause (`enabled=False`) or resume a job; idempotent (no revision change when already in that state).
    Resuming stamps `schedule_changed_at`: instants missed while paused are not misfires."""

    views: JobViews
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, job_id: str, *, enabled: bool) -> JobView:
        actor.require(Permission.JOBS_MANAGE)
        job = await _load(self.views, job_id)
        now = self.clock.now()
        if job.enabled is not enabled:
            change = JobChange(enabled=enabled, schedule_changed=enabled,
                               next_fire_at=next_fire_of(job.cron, job.timezone, enabled, now))
            await self.views.jobs.update(job.id, change, expected_revision=None, by=actor.user_id, now=now)
            await self.audit.record(AuditEntry(actor=actor, action="job.resume" if enabled else "job.pause",
                                               target_type="job", target_id=job.id,
                                               changes={"enabled": (job.enabled, enabled)}))
            await self.uow.commit()
        return await self.views.one(job.id, now)


@dataclass(frozen=True, slots=True)
class ResetJob:
    """Restore a built-in job's cron, time zone (WHALEFALL_TIMEZONE) and params; `enabled` is kept. A job that is
    not built in → 409 INVALID_STATE. Needs `system:manage`."""

    views: JobViews
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork
    default_timezone: str

    async def execute(self, actor: Actor, job_id: str) -> JobView:
        actor.require(Permission.SYSTEM_MANAGE)
        job = await _load(self.views, job_id)
        default = BUILTIN_JOBS.get(job.id)
        if not job.is_builtin or default is None:
            raise InvalidStateError("Only built-in jobs can be reset")
        now = self.clock.now()
        change = JobChange(cron=default.cron, timezone=self.default_timezone, params=default.params_copy(),
                           schedule_changed=True,
                           next_fire_at=next_fire_of(default.cron, self.default_timezone, job.enabled, now))
        updated = await self.views.jobs.update(job.id, change, expected_revision=None, by=actor.user_id, now=now)
        assert updated is not None
        await self.audit.record(AuditEntry(
            actor=actor, action="job.reset", target_type="job", target_id=job.id,
            changes=field_changes({"cron": job.cron, "timezone": job.timezone, "params": dict(job.params)},
                                  {"cron": updated.cron, "timezone": updated.timezone,
                                   "params": dict(updated.params)})))
        await self.uow.commit()
        return await self.views.one(job.id, now)
