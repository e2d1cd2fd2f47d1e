"""Operations read side and writers of `unified_logs` (operations.md §5), its retention, and the fleet gauge."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, case, delete, func, insert, literal_column, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence._sql import contains_ci, fetch_page, make_page
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.tables.logs import unified_logs
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.errors import StoreUnavailableError
from whalefall.application.ports.logs import (
    ExpiredRowPurger,
    LogBatchWriter,
    LogEntry,
    LogQuery,
    LogReader,
    LogStats,
    TimeWindow,
)
from whalefall.application.ports.metrics import FleetGaugeReader
from whalefall.application.shared.paging import Page, PageRequest

DROPPED_EVENT: Final = "logs.events_dropped"
_SORT: Final[Mapping[str, ColumnElement[Any]]] = {"ts": unified_logs.c.ts}
_LIMITS: Final = {"level": 8, "logger": 200, "module": 32, "event": 128, "process": 16, "host": 255,
                  "request_id": 128, "session_id": 64, "pipeline_run_id": 64, "exception_type": 255}


class SqlAlchemyLogWriter(LogBatchWriter):
    """Each batch is one multi-row INSERT in its own short transaction on a pooled connection of its own."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def write_batch(self, events: Sequence[Mapping[str, object]]) -> None:
        if not events:
            return
        rows = [log_row(event) for event in events]
        try:
            async with self._database.engine.begin() as connection:
                await connection.execute(insert(unified_logs).values(rows))
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError() from exc


def log_row(event: Mapping[str, object]) -> dict[str, Any]:
    """A sink event (already redacted and size-bounded by logging_setup) → a `unified_logs` row."""
    row: dict[str, Any] = {"ts": _instant(event.get("ts"))}
    for name, limit in _LIMITS.items():
        value = event.get(name)
        row[name] = None if value is None else str(value)[:limit]
    for name, default in (("level", "INFO"), ("logger", "root"), ("module", "system"), ("event", "log.message"),
                          ("process", "cli"), ("host", "")):
        row[name] = row[name] if row[name] is not None else default
    row["message"] = str(event.get("message") or "")
    row["pid"] = _integer(event.get("pid")) or 0
    row["instance_id"] = _integer(event.get("instance_id"))
    row["user_id"] = _integer(event.get("user_id"))
    trace = event.get("traceback")
    row["traceback"] = None if trace is None else str(trace)
    context = event.get("context")
    row["context"] = json.loads(json.dumps(context if isinstance(context, Mapping) else {}, default=str))
    return row


