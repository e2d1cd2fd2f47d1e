"""SqlAlchemySessionStore: sync sessions and records with conditional-update transitions (operations.md §1.2–1.6).

A record transition updates the record with `WHERE status = :from [AND lease_owner = :worker]` first and then, as
its last statement, moves the session's counters incrementally (`pending = pending - 1, running = running + 1`,
…) with a conditional update that takes the session row lock (PostgreSQL row lock; SQLite transactions hold the
write lock, see engine.py and unit_of_work.py), so the hot session row stays locked for one statement and the
commit. Lock order everywhere: record rows, then the session row (a cancel request cancels the pending records
before it locks the session). When a transition leaves nothing pending or running, the counters are recomputed
from the records and the session is finalised in the same transaction (the recompute is also the safety net of
the cancel request and the reaper's finaliser). A transition that matches no row is discarded and logged as
`session.stale_transition`.
"""

from __future__ import annotations

import json
import logging
import uuid
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import case, delete, exists, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence._sql import fetch_page, make_page
from whalefall.adapters.persistence.tables.identity import users
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.tables.sessions import sync_records, sync_sessions
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork, constraint_of
from whalefall.application.ports.sessions import (
    FleetLockHeldError,
    NewRecord,
    RecordFinish,
    RecordView,
    SessionQuery,
    SessionStore,
    SessionView,
)
from whalefall.application.sessions.open_session import SessionDiscard
from whalefall.application.sessions.run_record import AttemptStore, ClaimReader, ClaimSnapshot, instance_state
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import NotFoundError
from whalefall.domain.sessions.records import RecordStatus, require_transition
from whalefall.domain.sessions.sessions import (
    SessionCounters,
    SessionKind,
    SessionScope,
    SessionStatus,
    SessionTrigger,
    final_status,
    require_cancellable,
)

logger = logging.getLogger(__name__)

MAX_JSON_BYTES: Final = 64 * 1024
MAX_WARNINGS: Final = 50
MAX_ERROR_MESSAGE: Final = 4000
_RUNNING: Final = RecordStatus.RUNNING.value
_PENDING: Final = RecordStatus.PENDING.value
_COUNTER_COLUMNS: Final = ("total", "pending", "running", "succeeded", "failed", "skipped", "cancelled")
_COUNTER_OF: Final = {RecordStatus.PENDING: "pending", RecordStatus.RUNNING: "running",
                      RecordStatus.COMPLETED: "succeeded", RecordStatus.FAILED: "failed",
                      RecordStatus.SKIPPED: "skipped", RecordStatus.CANCELLED: "cancelled"}

_SESSION_COLUMNS: Final = (*sync_sessions.c, users.c.username.label("created_by_name"))
_RECORD_COLUMNS: Final = (*sync_records.c, sync_sessions.c.kind)


def bounded_json(value: Mapping[str, object] | None) -> dict[str, Any]:
    """JSON-safe copy of a typed details/summary object; over 64 KiB it is replaced by a truncation marker."""
    encoded = json.dumps(dict(value or {}), default=str, sort_keys=True)
    if len(encoded.encode()) > MAX_JSON_BYTES:
        return {"truncated": True, "bytes": len(encoded.encode())}
    loaded: dict[str, Any] = json.loads(encoded)
    return loaded


def bounded_warnings(warnings: Sequence[Mapping[str, object]]) -> list[dict[str, Any]]:
    """At most 50 warnings; the 50th says how many more were dropped."""
    items = [bounded_json(w) for w in warnings]
    if len(items) > MAX_WARNINGS:
        dropped = len(items) - MAX_WARNINGS + 1
        items = [*items[:MAX_WARNINGS - 1], {"code": "WARNINGS_TRUNCATED", "message": f"{dropped} more warnings"}]
    return items


def _bounded_message(message: str | None) -> str | None:
    return None if message is None else message[:MAX_ERROR_MESSAGE]


