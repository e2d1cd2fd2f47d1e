"""Row shaping of the sessions store: bounded JSON documents, session/record views and list filters."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import exists, select

from whalefall.adapters.persistence.tables.sessions import sync_records, sync_sessions
from whalefall.application.ports.sessions import RecordView, SessionQuery, SessionView
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger

MAX_JSON_BYTES: Final = 64 * 1024
MAX_WARNINGS: Final = 50
MAX_ERROR_MESSAGE: Final = 4000


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


def bounded_message(message: str | None) -> str | None:
    return None if message is None else message[:MAX_ERROR_MESSAGE]


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def session_filters(query: SessionQuery) -> list[Any]:
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
                          if is_uuid(query.pipeline_run_id) else sync_sessions.c.id.is_(None))
    if query.instance_id is not None:
        conditions.append(exists(select(1).where(
            sync_records.c.session_id == sync_sessions.c.id, sync_records.c.instance_id == query.instance_id)))
    if query.since is not None:
        conditions.append(sync_sessions.c.created_at >= query.since)
    if query.until is not None:
        conditions.append(sync_sessions.c.created_at < query.until)
    return conditions


def session_view(row: Mapping[Any, Any]) -> SessionView:
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


def record_view(row: Mapping[Any, Any]) -> RecordView:
    return RecordView(
        id=int(row["id"]), session_id=str(row["session_id"]), kind=SessionKind(row["kind"]),
        item_type=row["item_type"], item_key=row["item_key"], instance_id=row["instance_id"],
        instance_name=row["instance_name"], status=RecordStatus(row["status"]), attempt=row["attempt"],
        dispatch_count=row["dispatch_count"], lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"], heartbeat_at=row["heartbeat_at"], started_at=row["started_at"],
        finished_at=row["finished_at"], error_code=row["error_code"], error_class=row["error_class"],
        error_message=row["error_message"], counters=row["counters"] or {},
        warnings=tuple(row["warnings"] or ()), details=row["details"] or {}, error_items=row["error_items"] or 0)

