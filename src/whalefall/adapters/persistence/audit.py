"""SqlAlchemyAuditLog: audit events appended in the caller's transaction."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert

from whalefall.adapters.persistence.tables.audit import audit_events
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock


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