class SqlAlchemySessionStore(SessionStore, SessionDiscard, AttemptStore, ClaimReader):
    """The sessions port on the metadata store; writes go through the caller's unit of work."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    @property
    def _is_sqlite(self) -> bool:
        return self._uow.database.is_sqlite

    async def create(self, *, kind: SessionKind, scope: SessionScope, trigger: SessionTrigger,
                     created_by: int | None, origin_request_id: str | None, params: Mapping[str, object],
                     records: Sequence[NewRecord], now: datetime, job_id: str | None = None,
                     pipeline_run_id: str | None = None, step_name: str | None = None) -> SessionView:
        """A session without records is `completed` at once. `dispatch_count` starts at 1: the caller enqueues
        every record right after commit (or discards the session)."""
        connection = await self._conn()
        if scope is SessionScope.FLEET:
            await self._raise_if_fleet_locked(connection, kind)
        session_id = str(uuid.uuid4())
        status = SessionStatus.RUNNING if records else SessionStatus.COMPLETED
        row = {"id": session_id, "kind": kind.value, "scope": scope.value, "trigger": trigger.value,
               "job_id": job_id, "pipeline_run_id": pipeline_run_id, "step_name": step_name,
               "created_by": created_by, "origin_request_id": origin_request_id, "status": status.value,
               "created_at": now, "finished_at": None if records else now, "params": bounded_json(params),
               "summary": {}, "total": len(records), "pending": len(records)}
        try:
            async with connection.begin_nested():
                await connection.execute(insert(sync_sessions).values(row))
        except IntegrityError as exc:
            if "uq_sync_sessions_fleet_running" not in constraint_of(exc):
                raise
            await self._raise_if_fleet_locked(connection, kind)
            raise
        if records:
            await connection.execute(insert(sync_records), [
                {"session_id": session_id, "item_type": r.item_type, "item_key": r.item_key,
                 "instance_id": r.instance_id, "instance_name": r.instance_name, "status": _PENDING,
                 "attempt": 0, "dispatch_count": 1, "last_dispatched_at": now, "counters": {}, "warnings": [],
                 "details": {}} for r in records])
        view = await self.get(session_id)
        assert view is not None
        return view

    async def _raise_if_fleet_locked(self, connection: AsyncConnection, kind: SessionKind) -> None:
        running = (await connection.execute(select(sync_sessions.c.id).where(
            sync_sessions.c.kind == kind.value, sync_sessions.c.status == SessionStatus.RUNNING.value,
            sync_sessions.c.scope == SessionScope.FLEET.value))).scalar()
        if running is not None:
            raise FleetLockHeldError(str(running))

    async def discard(self, session_id: str) -> None:
        await (await self._conn()).execute(delete(sync_sessions).where(sync_sessions.c.id == session_id))

    async def get(self, session_id: str, *, for_update: bool = False) -> SessionView | None:
        if not _is_uuid(session_id):
            return None
        connection = await self._conn()
        if for_update:
            await self._lock_session(connection, session_id)
        row = (await connection.execute(self._session_select().where(sync_sessions.c.id == session_id))).mappings()
        found = row.first()
        return _session_view(found) if found is not None else None

    async def get_record(self, record_id: int) -> RecordView | None:
        row = (await (await self._conn()).execute(
            self._record_select().where(sync_records.c.id == record_id))).mappings().first()
        return _record_view(row) if row is not None else None

    async def claim_snapshot(self, record_id: int) -> ClaimSnapshot | None:
        record_columns = [c.label(f"r_{c.name}") for c in sync_records.c]
        extra: list[Any] = []
        if self._is_sqlite:  # the claim transaction holds the write lock: this read is atomic with the claim
            other, other_session = sync_records.alias("other"), sync_sessions.alias("other_session")
            extra.append(select(other.c.session_id).select_from(
                other.join(other_session, other_session.c.id == other.c.session_id)).where(
                other.c.instance_id == sync_records.c.instance_id, other.c.status == _RUNNING,
                other_session.c.kind == sync_sessions.c.kind, other.c.id != sync_records.c.id).limit(1)
                .scalar_subquery().label("o_session_id"))
        statement = select(*_SESSION_COLUMNS, *record_columns, instances.c.id.label("i_id"),
                           instances.c.deleted_at.label("i_deleted_at"),
                           instances.c.is_active.label("i_is_active"), *extra).select_from(
            sync_records.join(sync_sessions, sync_sessions.c.id == sync_records.c.session_id)
            .outerjoin(users, users.c.id == sync_sessions.c.created_by)
            .outerjoin(instances, instances.c.id == sync_records.c.instance_id)).where(sync_records.c.id == record_id)
        row = (await (await self._conn()).execute(statement)).mappings().first()
        if row is None:
            return None
        record = _record_view({**{c.name: row[f"r_{c.name}"] for c in sync_records.c}, "kind": row["kind"]})
        deleted, active = instance_state(record, found=row["i_id"] is not None,
                                         deleted=row["i_deleted_at"] is not None, active=bool(row["i_is_active"]))
        if not self._is_sqlite:
            return ClaimSnapshot(record, _session_view(row), deleted, active)
        other_session_id = row["o_session_id"]
        return ClaimSnapshot(record, _session_view(row), deleted, active, others_checked=True,
                             other_running_session_id=str(other_session_id) if other_session_id else None)

    async def claim(self, record_id: int, *, worker_id: str, lease_ttl_s: float, now: datetime) -> RecordView | None:
        """The record's conditional update (refused while its session is cancel-requested or not running), then the
        session's counters move pending → running: the session row is locked by the last statement only."""
        connection = await self._conn()
        blocked = exists(select(1).where(
            sync_sessions.c.id == sync_records.c.session_id,
            sync_sessions.c.cancel_requested_at.is_not(None)
            | (sync_sessions.c.status != SessionStatus.RUNNING.value)))
        claimed = (await connection.execute(update(sync_records).where(
            sync_records.c.id == record_id, sync_records.c.status == _PENDING, ~blocked).values(
            status=_RUNNING, lease_owner=worker_id, lease_expires_at=now + timedelta(seconds=lease_ttl_s),
            heartbeat_at=now, attempt=sync_records.c.attempt + 1,
            started_at=func.coalesce(sync_records.c.started_at, now)).returning(*sync_records.c))).mappings().first()
        if claimed is None:
            return None
        session_id = str(claimed["session_id"])
        session = await self._shift(connection, session_id, RecordStatus.PENDING, RecordStatus.RUNNING, now,
                                    started=True)
        if session is None:  # cannot happen (a session with a pending record is running): recompute
            await self._settle(connection, session_id, now, started=True)
            kind = (await connection.execute(select(sync_sessions.c.kind).where(
                sync_sessions.c.id == session_id))).scalar_one()
        else:
            kind = session["kind"]
        return _record_view({**claimed, "kind": kind})

    async def start_attempt(self, record_id: int, *, worker_id: str, lease_ttl_s: float,
                            now: datetime) -> RecordView | None:
        result = await (await self._conn()).execute(update(sync_records).where(
            sync_records.c.id == record_id, sync_records.c.status == _RUNNING,
            sync_records.c.lease_owner == worker_id).values(
            attempt=sync_records.c.attempt + 1, heartbeat_at=now,
            lease_expires_at=now + timedelta(seconds=lease_ttl_s)))
        return await self.get_record(record_id) if result.rowcount == 1 else None

    async def running_record_for_instance(self, kind: SessionKind, instance_id: int,
                                          exclude_record: int) -> RecordView | None:
        """On PostgreSQL this also takes a transaction-scoped advisory lock on (kind, instance), so the check and
        a claim that follows in the same transaction are atomic against a concurrent claimer."""
        connection = await self._conn()
        if not self._is_sqlite:
            await connection.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"),
                                     {"a": zlib.crc32(kind.value.encode()) - 2**31, "b": instance_id % 2**31})
        row = (await connection.execute(self._record_select().where(
            sync_records.c.instance_id == instance_id, sync_records.c.status == _RUNNING,
            sync_sessions.c.kind == kind.value, sync_records.c.id != exclude_record).limit(1))).mappings().first()
        return _record_view(row) if row is not None else None

    async def extend_lease(self, record_id: int, *, worker_id: str, lease_ttl_s: float, now: datetime) -> bool:
        result = await (await self._conn()).execute(update(sync_records).where(
            sync_records.c.id == record_id, sync_records.c.status == _RUNNING,
            sync_records.c.lease_owner == worker_id).values(
            heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_ttl_s)))
        return result.rowcount == 1

    async def finish(self, record_id: int, outcome: RecordFinish, *, now: datetime,
                     worker_id: str | None = None, from_status: RecordStatus = RecordStatus.RUNNING) -> bool:
        """The record row is updated before the session row, so the session row is locked by the last statement
        only (every record transition and a cancel request take record rows before the session row)."""
        require_transition(from_status, outcome.status)
        connection = await self._conn()
        conditions = [sync_records.c.id == record_id, sync_records.c.status == from_status.value]
        if worker_id is not None:
            conditions.append(sync_records.c.lease_owner == worker_id)
        session_id = (await connection.execute(update(sync_records).where(*conditions).values(
            status=outcome.status.value, finished_at=now, error_code=outcome.error_code,
            error_class=outcome.error_class, error_message=_bounded_message(outcome.error_message),
            counters=bounded_json(outcome.counters), warnings=bounded_warnings(outcome.warnings),
            details=bounded_json(outcome.details)).returning(sync_records.c.session_id))).scalar()
        if session_id is None:
            return _stale(record_id, from_status, outcome.status)
        await self._shift(connection, str(session_id), from_status, outcome.status, now)
        return True

    async def release(self, record_id: int, *, worker_id: str, now: datetime) -> bool:
        """Back to `pending` (record row first, then the session row); when the session turned out to be
        cancel-requested the record is cancelled at once instead of being stranded as pending."""
        connection = await self._conn()
        session_id = (await connection.execute(update(sync_records).where(
            sync_records.c.id == record_id, sync_records.c.status == _RUNNING,
            sync_records.c.lease_owner == worker_id).values(
            status=_PENDING, lease_owner=None, lease_expires_at=None).returning(sync_records.c.session_id))).scalar()
        if session_id is None:
            return _stale(record_id, RecordStatus.RUNNING, RecordStatus.PENDING)
        session = await self._shift(connection, str(session_id), RecordStatus.RUNNING, RecordStatus.PENDING, now)
        if session is not None and session["cancel_requested_at"] is not None:
            await connection.execute(update(sync_records).where(
                sync_records.c.id == record_id, sync_records.c.status == _PENDING).values(
                status=RecordStatus.CANCELLED.value, finished_at=now))
            await self._shift(connection, str(session_id), RecordStatus.PENDING, RecordStatus.CANCELLED, now)
        return True

    async def request_cancel(self, session_id: str, *, by: int | None, now: datetime) -> SessionView:
        """Pending records are cancelled before the session row is locked (the lock order of every record
        transition: record rows, then the session row); a refusal rolls the whole transaction back."""
        connection = await self._conn()
        if _is_uuid(session_id):
            await connection.execute(update(sync_records).where(
                sync_records.c.session_id == session_id, sync_records.c.status == _PENDING).values(
                status=RecordStatus.CANCELLED.value, finished_at=now))
        current = await self.get(session_id, for_update=True)
        if current is None:
            raise NotFoundError("session", session_id)
        require_cancellable(current.status)
        if current.cancel_requested_at is None:
            await connection.execute(update(sync_sessions).where(sync_sessions.c.id == session_id).values(
                cancel_requested_at=now, cancel_requested_by=by))
        await self._settle(connection, session_id, now)
        view = await self.get(session_id)
        assert view is not None
        return view

    async def expired_leases(self, *, before: datetime) -> list[RecordView]:
        rows = (await (await self._conn()).execute(self._record_select().where(
            sync_records.c.status == _RUNNING, sync_records.c.lease_expires_at < before).order_by(
            sync_records.c.id))).mappings().all()
        return [_record_view(row) for row in rows]

    async def stalled_pending(self, *, before: datetime) -> list[RecordView]:
        """Pending records of running sessions created before the instant, not dispatched since it, whose
        session has had no claim since it."""
        claimed = sync_records.alias("claimed")
        recent_claim = exists(select(1).where(claimed.c.session_id == sync_sessions.c.id,
                                              claimed.c.started_at >= before))
        statement = self._record_select().where(
            sync_sessions.c.status == SessionStatus.RUNNING.value, sync_sessions.c.created_at < before,
            sync_records.c.status == _PENDING,
            func.coalesce(sync_records.c.last_dispatched_at, sync_sessions.c.created_at) < before,
            ~recent_claim).order_by(sync_records.c.id)
        rows = await (await self._conn()).execute(statement)
        return [_record_view(row) for row in rows.mappings().all()]

    async def mark_dispatched(self, record_ids: Sequence[int], *, now: datetime) -> None:
        if not record_ids:
            return
        connection = await self._conn()
        for start in range(0, len(record_ids), 500):
            await connection.execute(update(sync_records).where(
                sync_records.c.id.in_(list(record_ids[start:start + 500])), sync_records.c.status == _PENDING
            ).values(dispatch_count=sync_records.c.dispatch_count + 1, last_dispatched_at=now))

    async def finalise_idle_sessions(self, *, now: datetime) -> list[str]:
        connection = await self._conn()
        open_record = exists(select(1).where(
            sync_records.c.session_id == sync_sessions.c.id, sync_records.c.status.in_([_PENDING, _RUNNING])))
        ids = [str(i) for i in (await connection.execute(select(sync_sessions.c.id).where(
            sync_sessions.c.status == SessionStatus.RUNNING.value, ~open_record))).scalars()]
        finalised: list[str] = []
        for session_id in ids:
            await self._lock_session(connection, session_id)
            if await self._settle(connection, session_id, now) is not SessionStatus.RUNNING:
                finalised.append(session_id)
        return finalised

    async def list_sessions(self, query: SessionQuery, page: PageRequest) -> Page[SessionView]:
        statement = self._session_select().where(*_session_filters(query))
        sortable = {"created_at": sync_sessions.c.created_at, "duration_ms": self._duration()}
        items, total = await fetch_page(await self._conn(), statement, page, sortable, sync_sessions.c.id,
                                        _session_view)
        return make_page(items, total, page)

    async def list_records(self, session_id: str, page: PageRequest, *,
                           statuses: frozenset[RecordStatus] = frozenset(),
                           error_classes: frozenset[str] = frozenset(),
                           instance_id: int | None = None) -> Page[RecordView]:
        """Sort fields: item_key, status, finished_at, id, and `failed_first` (failed records before the rest)."""
        conditions: list[Any] = [sync_records.c.session_id == session_id]
        if statuses:
            conditions.append(sync_records.c.status.in_(sorted(s.value for s in statuses)))
        if error_classes:
            conditions.append(sync_records.c.error_class.in_(sorted(error_classes)))
        if instance_id is not None:
            conditions.append(sync_records.c.instance_id == instance_id)
        sortable = {"item_key": sync_records.c.item_key, "status": sync_records.c.status,
                    "finished_at": sync_records.c.finished_at, "id": sync_records.c.id,
                    "failed_first": case((sync_records.c.status == RecordStatus.FAILED.value, 0), else_=1)}
        if not _is_uuid(session_id):
            return make_page([], 0, page)
        items, total = await fetch_page(await self._conn(), self._record_select().where(*conditions), page,
                                        sortable, sync_records.c.id, _record_view)
        return make_page(items, total, page)

    def _duration(self) -> Any:
        if self._is_sqlite:
            return func.julianday(sync_sessions.c.finished_at) - func.julianday(sync_sessions.c.started_at)
        return func.extract("epoch", sync_sessions.c.finished_at - sync_sessions.c.started_at)

    async def _lock_session(self, connection: AsyncConnection, session_id: str) -> None:
        if not self._is_sqlite:
            await connection.execute(select(sync_sessions.c.id).where(
                sync_sessions.c.id == session_id).with_for_update())

    async def _shift(self, connection: AsyncConnection, session_id: str, source: RecordStatus,
                     target: RecordStatus, now: datetime, *, started: bool = False) -> Mapping[Any, Any] | None:
        """Move one record from the `source` counter to the `target` counter of the running session (a conditional
        update, which also takes the session row lock), and finalise through a full recompute (`_settle`, the
        safety net) when the session has nothing pending or running left. The updated row, None when the
        session is not running."""
        values: dict[str, Any] = {_COUNTER_OF[source]: sync_sessions.c[_COUNTER_OF[source]] - 1,
                                  _COUNTER_OF[target]: sync_sessions.c[_COUNTER_OF[target]] + 1}
        if started:
            values["started_at"] = func.coalesce(sync_sessions.c.started_at, now)
        row = (await connection.execute(update(sync_sessions).where(
            sync_sessions.c.id == session_id, sync_sessions.c.status == SessionStatus.RUNNING.value).values(
            values).returning(sync_sessions.c.kind, sync_sessions.c.pending, sync_sessions.c.running,
                              sync_sessions.c.cancel_requested_at))).mappings().first()
        if row is not None and row["pending"] <= 0 and row["running"] <= 0:
            await self._settle(connection, session_id, now, cancel_requested=row["cancel_requested_at"] is not None)
        return row

    async def _settle(self, connection: AsyncConnection, session_id: str, now: datetime, *,
                      cancel_requested: bool | None = None, started: bool = False) -> SessionStatus:
        """Recompute the counters from the records and finalise the session when nothing is open; a terminal
        session is never rewritten. `cancel_requested` may be passed when the caller read it under the lock."""
        rows = (await connection.execute(select(sync_records.c.status, func.count()).where(
            sync_records.c.session_id == session_id).group_by(sync_records.c.status))).all()
        counts = {str(status): int(count) for status, count in rows}
        counters = SessionCounters(
            total=sum(counts.values()), pending=counts.get(_PENDING, 0), running=counts.get(_RUNNING, 0),
            succeeded=counts.get(RecordStatus.COMPLETED.value, 0), failed=counts.get(RecordStatus.FAILED.value, 0),
            skipped=counts.get(RecordStatus.SKIPPED.value, 0), cancelled=counts.get(RecordStatus.CANCELLED.value, 0))
        if cancel_requested is None:
            cancel_requested = (await connection.execute(select(sync_sessions.c.cancel_requested_at).where(
                sync_sessions.c.id == session_id))).scalar() is not None
        status = final_status(counters, cancel_requested)
        values: dict[str, object] = {name: getattr(counters, name) for name in _COUNTER_COLUMNS}
        if started:
            values["started_at"] = func.coalesce(sync_sessions.c.started_at, now)
        if status is not SessionStatus.RUNNING:
            values.update(status=status.value, finished_at=now)
        await connection.execute(update(sync_sessions).where(
            sync_sessions.c.id == session_id, sync_sessions.c.status == SessionStatus.RUNNING.value).values(values))
        return status

    @staticmethod
    def _session_select() -> Any:
        return select(*_SESSION_COLUMNS).select_from(
            sync_sessions.outerjoin(users, users.c.id == sync_sessions.c.created_by))

    @staticmethod
    def _record_select() -> Any:
        return select(*_RECORD_COLUMNS).select_from(
            sync_records.join(sync_sessions, sync_sessions.c.id == sync_records.c.session_id))


