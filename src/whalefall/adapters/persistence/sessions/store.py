"""SqlAlchemySessionStore: sync sessions and records with conditional-update transitions (operations.md §1.2–1.6).

A record transition updates the record rows with `WHERE status = :from [AND lease_owner = :worker]` first and
then, as its last statements, moves the session's counters incrementally (`pending = pending - n, running =
running + n`, …) with a conditional update that takes the session row lock (PostgreSQL row lock; SQLite
transactions hold the write lock, see engine.py and unit_of_work.py), so the hot session row stays locked for one
statement and the commit. The runtime's group commit (application/sessions/batching.py) hands several records to
`claim_many` / `finish_many` at once: one snapshot read, one claim update, one executemany of the finishes, one
session update per session. Incremental counters equal a recount because every record moves exactly once from the
counter it was counted in to the one it is in now (its conditional update matched). Lock order everywhere: record
rows (in id order), then session rows (in id order); a cancel request cancels the pending records before it locks
the session. When a transition leaves nothing pending or running, the counters are recomputed from the records and
the session is finalised in the same transaction (the recompute is also the safety net of the cancel request and
the reaper's finaliser). A transition that matches no row is discarded and logged as `session.stale_transition`.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import bindparam, case, delete, exists, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence._sql import fetch_page, make_page
from whalefall.adapters.persistence.sessions.rows import (
    bounded_json,
    bounded_message,
    bounded_warnings,
    is_uuid,
    record_view,
    session_filters,
    session_view,
)
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
from whalefall.application.sessions.claims import BatchClaimStore, ClaimSnapshot, instance_state
from whalefall.application.sessions.open_session import SessionDiscard
from whalefall.application.sessions.transactions import AttemptStore, CancelFlagReader
from whalefall.application.sessions.transitions import FinishReceipt, FinishRequest
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

_RUNNING: Final = RecordStatus.RUNNING.value
_PENDING: Final = RecordStatus.PENDING.value
_COUNTER_COLUMNS: Final = ("total", "pending", "running", "succeeded", "failed", "skipped", "cancelled")
_COUNTER_OF: Final = {RecordStatus.PENDING: "pending", RecordStatus.RUNNING: "running",
                      RecordStatus.COMPLETED: "succeeded", RecordStatus.FAILED: "failed",
                      RecordStatus.SKIPPED: "skipped", RecordStatus.CANCELLED: "cancelled"}

_SESSION_COLUMNS: Final = (*sync_sessions.c, users.c.username.label("created_by_name"))
_RECORD_COLUMNS: Final = (*sync_records.c, sync_sessions.c.kind)
# Advisory locks in (a, b) order: the sorted subquery is scanned in order, so two claimers lock overlapping key
# sets in the same order (a deadlock would still be detected by PostgreSQL and retried record by record).
_ADVISORY_LOCKS: Final = text(
    "SELECT count(pg_advisory_xact_lock(k.a, k.b)) FROM (SELECT u.a, u.b FROM "
    "unnest(CAST(:a AS integer[]), CAST(:b AS integer[])) AS u(a, b) ORDER BY u.a, u.b) AS k")


def _snapshot_statement(*, with_others: bool) -> Any:
    """The claim snapshot of the records `:ids` (expanding): record, session, instance state, and on SQLite the
    session of another running record of the same kind for the instance."""
    extra: list[Any] = []
    if with_others:
        other, other_session = sync_records.alias("other"), sync_sessions.alias("other_session")
        extra.append(select(other.c.session_id).select_from(
            other.join(other_session, other_session.c.id == other.c.session_id)).where(
            other.c.instance_id == sync_records.c.instance_id, other.c.status == _RUNNING,
            other_session.c.kind == sync_sessions.c.kind, other.c.id != sync_records.c.id).limit(1)
            .scalar_subquery().label("o_session_id"))
    return select(*_SESSION_COLUMNS, *[c.label(f"r_{c.name}") for c in sync_records.c],
                  instances.c.id.label("i_id"), instances.c.deleted_at.label("i_deleted_at"),
                  instances.c.is_active.label("i_is_active"), instances.c.db_type.label("i_db_type"),
                  *extra).select_from(
        sync_records.join(sync_sessions, sync_sessions.c.id == sync_records.c.session_id)
        .outerjoin(users, users.c.id == sync_sessions.c.created_by)
        .outerjoin(instances, instances.c.id == sync_records.c.instance_id)).where(
        sync_records.c.id.in_(bindparam("ids", expanding=True)))


_FINISH_READ: Final = select(sync_records.c.id, sync_records.c.session_id, sync_records.c.status,
                             sync_records.c.lease_owner).where(
    sync_records.c.id.in_(bindparam("ids", expanding=True))).order_by(sync_records.c.id)
_FINISH_READ_LOCKED: Final = _FINISH_READ.with_for_update()
# The condition is repeated in the write although the rows were checked under lock: belt and braces.
_FINISH_WRITE: Final = update(sync_records).where(
    sync_records.c.id == bindparam("f_id"), sync_records.c.status == bindparam("f_from")).values(
    status=bindparam("f_status"), finished_at=bindparam("f_now", type_=sync_records.c.finished_at.type),
    error_code=bindparam("f_error_code"), error_class=bindparam("f_error_class"),
    error_message=bindparam("f_error_message"), counters=bindparam("f_counters", type_=sync_records.c.counters.type),
    warnings=bindparam("f_warnings", type_=sync_records.c.warnings.type),
    details=bindparam("f_details", type_=sync_records.c.details.type), error_items=bindparam("f_error_items"))


def _finish_params(request: FinishRequest, now: datetime) -> dict[str, Any]:
    outcome = request.outcome
    return {"f_id": request.record_id, "f_from": request.from_status.value, "f_status": outcome.status.value,
            "f_now": now, "f_error_code": outcome.error_code, "f_error_class": outcome.error_class,
            "f_error_message": bounded_message(outcome.error_message), "f_counters": bounded_json(outcome.counters),
            "f_warnings": bounded_warnings(outcome.warnings), "f_details": bounded_json(outcome.details),
            "f_error_items": outcome.error_items}


_SNAPSHOT: Final = _snapshot_statement(with_others=False)
_SNAPSHOT_SQLITE: Final = _snapshot_statement(with_others=True)


class SqlAlchemySessionStore(SessionStore, SessionDiscard, AttemptStore, BatchClaimStore, CancelFlagReader):
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
        if not is_uuid(session_id):
            return None
        connection = await self._conn()
        if for_update:
            await self._lock_session(connection, session_id)
        row = (await connection.execute(self._session_select().where(sync_sessions.c.id == session_id))).mappings()
        found = row.first()
        return session_view(found) if found is not None else None

    async def cancel_requested(self, session_ids: Sequence[str]) -> dict[str, bool]:
        wanted = [s for s in session_ids if is_uuid(s)]
        flags = dict.fromkeys(session_ids, True)
        if wanted:
            rows = await (await self._conn()).execute(select(
                sync_sessions.c.id, sync_sessions.c.cancel_requested_at).where(sync_sessions.c.id.in_(wanted)))
            flags.update({str(session_id): at is not None for session_id, at in rows})
        return flags

    async def get_record(self, record_id: int) -> RecordView | None:
        row = (await (await self._conn()).execute(
            self._record_select().where(sync_records.c.id == record_id))).mappings().first()
        return record_view(row) if row is not None else None

    async def claim_snapshots(self, record_ids: Sequence[int]) -> dict[int, ClaimSnapshot]:
        """One statement for all ids (built once per dialect: building its aliases per call dominated the CPU
        profile of the fleet benchmark)."""
        if not record_ids:
            return {}
        statement = _SNAPSHOT_SQLITE if self._is_sqlite else _SNAPSHOT
        rows = (await (await self._conn()).execute(statement, {"ids": list(record_ids)})).mappings().all()
        snapshots: dict[int, ClaimSnapshot] = {}
        for row in rows:
            record = record_view({**{c.name: row[f"r_{c.name}"] for c in sync_records.c}, "kind": row["kind"]})
            deleted, active = instance_state(record, found=row["i_id"] is not None,
                                             deleted=row["i_deleted_at"] is not None,
                                             active=bool(row["i_is_active"]))
            db_type = row["i_db_type"]
            if self._is_sqlite:  # the claim transaction holds the write lock: this read is atomic with the claim
                other = row["o_session_id"]
                snapshots[record.id] = ClaimSnapshot(record, session_view(row), deleted, active, others_checked=True,
                                                     other_running_session_id=str(other) if other else None,
                                                     db_type=db_type)
            else:
                snapshots[record.id] = ClaimSnapshot(record, session_view(row), deleted, active, db_type=db_type)
        return snapshots

    async def claim(self, record_id: int, *, worker_id: str, lease_ttl_s: float, now: datetime) -> RecordView | None:
        claimed = await self.claim_many([record_id], worker_id=worker_id, lease_ttl_s=lease_ttl_s, now=now)
        return claimed[0] if claimed else None

    async def claim_many(self, record_ids: Sequence[int], *, worker_id: str, lease_ttl_s: float,
                         now: datetime) -> list[RecordView]:
        """The records' conditional update (refused while their session is cancel-requested or not running), then
        each session's counters move pending → running by the number it got: the session row is locked after
        the record rows, like every record transition."""
        if not record_ids:
            return []
        connection = await self._conn()
        blocked = exists(select(1).where(
            sync_sessions.c.id == sync_records.c.session_id,
            sync_sessions.c.cancel_requested_at.is_not(None)
            | (sync_sessions.c.status != SessionStatus.RUNNING.value)))
        rows = (await connection.execute(update(sync_records).where(
            sync_records.c.id.in_(sorted(record_ids)), sync_records.c.status == _PENDING, ~blocked).values(
            status=_RUNNING, lease_owner=worker_id, lease_expires_at=now + timedelta(seconds=lease_ttl_s),
            heartbeat_at=now, attempt=sync_records.c.attempt + 1,
            started_at=func.coalesce(sync_records.c.started_at, now)).returning(*sync_records.c))).mappings().all()
        per_session: dict[str, int] = {}
        for row in rows:
            per_session[str(row["session_id"])] = per_session.get(str(row["session_id"]), 0) + 1
        kinds: dict[str, Any] = {}
        for session_id in sorted(per_session):
            claimed = per_session[session_id]
            session, _ = await self._move(connection, session_id, {"pending": -claimed, "running": claimed}, now,
                                          started=True)
            if session is None:  # cannot happen (a session with a pending record is running): recompute
                await self._settle(connection, session_id, now, started=True)
                kinds[session_id] = (await connection.execute(select(sync_sessions.c.kind).where(
                    sync_sessions.c.id == session_id))).scalar_one()
            else:
                kinds[session_id] = session["kind"]
        return [record_view({**row, "kind": kinds[str(row["session_id"])]}) for row in rows]

    async def start_attempt(self, record_id: int, *, worker_id: str, lease_ttl_s: float,
                            now: datetime) -> RecordView | None:
        result = await (await self._conn()).execute(update(sync_records).where(
            sync_records.c.id == record_id, sync_records.c.status == _RUNNING,
            sync_records.c.lease_owner == worker_id).values(
            attempt=sync_records.c.attempt + 1, heartbeat_at=now,
            lease_expires_at=now + timedelta(seconds=lease_ttl_s)))
        return await self.get_record(record_id) if result.rowcount == 1 else None

    async def running_sessions_for_instances(self, keys: Sequence[tuple[SessionKind, int]]
                                             ) -> dict[tuple[SessionKind, int], str]:
        if not keys:
            return {}
        connection = await self._conn()
        await self._lock_instances(connection, keys)
        rows = await connection.execute(select(
            sync_sessions.c.kind, sync_records.c.instance_id, sync_records.c.session_id).select_from(
            sync_records.join(sync_sessions, sync_sessions.c.id == sync_records.c.session_id)).where(
            sync_records.c.status == _RUNNING, sync_records.c.instance_id.in_(sorted({i for _k, i in keys})),
            sync_sessions.c.kind.in_(sorted({k.value for k, _i in keys}))))
        wanted = set(keys)
        found: dict[tuple[SessionKind, int], str] = {}
        for kind, instance_id, session_id in rows:
            key = (SessionKind(kind), int(instance_id))
            if key in wanted:
                found.setdefault(key, str(session_id))
        return found

    async def _lock_instances(self, connection: AsyncConnection, keys: Sequence[tuple[SessionKind, int]]) -> None:
        """PostgreSQL: transaction-scoped advisory locks on (kind, instance), taken in key order with one
        statement (SQLite: the transaction already holds the write lock)."""
        if self._is_sqlite:
            return
        pairs = sorted({(zlib.crc32(kind.value.encode()) - 2**31, instance_id % 2**31) for kind, instance_id in keys})
        await connection.execute(_ADVISORY_LOCKS, {"a": [a for a, _b in pairs], "b": [b for _a, b in pairs]})

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
        receipts = await self.finish_many([FinishRequest(record_id=record_id, outcome=outcome, worker_id=worker_id,
                                                         from_status=from_status)], now=now)
        return receipts[0].changed

    async def finish_many(self, requests: Sequence[FinishRequest], *, now: datetime) -> list[FinishReceipt]:
        """Set-based: the requested record rows are read under their row locks (PostgreSQL `FOR UPDATE` in id
        order; SQLite: the transaction's write lock), each request's condition (status = from, lease owner) is
        checked against them, the matching ones are written with one executemany of the same conditional
        update, then each session is moved once (id order) by the summed shifts of its records. The incremental
        counters stay equal to a recount because each record moved exactly once from the counter it was counted
        in to the one it is in now. A record id requested twice: the first matching request wins."""
        for request in requests:
            require_transition(request.from_status, request.outcome.status)
        if not requests:
            return []
        connection = await self._conn()
        locked = _FINISH_READ if self._is_sqlite else _FINISH_READ_LOCKED
        current = {int(row.id): row for row in await connection.execute(
            locked, {"ids": sorted({r.record_id for r in requests})})}
        applied: dict[int, FinishRequest] = {}
        deltas: dict[str, dict[str, int]] = {}
        for request in sorted(requests, key=lambda r: r.record_id):
            row = current.get(request.record_id)
            if (row is None or request.record_id in applied or row.status != request.from_status.value
                    or (request.worker_id is not None and row.lease_owner != request.worker_id)):
                _stale(request.record_id, request.from_status, request.outcome.status)
                continue
            applied[request.record_id] = request
            delta = deltas.setdefault(str(row.session_id), {})
            source, target = _COUNTER_OF[request.from_status], _COUNTER_OF[request.outcome.status]
            delta[source] = delta.get(source, 0) - 1
            delta[target] = delta.get(target, 0) + 1
        if applied:
            await connection.execute(_FINISH_WRITE, [_finish_params(r, now) for r in applied.values()])
        finalised = {session_id for session_id in sorted(deltas)
                     if (await self._move(connection, session_id, deltas[session_id], now))[1]}
        receipts: list[FinishReceipt] = []
        for request in requests:
            if applied.get(request.record_id) is not request:
                receipts.append(FinishReceipt(changed=False))
                continue
            session_id = str(current[request.record_id].session_id)
            # One receipt per finalised session says so: its listeners are due once, not once per record.
            receipts.append(FinishReceipt(changed=True, session_id=session_id, finalised=session_id in finalised))
            finalised.discard(session_id)
        return receipts

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
        if is_uuid(session_id):
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
        return [record_view(row) for row in rows]

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
        return [record_view(row) for row in rows.mappings().all()]

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
        statement = self._session_select().where(*session_filters(query))
        sortable = {"created_at": sync_sessions.c.created_at, "duration_ms": self._duration()}
        items, total = await fetch_page(await self._conn(), statement, page, sortable, sync_sessions.c.id,
                                        session_view)
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
        if not is_uuid(session_id):
            return make_page([], 0, page)
        items, total = await fetch_page(await self._conn(), self._record_select().where(*conditions), page,
                                        sortable, sync_records.c.id, record_view)
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
        """Move one record from the `source` counter to the `target` counter (see `_move`)."""
        delta = {_COUNTER_OF[source]: -1, _COUNTER_OF[target]: 1}
        return (await self._move(connection, session_id, delta, now, started=started))[0]

    async def _move(self, connection: AsyncConnection, session_id: str, delta: Mapping[str, int], now: datetime,
                    *, started: bool = False) -> tuple[Mapping[Any, Any] | None, bool]:
        """Add `delta` to the counters of the running session (a conditional update, which also takes the
        session row lock), and finalise through a full recompute (`_settle`, the safety net) when the session
        has nothing pending or running left. The updated row (None when the session is not running) and whether
        this call finalised the session."""
        values: dict[str, Any] = {name: sync_sessions.c[name] + change for name, change in delta.items() if change}
        if started:
            values["started_at"] = func.coalesce(sync_sessions.c.started_at, now)
        if not values:
            values["pending"] = sync_sessions.c.pending  # still lock the row and read it back
        row = (await connection.execute(update(sync_sessions).where(
            sync_sessions.c.id == session_id, sync_sessions.c.status == SessionStatus.RUNNING.value).values(
            values).returning(sync_sessions.c.kind, sync_sessions.c.pending, sync_sessions.c.running,
                              sync_sessions.c.cancel_requested_at))).mappings().first()
        finalised = False
        if row is not None and row["pending"] <= 0 and row["running"] <= 0:
            status = await self._settle(connection, session_id, now,
                                        cancel_requested=row["cancel_requested_at"] is not None)
            finalised = status is not SessionStatus.RUNNING
        return row, finalised

    async def _settle(self, connection: AsyncConnection, session_id: str, now: datetime, *,
                      cancel_requested: bool | None = None, started: bool = False) -> SessionStatus:
        """Recompute the counters from the records and finalise the session when nothing is open; a terminal
        session is never rewritten. `cancel_requested` may be passed when the caller read it under the lock."""
        with_errors = func.sum(case((sync_records.c.error_items > 0, 1), else_=0))
        rows = (await connection.execute(select(sync_records.c.status, func.count(), with_errors).where(
            sync_records.c.session_id == session_id).group_by(sync_records.c.status))).all()
        counts = {str(status): int(count) for status, count, _errored in rows}
        errored = sum(int(n or 0) for status, _count, n in rows if status == RecordStatus.COMPLETED.value)
        counters = SessionCounters(
            total=sum(counts.values()), pending=counts.get(_PENDING, 0), running=counts.get(_RUNNING, 0),
            succeeded=counts.get(RecordStatus.COMPLETED.value, 0), failed=counts.get(RecordStatus.FAILED.value, 0),
            skipped=counts.get(RecordStatus.SKIPPED.value, 0), cancelled=counts.get(RecordStatus.CANCELLED.value, 0),
            with_errors=errored)
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
