"""Tables of the sessions context: sync_sessions and sync_records (operations.md §1.2), one model for all work."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.types import TypeEngine

from whalefall.adapters.persistence.tables import metadata
from whalefall.adapters.persistence.types import UtcDateTime, id_type, json_type
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger


def _one_of(column: str, values: type[RecordStatus | SessionStatus | SessionKind | SessionScope | SessionTrigger]
            ) -> str:
    # Every value is enumerated so that no status can be missing from the constraint (operations defect 7).
    return f"{column} IN ({', '.join(repr(str(v.value)) for v in values)})"


def uuid_type() -> TypeEngine[str]:
    """Native uuid on PostgreSQL; the canonical 36-character text on SQLite (readable in plain SQL there too)."""
    return Uuid(as_uuid=False).with_variant(String(36), "sqlite")


sync_sessions = Table(
    "sync_sessions", metadata,
    Column("id", uuid_type(), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("job_id", String(64)),
    Column("pipeline_run_id", uuid_type()),
    Column("step_name", String(64)),
    Column("created_by", id_type(), ForeignKey("users.id", ondelete="SET NULL")),
    Column("origin_request_id", String(128)),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("cancel_requested_at", UtcDateTime),
    Column("cancel_requested_by", id_type(), ForeignKey("users.id", ondelete="SET NULL")),
    Column("params", json_type(), nullable=False),
    Column("summary", json_type(), nullable=False),
    Column("total", Integer, nullable=False, server_default=text("0")),
    Column("pending", Integer, nullable=False, server_default=text("0")),
    Column("running", Integer, nullable=False, server_default=text("0")),
    Column("succeeded", Integer, nullable=False, server_default=text("0")),
    Column("failed", Integer, nullable=False, server_default=text("0")),
    Column("skipped", Integer, nullable=False, server_default=text("0")),
    Column("cancelled", Integer, nullable=False, server_default=text("0")),
    Column("error_code", String(64)),
    Column("error_message", Text),
    CheckConstraint(_one_of("kind", SessionKind), name="kind"),
    CheckConstraint(_one_of("scope", SessionScope), name="scope"),
    CheckConstraint(_one_of("trigger", SessionTrigger), name="trigger"),
    CheckConstraint(_one_of("status", SessionStatus), name="status"),
)
Index("ix_sync_sessions_kind_created_at", sync_sessions.c.kind, sync_sessions.c.created_at)
Index("ix_sync_sessions_status", sync_sessions.c.status)
Index("ix_sync_sessions_job_id_created_at", sync_sessions.c.job_id, sync_sessions.c.created_at)
Index("ix_sync_sessions_pipeline_run_id", sync_sessions.c.pipeline_run_id)
_FLEET_RUNNING = text("status = 'running' AND scope = 'fleet'")
# The fleet lock (operations §1.1): at most one running fleet session per kind, on both dialects.
Index("uq_sync_sessions_fleet_running", sync_sessions.c.kind, unique=True,
      postgresql_where=_FLEET_RUNNING, sqlite_where=_FLEET_RUNNING)

sync_records = Table(
    "sync_records", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("session_id", uuid_type(), ForeignKey("sync_sessions.id", ondelete="CASCADE"), nullable=False),
    Column("item_type", String(16), nullable=False),
    Column("item_key", String(255), nullable=False),
    Column("instance_id", id_type(), ForeignKey("instances.id", ondelete="SET NULL")),
    Column("instance_name", String(128)),
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False, server_default=text("0")),
    Column("lease_owner", String(255)),
    Column("lease_expires_at", UtcDateTime),
    Column("heartbeat_at", UtcDateTime),
    Column("dispatch_count", Integer, nullable=False, server_default=text("0")),
    Column("last_dispatched_at", UtcDateTime),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("error_code", String(64)),
    Column("error_class", String(32)),
    Column("error_message", Text),
    # Item errors of a record that still completed (classification: accounts whose evaluation errored); > 0 makes
    # the session `partial` (revision 0011).
    Column("error_items", Integer, nullable=False, server_default=text("0")),
    Column("counters", json_type(), nullable=False),
    Column("warnings", json_type(), nullable=False),
    Column("details", json_type(), nullable=False),
    UniqueConstraint("session_id", "item_type", "item_key", name="uq_sync_records_item"),
    CheckConstraint(_one_of("status", RecordStatus), name="status"),
    CheckConstraint("attempt >= 0 AND dispatch_count >= 0", name="counts"),
)
Index("ix_sync_records_session_id_status", sync_records.c.session_id, sync_records.c.status)
Index("ix_sync_records_status_lease_expires_at", sync_records.c.status, sync_records.c.lease_expires_at)
Index("ix_sync_records_instance_id_finished_at", sync_records.c.instance_id, sync_records.c.finished_at)
