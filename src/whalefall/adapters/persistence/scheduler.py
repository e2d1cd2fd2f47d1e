"""Repositories of the scheduler: SqlAlchemyJobStore (jobs and fires) and SqlAlchemyHeartbeatStore."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.tables.operations import job_fires, process_heartbeats, scheduled_jobs
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.scheduler import (
    FireOutcome,
    FireRecord,
    Heartbeat,
    HeartbeatStore,
    JobChange,
    JobRecord,
    JobStore,
)


def _job(row: Mapping[Any, Any]) -> JobRecord:
    return JobRecord(
        id=row["id"], kind=row["kind"], target=row["target"], name=row["name"], description=row["description"],
        cron=row["cron"], timezone=row["timezone"], enabled=bool(row["enabled"]), params=dict(row["params"] or {}),
        is_builtin=bool(row["is_builtin"]), revision=row["revision"], updated_at=row["updated_at"],
        updated_by=row["updated_by"], schedule_changed_at=row["schedule_changed_at"],
        next_fire_at=row["next_fire_at"], last_fire_at=row["last_fire_at"], last_session_id=row["last_session_id"],
        last_pipeline_run_id=row["last_pipeline_run_id"], last_misfire_at=row["last_misfire_at"],
    )


def _fire(row: Mapping[Any, Any]) -> FireRecord:
    return FireRecord(job_id=row["job_id"], scheduled_for=row["scheduled_for"], fired_at=row["fired_at"],
                      leader_id=row["leader_id"], outcome=FireOutcome(row["outcome"]), session_id=row["session_id"],
                      pipeline_run_id=row["pipeline_run_id"])


def _insert_ignoring_conflicts(connection: AsyncConnection, table: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING: a conflict neither raises nor aborts a PostgreSQL transaction. Callers add
    RETURNING to learn whether a row went in (rowcount is not reliable for this statement with psycopg)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


class SqlAlchemyJobStore(JobStore):
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def list_jobs(self) -> list[JobRecord]:
        connection = await self._uow.connection()
        rows = (await connection.execute(select(scheduled_jobs).order_by(scheduled_jobs.c.id))).mappings()
        return [_job(row) for row in rows]

    async def get(self, job_id: str) -> JobRecord | None:
        connection = await self._uow.connection()
        row = (await connection.execute(select(scheduled_jobs).where(scheduled_jobs.c.id == job_id))).mappings().first()
        return _job(row) if row else None

    async def insert_missing(self, jobs: Sequence[JobRecord]) -> list[str]:
        connection = await self._uow.connection()
        inserted: list[str] = []
        for job in jobs:
            values = {
                "id": job.id, "kind": job.kind, "target": job.target, "name": job.name,
                "description": job.description, "cron": job.cron, "timezone": job.timezone, "enabled": job.enabled,
                "params": dict(job.params), "is_builtin": job.is_builtin, "revision": job.revision,
                "updated_at": job.updated_at, "updated_by": job.updated_by,
                "schedule_changed_at": job.schedule_changed_at,
            }
            result = await connection.execute(_insert_ignoring_conflicts(connection, scheduled_jobs).values(values)
                                              .returning(scheduled_jobs.c.id))
            if result.first() is not None:
                inserted.append(job.id)
        return inserted

    async def adopt_default_timezone(self, job_ids: Sequence[str], timezone: str, *, now: datetime) -> None:
        connection = await self._uow.connection()
        await connection.execute(
            update(scheduled_jobs)
            .where(scheduled_jobs.c.id.in_(list(job_ids)), scheduled_jobs.c.is_builtin.is_(True),
                   scheduled_jobs.c.revision == 1, scheduled_jobs.c.timezone != timezone)
            .values(timezone=timezone, schedule_changed_at=now))

    async def update(self, job_id: str, change: JobChange, *, expected_revision: int | None, by: int | None,
                     now: datetime) -> JobRecord | None:
        connection = await self._uow.connection()
        values: dict[str, Any] = {"revision": scheduled_jobs.c.revision + 1, "updated_at": now, "updated_by": by}
        if change.cron is not None:
            values["cron"] = change.cron
        if change.timezone is not None:
            values["timezone"] = change.timezone
        if change.params is not None:
            values["params"] = dict(change.params)
        if change.enabled is not None:
            values["enabled"] = change.enabled
        if change.schedule_changed:
            values["schedule_changed_at"] = now
        if change.next_fire_at is not None or change.enabled is False:
            values["next_fire_at"] = change.next_fire_at
        statement = update(scheduled_jobs).where(scheduled_jobs.c.id == job_id)
        if expected_revision is not None:
            statement = statement.where(scheduled_jobs.c.revision == expected_revision)
        result = await connection.execute(statement.values(values))
        return await self.get(job_id) if result.rowcount else None

    async def delete(self, job_id: str) -> None:
        connection = await self._uow.connection()
        await connection.execute(delete(scheduled_jobs).where(scheduled_jobs.c.id == job_id))

    async def claim_fire(self, fire: FireRecord) -> bool:
        connection = await self._uow.connection()
        result = await connection.execute(_insert_ignoring_conflicts(connection, job_fires).values(
            job_id=fire.job_id, scheduled_for=fire.scheduled_for, fired_at=fire.fired_at, leader_id=fire.leader_id,
            outcome=fire.outcome.value, session_id=fire.session_id, pipeline_run_id=fire.pipeline_run_id,
        ).returning(job_fires.c.id))
        if result.first() is None:
            return False
        stamp = ({"last_misfire_at": fire.scheduled_for} if fire.outcome is FireOutcome.MISFIRE_SKIPPED else {})
        # A misfire also moves the anchor: the coalesced instant is dealt with and must not be reconsidered.
        await connection.execute(update(scheduled_jobs).where(scheduled_jobs.c.id == fire.job_id)
                                 .values(last_fire_at=fire.scheduled_for, **stamp))
        return True

    async def settle_fire(self, job_id: str, scheduled_for: datetime, *, outcome: FireOutcome,
                          session_id: str | None = None, pipeline_run_id: str | None = None) -> None:
        connection = await self._uow.connection()
        await connection.execute(
            update(job_fires).where(job_fires.c.job_id == job_id, job_fires.c.scheduled_for == scheduled_for)
            .values(outcome=outcome.value, session_id=session_id, pipeline_run_id=pipeline_run_id))
        if outcome is FireOutcome.FIRED:
            await self.record_manual_run(job_id, session_id=session_id, pipeline_run_id=pipeline_run_id)

    async def record_manual_run(self, job_id: str, *, session_id: str | None = None,
                                pipeline_run_id: str | None = None) -> None:
        connection = await self._uow.connection()
        await connection.execute(update(scheduled_jobs).where(scheduled_jobs.c.id == job_id)
                                 .values(last_session_id=session_id, last_pipeline_run_id=pipeline_run_id))

    async def set_next_fire(self, job_id: str, next_fire_at: datetime | None) -> None:
        connection = await self._uow.connection()
        await connection.execute(update(scheduled_jobs).where(scheduled_jobs.c.id == job_id,
                                                              scheduled_jobs.c.next_fire_at.is_distinct_from(
                                                                  next_fire_at))
                                 .values(next_fire_at=next_fire_at))

    async def fires(self, job_id: str, *, limit: int) -> list[FireRecord]:
        connection = await self._uow.connection()
        rows = (await connection.execute(select(job_fires).where(job_fires.c.job_id == job_id)
                                         .order_by(job_fires.c.scheduled_for.desc()).limit(limit))).mappings()
        return [_fire(row) for row in rows]


def _heartbeat(row: Mapping[Any, Any]) -> Heartbeat:
    return Heartbeat(process_id=row["process_id"], kind=row["kind"], host=row["host"], pid=row["pid"],
                     version=row["version"], started_at=row["started_at"], last_seen_at=row["last_seen_at"],
                     running_tasks=row["running_tasks"], is_leader=bool(row["is_leader"]),
                     leader_since=row["leader_since"])


class SqlAlchemyHeartbeatStore(HeartbeatStore):
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def beat(self, heartbeat: Heartbeat) -> None:
        connection = await self._uow.connection()
        values = {"kind": heartbeat.kind, "host": heartbeat.host, "pid": heartbeat.pid,
                  "version": heartbeat.version, "started_at": heartbeat.started_at,
                  "last_seen_at": heartbeat.last_seen_at, "running_tasks": heartbeat.running_tasks,
                  "is_leader": heartbeat.is_leader, "leader_since": heartbeat.leader_since}
        result = await connection.execute(update(process_heartbeats)
                                          .where(process_heartbeats.c.process_id == heartbeat.process_id)
                                          .values(values))
        if not result.rowcount:
            await connection.execute(insert(process_heartbeats).values(process_id=heartbeat.process_id, **values))

    async def list_kind(self, kind: str, *, seen_since: datetime) -> list[Heartbeat]:
        connection = await self._uow.connection()
        rows = (await connection.execute(
            select(process_heartbeats)
            .where(process_heartbeats.c.kind == kind, process_heartbeats.c.last_seen_at >= seen_since)
            .order_by(process_heartbeats.c.is_leader.desc(), process_heartbeats.c.last_seen_at.desc()))).mappings()
        return [_heartbeat(row) for row in rows]

    async def get(self, process_id: str) -> Heartbeat | None:
        connection = await self._uow.connection()
        row = (await connection.execute(select(process_heartbeats)
                                        .where(process_heartbeats.c.process_id == process_id))).mappings().first()
        return _heartbeat(row) if row else None