def _stale(record_id: int, source: RecordStatus, target: RecordStatus) -> bool:
    logger.info("session.stale_transition", extra={"record_id": record_id, "from": str(source), "to": str(target)})
    return False


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _session_filters(query: SessionQuery) -> list[Any]:
    conditions: list[Any] = []
    if query.kinds:
        conditions.append(sync_sessions.c.kind.in_(sorted(k.value for k in query.kinds)))
    if query.statuses:
        conditions.append(sync_sessions.c.status.in_(sorted(s.value for s in query.statuses)))
    for column, value in ((sync_sessions.c.trigger, query.trigger), (sync_sessions.c.scope, query.scope)):
        if value is not None:
            conditions.append(column == value.value)
    for column, plain in ((sync_sessions.c.job_id, query.job_id), (sync_sessions.c.created_by, query.created_by)):
        if plain is not None:
            conditions.append(column == plain)
    if query.pipeline_run_id is not None:
        conditions.append(sync_sessions.c.pipeline_run_id == query.pipeline_run_id
                          if _is_uuid(query.pipeline_run_id) else sync_sessions.c.id.is_(None))
    if query.instance_id is not None:
        conditions.append(exists(select(1).where(
            sync_records.c.session_id == sync_sessions.c.id, sync_records.c.instance_id == query.instance_id)))
    if query.since is not None:
        conditions.append(sync_sessions.c.created_at >= query.since)
    if query.until is not None:
        conditions.append(sync_sessions.c.created_at < query.until)
    return conditions