def _instant(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return datetime.fromtimestamp(0, UTC)


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


class SqlAlchemyLogReader(LogReader):
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def search(self, query: LogQuery, page: PageRequest) -> Page[LogEntry]:
        conditions = _window(query.window)
        table = unified_logs.c
        if query.levels:
            conditions.append(table.level.in_(sorted(level.value for level in query.levels)))
        if query.modules:
            conditions.append(table.module.in_(sorted(query.modules)))
        if query.logger_prefix:
            conditions.append(table.logger.startswith(query.logger_prefix, autoescape=True))
        if query.event_prefix:
            conditions.append(table.event.startswith(query.event_prefix, autoescape=True))
        if query.q:
            # The message column only: free text never scans the JSON context (operations.md §12 defect 21).
            conditions.append(contains_ci([table.message], query.q))
        for column, value in ((table.request_id, query.request_id), (table.session_id, query.session_id),
                              (table.pipeline_run_id, query.pipeline_run_id), (table.instance_id, query.instance_id),
                              (table.user_id, query.user_id)):
            if value is not None:
                conditions.append(column == value)
        rows, total = await fetch_page(await self._uow.connection(), select(unified_logs).where(*conditions), page,
                                       _SORT, table.id, _entry)
        return make_page(rows, total, page)

    async def get(self, log_id: int) -> LogEntry | None:
        connection = await self._uow.connection()
        row = (await connection.execute(select(unified_logs).where(unified_logs.c.id == log_id))).mappings().first()
        return None if row is None else _entry(row)

    async def stats(self, window: TimeWindow, *, top: int) -> LogStats:
        connection = await self._uow.connection()
        table = unified_logs.c
        where = _window(window)
        levels = await connection.execute(select(table.level, func.count()).where(*where).group_by(table.level))
        count = func.count().label("n")
        modules = await connection.execute(select(table.module, count).where(*where).group_by(table.module)
                                           .order_by(count.desc(), table.module).limit(top))
        hour = _hour(connection)
        errors = await connection.execute(
            select(hour, func.count()).where(*where, table.level.in_(("ERROR", "CRITICAL")))
            .group_by(hour).order_by(hour))
        dropped = await connection.execute(select(table.context).where(*where, table.event == DROPPED_EVENT))
        return LogStats(
            counts_by_level={str(level): int(n) for level, n in levels},
            top_modules=[(str(module), int(n)) for module, n in modules],
            errors_per_hour=[(_hour_value(value), int(n)) for value, n in errors],
            dropped_events_total=sum(_integer((context or {}).get("count")) or 0 for (context,) in dropped),
        )

    async def module_counts(self, window: TimeWindow) -> Mapping[str, int]:
        connection = await self._uow.connection()
        rows = await connection.execute(select(unified_logs.c.module, func.count()).where(*_window(window))
                                        .group_by(unified_logs.c.module))
        return {str(module): int(n) for module, n in rows}


def _window(window: TimeWindow) -> list[ColumnElement[bool]]:
    return [unified_logs.c.ts >= window.since, unified_logs.c.ts < window.until]


def _hour(connection: AsyncConnection) -> ColumnElement[Any]:
    if connection.dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H:00:00", unified_logs.c.ts).label("hour")
    return func.date_trunc(literal_column("'hour'"), unified_logs.c.ts).label("hour")


def _hour_value(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _entry(row: Mapping[Any, Any]) -> LogEntry:
    return LogEntry(id=int(row["id"]), ts=row["ts"], level=row["level"], logger=row["logger"], module=row["module"],
                    event=row["event"], message=row["message"], process=row["process"], host=row["host"],
                    pid=int(row["pid"]), request_id=row["request_id"], session_id=row["session_id"],
                    pipeline_run_id=row["pipeline_run_id"], instance_id=row["instance_id"], user_id=row["user_id"],
                    exception_type=row["exception_type"], traceback=row["traceback"], context=row["context"] or {})


class SqlAlchemyLogPurger(ExpiredRowPurger):
    """`DELETE … WHERE id IN (SELECT id … LIMIT n)`: bounded on both dialects, one transaction per batch."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def delete_batch(self, cutoff: datetime, limit: int) -> int:
        victims = select(unified_logs.c.id).where(unified_logs.c.ts < cutoff).order_by(unified_logs.c.id).limit(limit)
        try:
            async with self._database.engine.begin() as connection:
                result = await connection.execute(delete(unified_logs).where(unified_logs.c.id.in_(victims)))
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError() from exc
        return int(result.rowcount or 0)


class SqlAlchemyFleetGauges(FleetGaugeReader):
    """`whalefall_instances{db_type,status}` in the scrape's unit of work (SQLite serialises transactions, so a
    second connection inside a request would wait for the request's own); the metrics adapter caches it (15 s)."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def instance_counts(self) -> Mapping[tuple[str, str], int]:
        status = case((instances.c.deleted_at.is_not(None), "deleted"), (instances.c.is_active.is_(True), "active"),
                      else_="inactive").label("status")
        statement = select(instances.c.db_type, status, func.count()).group_by(instances.c.db_type, status)
        try:
            rows = (await (await self._uow.connection()).execute(statement)).all()
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError() from exc
        return {(str(db_type), str(state)): int(n) for db_type, state, n in rows}
