"""SqlAlchemyDashboardReader: the aggregate queries behind the dashboard sections (operations.md §7)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Date, and_, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.tables.capacity import instance_databases
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.tables.logs import unified_logs
from whalefall.adapters.persistence.tables.sessions import sync_records, sync_sessions
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.dashboard import DashboardReader, Section

_RECORD_KINDS: Final = ("accounts_sync", "capacity_collection")
_FINISHED: Final = ("completed", "failed")
_LOG_LEVELS: Final = ("ERROR", "WARNING")


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
        return {"last_24h": dict(sorted(by_kind.items())), "running_now": int(running)}

    async def logs(self, *, since: datetime, days_since: datetime) -> Section:
        connection = await self._conn()
        day: ColumnElement[Any] = (cast(func.timezone("UTC", unified_logs.c.ts), Date)
                                   if connection.dialect.name == "postgresql" else func.date(unified_logs.c.ts))
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
