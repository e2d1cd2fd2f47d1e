"""The append-only audit trail (operations.md §6)."""

from sqlalchemy import Column, Index, String, Table

from whalefall.adapters.persistence.tables import metadata
from whalefall.adapters.persistence.types import UtcDateTime, id_type, json_type

audit_events = Table(
    "audit_events", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("ts", UtcDateTime, nullable=False, index=True),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", id_type()),
    Column("actor_name", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32)),
    Column("target_id", String(64)),
    Column("outcome", String(8), nullable=False),
    Column("request_id", String(128)),
    Column("ip", String(64)),
    Column("user_agent", String(512)),
    Column("changes", json_type(), nullable=False),
    Column("details", json_type(), nullable=False),
)
Index("ix_audit_events_action_ts", audit_events.c.action, audit_events.c.ts)
Index("ix_audit_events_target", audit_events.c.target_type, audit_events.c.target_id)
