"""The audit trail: SqlAlchemyAuditLog appends in the caller's transaction; queries and the retention purger."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from whalefall.adapters.persistence._sql import fetch_page, make_page
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.audit import audit_events
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.audit.reader import AuditEventReader, AuditEventView, AuditQuery
from whalefall.application.errors import StoreUnavailableError
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.logs import ExpiredRowPurger
from whalefall.application.shared.paging import Page, PageRequest


def _jsonable(value: Any) -> Any:
    """JSON-safe copy (instants as ISO 8601 UTC `Z`, sets as sorted lists)."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


class SqlAlchemyAuditLog(AuditLog):
    def __init__(self, uow: SqlAlchemyUnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def record(self, entry: AuditEntry) -> None:
        actor = entry.actor
        connection = await self._uow.connection()
        await connection.execute(insert(audit_events).values(
            ts=self._clock.now(), actor_type=actor.actor_type.value, actor_id=actor.user_id,
            actor_name=actor.name[:128], action=entry.action, target_type=entry.target_type,
            target_id=entry.target_id, outcome=entry.outcome.value, request_id=actor.request_id,
            ip=actor.client_ip, user_agent=(actor.user_agent or None) and actor.user_agent[:512],
            changes=_jsonable({k: list(v) for k, v in entry.changes.items()}), details=_jsonable(dict(entry.details))))


_SORT: Final[Mapping[str, ColumnElement[Any]]] = {"ts": audit_events.c.ts}


class SqlAlchemyAuditEventReader(AuditEventReader):
    """Audit queries in the request's unit of work (reads only)."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def search(self, query: AuditQuery, page: PageRequest) -> Page[AuditEventView]:
        rows, total = await fetch_page(await self._uow.connection(), _filtered(query), page, _SORT,
                                       audit_events.c.id, _view)
        return make_page(rows, total, page)

    async def get(self, event_id: int) -> AuditEventView | None:
        connection = await self._uow.connection()
        row = (await connection.execute(select(audit_events).where(audit_events.c.id == event_id))).mappings().first()
        return None if row is None else _view(row)

    async def count(self, query: AuditQuery) -> int:
        connection = await self._uow.connection()
        statement = select(func.count()).select_from(_filtered(query).subquery())
        return int((await connection.execute(statement)).scalar_one())

    async def export(self, query: AuditQuery, *, limit: int) -> Sequence[AuditEventView]:
        connection = await self._uow.connection()
        statement = _filtered(query).order_by(audit_events.c.ts, audit_events.c.id).limit(limit)
        return [_view(row) for row in (await connection.execute(statement)).mappings()]


def _filtered(query: AuditQuery) -> Select[Any]:
    table = audit_events.c
    conditions: list[ColumnElement[bool]] = [table.ts >= query.window.since, table.ts < query.window.until]
    if query.actor_type is not None:
        conditions.append(table.actor_type == query.actor_type.value)
    if query.actor_ids:
        conditions.append(table.actor_id.in_(sorted(query.actor_ids)))
    if query.action_prefix:
        conditions.append(table.action.startswith(query.action_prefix, autoescape=True))
    if query.outcomes:
        conditions.append(table.outcome.in_(sorted(o.value for o in query.outcomes)))
    for column, value in ((table.target_type, query.target_type), (table.target_id, query.target_id),
                          (table.request_id, query.request_id)):
        if value is not None:
            conditions.append(column == value)
    return select(audit_events).where(*conditions)


def _view(row: Mapping[Any, Any]) -> AuditEventView:
    return AuditEventView(id=int(row["id"]), ts=row["ts"], actor_type=row["actor_type"], actor_id=row["actor_id"],
                          actor_name=row["actor_name"], action=row["action"], target_type=row["target_type"],
                          target_id=row["target_id"], outcome=row["outcome"], request_id=row["request_id"],
                          ip=row["ip"], user_agent=row["user_agent"], changes=row["changes"] or {},
                          details=row["details"] or {})


class SqlAlchemyAuditPurger(ExpiredRowPurger):
    """The only deleter of audit events (retention): bounded batches, one transaction each."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def delete_batch(self, cutoff: datetime, limit: int) -> int:
        victims = select(audit_events.c.id).where(audit_events.c.ts < cutoff).order_by(audit_events.c.id).limit(limit)
        try:
            async with self._database.engine.begin() as connection:
                result = await connection.execute(delete(audit_events).where(audit_events.c.id.in_(victims)))
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError() from exc
        return int(result.rowcount or 0)
