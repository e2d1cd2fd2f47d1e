"""Bodies of the scheduler routes (api.md §2 Job, §3.13) and the queued-action receipts they answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from whalefall.application.ports.scheduler import FireRecord, LaunchedRun, LaunchedSession
from whalefall.application.scheduler.status import SchedulerStatus
from whalefall.application.scheduler.views import JobView


class JobPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    cron: str | UnsetType = UNSET
    timezone: str | UnsetType = UNSET
    params: dict[str, Any] | UnsetType = UNSET
    revision: int


class FireTimeOut(msgspec.Struct, kw_only=True):
    at: datetime
    local: datetime


class LastFireOut(msgspec.Struct, kw_only=True):
    scheduled_for: datetime
    fired_at: datetime
    outcome: str
    session_id: str | None
    pipeline_run_id: str | None
    status: str | None


class RunningOut(msgspec.Struct, kw_only=True):
    session_id: str | None
    pipeline_run_id: str | None


class FireOut(msgspec.Struct, kw_only=True):
    scheduled_for: datetime
    fired_at: datetime
    outcome: str
    session_id: str | None
    pipeline_run_id: str | None

    @classmethod
    def of(cls, fire: FireRecord) -> FireOut:
        return cls(scheduled_for=fire.scheduled_for, fired_at=fire.fired_at, outcome=fire.outcome.value,
                   session_id=fire.session_id, pipeline_run_id=fire.pipeline_run_id)


class JobOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    description: str | None
    kind: str
    target: str | None
    cron: str
    timezone: str
    enabled: bool
    is_builtin: bool
    params: dict[str, Any]
    next_fires: list[FireTimeOut]
    last_fire: LastFireOut | None
    running: RunningOut | None
    last_misfire_at: datetime | None
    overlaps_with: list[str]
    updated_at: datetime
    revision: int

    @classmethod
    def of(cls, view: JobView) -> JobOut:
        job, last = view.job, view.last_fire
        return cls(
            id=job.id, name=job.name, description=job.description, kind=job.kind, target=job.target, cron=job.cron,
            timezone=job.timezone, enabled=job.enabled, is_builtin=job.is_builtin, params=dict(job.params),
            next_fires=[FireTimeOut(at=f.at, local=f.local) for f in view.next_fires],
            last_fire=None if last is None else LastFireOut(
                scheduled_for=last.scheduled_for, fired_at=last.fired_at, outcome=last.outcome.value,
                session_id=last.session_id, pipeline_run_id=last.pipeline_run_id, status=last.status),
            running=None if view.running is None else RunningOut(session_id=view.running.session_id,
                                                                 pipeline_run_id=view.running.pipeline_run_id),
            last_misfire_at=job.last_misfire_at, overlaps_with=list(view.overlaps_with), updated_at=job.updated_at,
            revision=job.revision)


class JobDetailOut(JobOut, kw_only=True):
    fires: list[FireOut]

    @classmethod
    def detail(cls, view: JobView) -> JobDetailOut:
        base = msgspec.structs.asdict(JobOut.of(view))
        return cls(**base, fires=[FireOut.of(f) for f in view.fires])


class LeaderOut(msgspec.Struct, kw_only=True):
    id: str
    host: str
    since: datetime | None
    heartbeat_at: datetime


class SchedulerStatusOut(msgspec.Struct, kw_only=True):
    timezone: str
    leader: LeaderOut | None
    standbys: int

    @classmethod
    def of(cls, status: SchedulerStatus) -> SchedulerStatusOut:
        leader = status.leader
        return cls(timezone=status.timezone, standbys=status.standbys,
                   leader=None if leader is None else LeaderOut(id=leader.process_id, host=leader.host,
                                                                since=leader.leader_since,
                                                                heartbeat_at=leader.last_seen_at))


class SessionReceiptOut(msgspec.Struct, kw_only=True):
    """Session receipt of a queued action (api.md §1.13)."""

    session_id: str
    kind: str
    scope: str
    status: str
    record_count: int
    status_url: str

    @classmethod
    def of(cls, s: LaunchedSession) -> SessionReceiptOut:
        return cls(session_id=s.session_id, kind=s.kind.value, scope=s.scope, status=s.status.value,
                   record_count=s.record_count, status_url=f"/api/v1/sync-sessions/{s.session_id}")


class PipelineReceiptOut(msgspec.Struct, kw_only=True):
    """Pipeline receipt of a queued action (api.md §1.13)."""

    pipeline_run_id: str
    pipeline: str
    status: str
    status_url: str

    @classmethod
    def of(cls, r: LaunchedRun) -> PipelineReceiptOut:
        return cls(pipeline_run_id=r.pipeline_run_id, pipeline=r.pipeline, status=r.status,
                   status_url=f"/api/v1/pipeline-runs/{r.pipeline_run_id}")