def _session_view(row: Mapping[Any, Any]) -> SessionView:
    return SessionView(
        id=str(row["id"]), kind=SessionKind(row["kind"]), scope=SessionScope(row["scope"]),
        trigger=SessionTrigger(row["trigger"]), status=SessionStatus(row["status"]), job_id=row["job_id"],
        pipeline_run_id=str(row["pipeline_run_id"]) if row["pipeline_run_id"] is not None else None,
        step_name=row["step_name"], created_by=row["created_by"], created_by_name=row["created_by_name"],
        origin_request_id=row["origin_request_id"], params=row["params"] or {}, summary=row["summary"] or {},
        total=row["total"], pending=row["pending"], running=row["running"], succeeded=row["succeeded"],
        failed=row["failed"], skipped=row["skipped"], cancelled=row["cancelled"], created_at=row["created_at"],
        started_at=row["started_at"], finished_at=row["finished_at"],
        cancel_requested_at=row["cancel_requested_at"], error_code=row["error_code"],
        error_message=row["error_message"])


def _record_view(row: Mapping[Any, Any]) -> RecordView:
    return RecordView(
        id=int(row["id"]), session_id=str(row["session_id"]), kind=SessionKind(row["kind"]),
        item_type=row["item_type"], item_key=row["item_key"], instance_id=row["instance_id"],
        instance_name=row["instance_name"], status=RecordStatus(row["status"]), attempt=row["attempt"],
        dispatch_count=row["dispatch_count"], lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"], heartbeat_at=row["heartbeat_at"], started_at=row["started_at"],
        finished_at=row["finished_at"], error_code=row["error_code"], error_class=row["error_class"],
        error_message=row["error_message"], counters=row["counters"] or {},
        warnings=tuple(row["warnings"] or ()), details=row["details"] or {})

