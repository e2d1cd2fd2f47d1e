"""Bodies and CSV columns of the audit routes (api.md §2 AuditEvent, §3.17, §5.2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import msgspec

from whalefall.application.audit.reader import AuditEventView
from whalefall.application.shared.csv_codec import CellValue

CSV_COLUMNS: Final = ("ts", "actor_type", "actor_id", "actor_name", "action", "outcome", "target_type", "target_id",
                      "request_id", "ip", "changes", "details")


class AuditEventOut(msgspec.Struct, kw_only=True):
    id: int
    ts: datetime
    actor_type: str
    actor_id: int | None
    actor_name: str
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    request_id: str | None
    ip: str | None
    user_agent: str | None
    changes: dict[str, Any]
    details: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEventView) -> AuditEventOut:
        return cls(id=event.id, ts=event.ts, actor_type=event.actor_type, actor_id=event.actor_id,
                   actor_name=event.actor_name, action=event.action, target_type=event.target_type,
                   target_id=event.target_id, outcome=event.outcome, request_id=event.request_id, ip=event.ip,
                   user_agent=event.user_agent, changes=dict(event.changes), details=dict(event.details))


def csv_row(event: AuditEventView) -> Sequence[CellValue]:
    """One row in CSV_COLUMNS order; `changes` and `details` as compact JSON."""
    return (event.ts, event.actor_type, event.actor_id, event.actor_name, event.action, event.outcome,
            event.target_type, event.target_id, event.request_id, event.ip, dict(event.changes),
            dict(event.details))
