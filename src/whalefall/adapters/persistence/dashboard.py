"""SqlAlchemyDashboardReader: the aggregate queries behind the dashboard sections (operations.md §7)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Date, and_, case, cast, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.tables.accounts import principals
from whalefall.adapters.persistence.tables.capacity import (
    database_size_aggregations,
    instance_databases,
    instance_size_aggregations,
    instance_size_samples,
)
from whalefall.adapters.persistence.tables.classification import classification_assignments, classifications
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.tables.logs import unified_logs
from whalefall.adapters.persistence.tables.operations import job_fires, pipeline_runs, scheduled_jobs
from whalefall.adapters.persistence.tables.sessions import sync_records, sync_sessions
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.dashboard import DashboardReader, Section

_RECORD_KINDS: Final = ("accounts_sync", "capacity_collection")
_FINISHED: Final = ("completed", "failed")
_LOG_LEVELS: Final = ("ERROR", "WARNING")
_FAILING_RUNS: Final = ("failed", "partial")
_GROWTH_TOP: Final = 10


def _utc_day(connection: AsyncConnection, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of an instant column on either dialect."""
    if connection.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _day_key(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


class SqlAlchemyDashboardReader(DashboardReader):
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def instances(self) -> Section:
        rows = (await (await self._conn()).execute(select(
            instances.c.deleted_at.is_(None).label("live"), instances.c.is_active, instances.c.db_type,
            instances.c.flavor, func.count().label("n"),
        ).group_by(instances.c.deleted_at.is_(None), instances.c.is_active, instances.c.db_type,
                   instances.c.flavor))).all()
        live = [r for r in rows if r.live]
        by_db_type: Counter[str] = Counter()
        by_flavor: Counter[str] = Counter()
        for r in live:
            by_db_type[r.db_type] += r.n
            by_flavor[r.flavor or "unknown"] += r.n
        return {"total": sum(r.n for r in live), "active": sum(r.n for r in live if r.is_active),
                "inactive": sum(r.n for r in live if not r.is_active),
                "deleted": sum(r.n for r in rows if not r.live),
                "by_db_type": dict(sorted(by_db_type.items())), "by_flavor": dict(sorted(by_flavor.items()))}

    async def connectivity(self, *, failing_limit: int) -> Section:
        connection = await self._conn()
        active = and_(instances.c.deleted_at.is_(None), instances.c.is_active.is_(True))
        status = case((instances.c.last_contact_at.is_(None), "never"),
                      (instances.c.last_contact_ok.is_(True), "ok"), else_="failed")
        contact = {"ok": 0, "failed": 0, "never": 0}
        for row in await connection.execute(select(status.label("s"), func.count()).where(active).group_by(status)):
            contact[row[0]] = int(row[1])
        active_count = sum(contact.values())
        finished = select(sync_records.c.instance_id, sync_sessions.c.kind,
                          func.max(sync_records.c.finished_at).label("last")).join(
            sync_sessions, sync_sessions.c.id == sync_records.c.session_id).where(
            sync_sessions.c.kind.in_(_RECORD_KINDS), sync_records.c.status.in_(_FINISHED),
            sync_records.c.finished_at.is_not(None)).group_by(sync_records.c.instance_id, sync_sessions.c.kind
                                                              ).subquery()
        latest = await connection.execute(select(
            instances.c.id, instances.c.name, finished.c.kind, sync_records.c.status, sync_records.c.error_code,
            sync_records.c.error_class, sync_records.c.finished_at,
        ).join(finished, finished.c.instance_id == instances.c.id).join(
            sync_records, and_(sync_records.c.instance_id == finished.c.instance_id,
                               sync_records.c.finished_at == finished.c.last,
                               sync_records.c.status.in_(_FINISHED))).join(
            sync_sessions, and_(sync_sessions.c.id == sync_records.c.session_id,
                                sync_sessions.c.kind == finished.c.kind)).where(active))
        last: dict[tuple[int, str], Any] = {}
        for row in latest:
            last[(row.id, row.kind)] = row
        kinds: dict[str, dict[str, int]] = {}
        for kind in _RECORD_KINDS:
            statuses = [row.status for (_, k), row in last.items() if k == kind]
            kinds[kind] = {"completed": statuses.count("completed"), "failed": statuses.count("failed"),
                           "never": active_count - len(statuses)}
        failing = sorted((row for row in last.values() if row.status == "failed"),
                         key=lambda r: (r.finished_at, r.id), reverse=True)[:failing_limit]
        return {"contact": contact, "last_sync": kinds, "failing": [
            {"instance_id": r.id, "name": r.name, "kind": r.kind, "error_code": r.error_code,
             "error_class": r.error_class, "finished_at": r.finished_at} for r in failing]}

    async def databases(self) -> Section:
        live = instances.c.deleted_at.is_(None)
        row = (await (await self._conn()).execute(select(
            func.count().filter(instance_databases.c.status == "active"),
            func.count().filter(instance_databases.c.status == "gone"),
            func.count().filter(instance_databases.c.is_system.is_(True)),
            func.count().filter(instance_databases.c.is_excluded.is_(True)),
        ).select_from(instance_databases.join(instances, instances.c.id == instance_databases.c.instance_id)
                      ).where(live))).one()
        return {"active": int(row[0]), "gone": int(row[1]), "system": int(row[2]), "excluded": int(row[3])}

    async def runs(self, *, since: datetime) -> Section:
        connection = await self._conn()
        by_kind: dict[str, dict[str, int]] = {}
        for row in await connection.execute(select(sync_sessions.c.kind, sync_sessions.c.status, func.count()).where(
                sync_sessions.c.created_at >= since).group_by(sync_sessions.c.kind, sync_sessions.c.status)):
            by_kind.setdefault(row[0], {})[row[1]] = int(row[2])
        running = (await connection.execute(select(func.count()).select_from(sync_sessions).where(
            sync_sessions.c.status == "running"))).scalar_one()
        nightly = (await connection.execute(select(
            pipeline_runs.c.id, pipeline_runs.c.status, pipeline_runs.c.created_at, pipeline_runs.c.finished_at,
        ).where(pipeline_runs.c.pipeline_name == "nightly").order_by(
            pipeline_runs.c.created_at.desc(), pipeline_runs.c.id.desc()).limit(1))).mappings().first()
        return {"last_24h": dict(sorted(by_kind.items())), "running_now": int(running),
                "last_nightly": dict(nightly) if nightly is not None else None}

    async def accounts(self) -> Section:
        connection = await self._conn()
        live = and_(principals.c.is_account.is_(True), principals.c.active.is_(True),
                    instances.c.deleted_at.is_(None))
        accounts = principals.join(instances, instances.c.id == principals.c.instance_id)
        totals = (await connection.execute(select(
            func.count(), func.count().filter(principals.c.locked.is_(True)),
            func.count().filter(principals.c.superuser.is_(True)),
        ).select_from(accounts).where(live))).one()
        assigned = accounts.join(classification_assignments,
                                 classification_assignments.c.account_id == principals.c.id)
        classified = (await connection.execute(select(func.count(distinct(principals.c.id))).select_from(
            assigned).where(live))).scalar_one()
        primary: dict[int, int] = {int(row[0]): int(row[1]) for row in await connection.execute(select(
            classification_assignments.c.classification_id, func.count(distinct(principals.c.id)),
        ).select_from(assigned).where(live, classification_assignments.c.is_primary.is_(True)).group_by(
            classification_assignments.c.classification_id))}
        catalog = await connection.execute(select(
            classifications.c.id, classifications.c.code, classifications.c.display_name,
            classifications.c.risk_level, classifications.c.is_active,
        ).order_by(classifications.c.priority, classifications.c.id))
        return {"active": int(totals[0]), "locked": int(totals[1]), "privileged": int(totals[2]),
                "classified": int(classified), "unclassified": int(totals[0]) - int(classified),
                "by_classification": [{"classification_id": r.id, "code": r.code, "display_name": r.display_name,
                                       "risk_level": r.risk_level, "is_active": r.is_active,
                                       "accounts": primary.get(int(r.id), 0)} for r in catalog]}

    async def capacity(self, *, today: date) -> Section:
        connection = await self._conn()
        active = and_(instances.c.deleted_at.is_(None), instances.c.is_active.is_(True))
        collected = instances.c.last_capacity_collected_on
        fresh_from = today - timedelta(days=1)
        counts = (await connection.execute(select(
            func.count().filter(collected >= fresh_from), func.count().filter(collected < fresh_from),
            func.count().filter(collected.is_(None))).where(active))).one()
        fleet_total = (await connection.execute(select(func.coalesce(func.sum(
            instance_size_samples.c.total_bytes), 0)).select_from(instances.join(instance_size_samples, and_(
                instance_size_samples.c.instance_id == instances.c.id,
                instance_size_samples.c.collected_on == collected))).where(active, collected >= fresh_from))
                       ).scalar_one()
        daily = instance_size_aggregations.c
        last_day = (await connection.execute(select(func.max(daily.period_start)).where(
            daily.period_type == "daily", daily.is_partial.is_(False)))).scalar_one()
        incomplete = 0
        if last_day is not None:
            incomplete = (await connection.execute(select(func.count()).select_from(
                instance_size_aggregations.join(instances, instances.c.id == daily.instance_id)).where(
                daily.period_type == "daily", daily.period_start == last_day, daily.is_complete.is_(False),
                instances.c.deleted_at.is_(None)))).scalar_one()
        return {"fleet_total_bytes": int(fleet_total), "fresh": int(counts[0]), "stale": int(counts[1]),
                "never": int(counts[2]), "incomplete_instances": int(incomplete),
                "last_complete_day": _day_key(last_day) if last_day is not None else None}

    async def jobs(self) -> Section:
        connection = await self._conn()
        jobs = (await connection.execute(select(
            scheduled_jobs.c.id, scheduled_jobs.c.enabled, scheduled_jobs.c.next_fire_at,
        ).order_by(scheduled_jobs.c.id))).all()
        latest = select(job_fires.c.job_id, func.max(job_fires.c.fired_at).label("last")).group_by(
            job_fires.c.job_id).subquery()
        fires = {row.job_id: row for row in await connection.execute(select(
            job_fires.c.job_id, job_fires.c.outcome, job_fires.c.fired_at, job_fires.c.session_id,
            job_fires.c.pipeline_run_id,
        ).join(latest, and_(latest.c.job_id == job_fires.c.job_id, latest.c.last == job_fires.c.fired_at)))}
        session_ids = [str(f.session_id) for f in fires.values() if f.session_id]
        run_ids = [str(f.pipeline_run_id) for f in fires.values() if f.pipeline_run_id]
        ended: dict[str, Any] = {}
        if session_ids:
            ended.update({str(r.id): r for r in await connection.execute(select(
                sync_sessions.c.id, sync_sessions.c.status, sync_sessions.c.finished_at).where(
                sync_sessions.c.id.in_(session_ids)))})
        if run_ids:
            ended.update({str(r.id): r for r in await connection.execute(select(
                pipeline_runs.c.id, pipeline_runs.c.status, pipeline_runs.c.finished_at).where(
                pipeline_runs.c.id.in_(run_ids)))})
        failing: list[dict[str, object]] = []
        for job in jobs:
            fire = fires.get(job.id)
            if not job.enabled or fire is None:
                continue
            if fire.outcome == "misfire_skipped":
                failing.append({"job_id": job.id, "outcome": fire.outcome, "session_id": None,
                                "pipeline_run_id": None, "status": None, "finished_at": fire.fired_at})
                continue
            run = ended.get(str(fire.session_id or fire.pipeline_run_id or ""))
            if run is not None and run.status in _FAILING_RUNS:
                failing.append({"job_id": job.id, "outcome": fire.outcome,
                                "session_id": str(fire.session_id) if fire.session_id else None,
                                "pipeline_run_id": str(fire.pipeline_run_id) if fire.pipeline_run_id else None,
                                "status": run.status, "finished_at": run.finished_at})
        return {"enabled": sum(1 for j in jobs if j.enabled), "paused": sum(1 for j in jobs if not j.enabled),
                "jobs": [{"id": j.id, "enabled": j.enabled, "next_fire_at": j.next_fire_at} for j in jobs],
                "failing": failing}

    async def growth(self, *, month_start: date) -> Section:
        monthly = database_size_aggregations.c
        rows = await (await self._conn()).execute(select(
            monthly.instance_id, instances.c.name, monthly.database_name, monthly.change_bytes,
            monthly.change_percent, monthly.last_bytes, monthly.trend,
        ).join(instances, instances.c.id == monthly.instance_id).where(
            monthly.period_type == "monthly", monthly.period_start == month_start, monthly.is_partial.is_(False),
            monthly.change_bytes.is_not(None), instances.c.deleted_at.is_(None),
        ).order_by(monthly.change_bytes.desc(), monthly.instance_id, monthly.database_name).limit(_GROWTH_TOP))
        return {"period_start": month_start.isoformat(), "top": [
            {"instance_id": r.instance_id, "instance_name": r.name, "database_name": r.database_name,
             "change_bytes": int(r.change_bytes), "change_percent": r.change_percent, "last_bytes": int(r.last_bytes),
             "trend": r.trend} for r in rows]}

    async def trends(self, *, sessions_since: datetime, session_days: int, samples_since: date, today: date
                     ) -> Section:
        connection = await self._conn()
        day = _utc_day(connection, sync_sessions.c.created_at)
        per_day = {_day_key(row[0]): int(row[1]) for row in await connection.execute(select(
            day, func.count()).where(sync_sessions.c.created_at >= sessions_since).group_by(day))}
        first = sessions_since.date()
        days = [(first + timedelta(days=n)).isoformat() for n in range(session_days)]
        fleet = {_day_key(row[0]): int(row[1]) for row in await connection.execute(select(
            instance_size_samples.c.collected_on, func.sum(instance_size_samples.c.total_bytes),
        ).join(instances, instances.c.id == instance_size_samples.c.instance_id).where(
            instance_size_samples.c.collected_on >= samples_since, instance_size_samples.c.collected_on <= today,
            instances.c.deleted_at.is_(None)).group_by(instance_size_samples.c.collected_on))}
        sample_days = [(samples_since + timedelta(days=n)).isoformat()
                       for n in range((today - samples_since).days + 1)]
        return {"sessions_per_day": [{"day": d, "sessions": per_day.get(d, 0)} for d in days],
                "fleet_total_per_day": [{"day": d, "total_bytes": fleet.get(d)} for d in sample_days]}

    async def logs(self, *, since: datetime, days_since: datetime) -> Section:
        connection = await self._conn()
        day = _utc_day(connection, unified_logs.c.ts)
        last_24h = dict.fromkeys(_LOG_LEVELS, 0)
        for row in await connection.execute(select(unified_logs.c.level, func.count()).where(
                unified_logs.c.ts >= since, unified_logs.c.level.in_(_LOG_LEVELS)).group_by(unified_logs.c.level)):
            last_24h[row[0]] = int(row[1])
        per_day: dict[str, dict[str, int]] = {}
        for row in await connection.execute(select(day.label("day"), unified_logs.c.level, func.count()).where(
                unified_logs.c.ts >= days_since, unified_logs.c.level.in_(_LOG_LEVELS)).group_by(
                day, unified_logs.c.level)):
            key = row[0].isoformat() if isinstance(row[0], date) else str(row[0])
            per_day.setdefault(key, dict.fromkeys(_LOG_LEVELS, 0))[row[1]] = int(row[2])
        days = [(days_since.date() + timedelta(days=n)).isoformat() for n in range(7)]
        return {"last_24h": {level.lower(): n for level, n in last_24h.items()},
                "per_day": [{"day": d, **{level.lower(): n for level, n in per_day.get(
                    d, dict.fromkeys(_LOG_LEVELS, 0)).items()}} for d in days]}
