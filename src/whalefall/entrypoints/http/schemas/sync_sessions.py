"""Session and Record shapes of api.md §2 (sync sessions, §3.15)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from whalefall.application.ports.sessions import RecordView, SessionView
from whalefall.domain.sessions.sessions import SessionCounters


class CountersOut(msgspec.Struct, kw_only=True):
    total: int
    pending: int
    running: int
    succeeded: int
    failed: int
    skipped: int
    cancelled: int


class UserRefOut(msgspec.Struct, kw_only=True):
    id: int
    username: str


class InstanceRefOut(msgspec.Struct, kw_only=True):
    id: int | None
    name: str


class RecordWarningOut(msgspec.Struct, kw_only=True):
    code: str
    message: str


def _duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds() * 1000))


class SessionOut(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    scope: str
    trigger: str
    status: str
    job_id: str | None
    pipeline_run_id: str | None
    step_name: str | None
    created_by: UserRefOut | None
    origin_request_id: str | None
    params: dict[str, Any]
    summary: dict[str, Any]
    counters: CountersOut
    progress_percent: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    cancel_requested_at: datetime | None
    error_code: str | None
    error_message: str | None

    @staticmethod
    def fields_of(view: SessionView) -> dict[str, Any]:
        counters = SessionCounters(total=view.total, pending=view.pending, running=view.running,
                                   succeeded=view.succeeded, failed=view.failed, skipped=view.skipped,
                                   cancelled=view.cancelled)
        creator = (UserRefOut(id=view.created_by, username=view.created_by_name or "")
                   if view.created_by is not None else None)
        return {
            "id": view.id, "kind": view.kind.value, "scope": view.scope.value, "trigger": view.trigger.value,
            "status": view.status.value, "job_id": view.job_id, "pipeline_run_id": view.pipeline_run_id,
            "step_name": view.step_name, "created_by": creator, "origin_request_id": view.origin_request_id,
            "params": dict(view.params), "summary": dict(view.summary),
            "counters": CountersOut(**{name: getattr(counters, name) for name in (
                "total", "pending", "running", "succeeded", "failed", "skipped", "cancelled")}),
            "progress_percent": counters.progress_percent, "created_at": view.created_at,
            "started_at": view.started_at, "finished_at": view.finished_at,
            # A session that never claimed a record (all skipped or cancelled) lasted from its creation.
            "duration_ms": _duration_ms(view.started_at or view.created_at, view.finished_at),
            "cancel_requested_at": view.cancel_requested_at, "error_code": view.error_code,
            "error_message": view.error_message,
        }

    @classmethod
    def of(cls, view: SessionView) -> SessionOut:
        return cls(**cls.fields_of(view))


class RecordOut(msgspec.Struct, kw_only=True):
    id: int
    session_id: str
    item_type: str
    item_key: str
    instance: InstanceRefOut | None
    status: str
    attempt: int
    dispatch_count: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    error_code: str | None
    error_class: str | None
    error_message: str | None
    error_items: int
    counters: dict[str, Any]
    warnings: list[RecordWarningOut]
    details: dict[str, Any]

    @classmethod
    def of(cls, view: RecordView) -> RecordOut:
        instance = (InstanceRefOut(id=view.instance_id, name=view.instance_name or "")
                    if view.instance_id is not None or view.instance_name is not None else None)
        return cls(
            id=view.id, session_id=view.session_id, item_type=view.item_type, item_key=view.item_key,
            instance=instance, status=view.status.value, attempt=view.attempt, dispatch_count=view.dispatch_count,
            started_at=view.started_at, finished_at=view.finished_at,
            duration_ms=_duration_ms(view.started_at, view.finished_at), lease_expires_at=view.lease_expires_at,
            heartbeat_at=view.heartbeat_at, error_code=view.error_code, error_class=view.error_class,
            error_message=view.error_message, error_items=view.error_items, counters=dict(view.counters),
            warnings=[RecordWarningOut(code=str(w.get("code", "")), message=str(w.get("message", "")))
                      for w in view.warnings],
            details=dict(view.details))


class SessionDetailOut(SessionOut, kw_only=True):
    """The session with its first 200 records, failed first; `records_total` counts them all."""

    records: list[RecordOut]
    records_total: int
