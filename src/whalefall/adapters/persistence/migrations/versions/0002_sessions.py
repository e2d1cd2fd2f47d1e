"""sync sessions and records (operations.md §1.2)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import whalefall.adapters.persistence.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_sessions",
        sa.Column("id", sa.Uuid(as_uuid=False).with_variant(sa.String(length=36), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column(
            "pipeline_run_id", sa.Uuid(as_uuid=False).with_variant(sa.String(length=36), "sqlite"), nullable=True
        ),
        sa.Column("step_name", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("origin_request_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "cancel_requested_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("cancel_requested_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("params", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column(
            "summary", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("pending", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("running", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("succeeded", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("skipped", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("cancelled", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('accounts_sync', 'capacity_collection', 'table_sizes', 'capacity_aggregation', 'classification', "
            "'partition_maintenance', 'retention_cleanup', 'connection_test', 'credential_rotation')",
            name=op.f("ck_sync_sessions_kind"),
        ),
        sa.CheckConstraint("scope IN ('fleet', 'targeted')", name=op.f("ck_sync_sessions_scope")),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'partial', 'failed', 'cancelled')", name=op.f("ck_sync_sessions_status")
        ),
        sa.CheckConstraint("trigger IN ('scheduled', 'manual', 'pipeline')", name=op.f("ck_sync_sessions_trigger")),
        sa.ForeignKeyConstraint(
            ["cancel_requested_by"],
            ["users.id"],
            name=op.f("fk_sync_sessions_cancel_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_sync_sessions_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_sessions")),
    )
    op.create_index("ix_sync_sessions_job_id_created_at", "sync_sessions", ["job_id", "created_at"], unique=False)
    op.create_index("ix_sync_sessions_kind_created_at", "sync_sessions", ["kind", "created_at"], unique=False)
    op.create_index("ix_sync_sessions_pipeline_run_id", "sync_sessions", ["pipeline_run_id"], unique=False)
    op.create_index("ix_sync_sessions_status", "sync_sessions", ["status"], unique=False)
    op.create_index(
        "uq_sync_sessions_fleet_running",
        "sync_sessions",
        ["kind"],
        unique=True,
        postgresql_where=sa.text("status = 'running' AND scope = 'fleet'"),
        sqlite_where=sa.text("status = 'running' AND scope = 'fleet'"),
    )
    op.create_table(
        "sync_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Uuid(as_uuid=False).with_variant(sa.String(length=36), "sqlite"), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_key", sa.String(length=255), nullable=False),
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("instance_name", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("dispatch_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_dispatched_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("started_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_class", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column(
            "counters", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "warnings", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed', 'skipped', 'cancelled')",
            name=op.f("ck_sync_records_status"),
        ),
        sa.CheckConstraint("attempt >= 0 AND dispatch_count >= 0", name=op.f("ck_sync_records_counts")),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_sync_records_instance_id_instances"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sync_sessions.id"],
            name=op.f("fk_sync_records_session_id_sync_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_records")),
        sa.UniqueConstraint("session_id", "item_type", "item_key", name=op.f("uq_sync_records_item")),
    )
    op.create_index(
        "ix_sync_records_instance_id_finished_at", "sync_records", ["instance_id", "finished_at"], unique=False
    )
    op.create_index("ix_sync_records_session_id_status", "sync_records", ["session_id", "status"], unique=False)
    op.create_index(
        "ix_sync_records_status_lease_expires_at", "sync_records", ["status", "lease_expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sync_records_status_lease_expires_at", table_name="sync_records")
    op.drop_index("ix_sync_records_session_id_status", table_name="sync_records")
    op.drop_index("ix_sync_records_instance_id_finished_at", table_name="sync_records")
    op.drop_table("sync_records")
    op.drop_index(
        "uq_sync_sessions_fleet_running",
        table_name="sync_sessions",
        postgresql_where=sa.text("status = 'running' AND scope = 'fleet'"),
        sqlite_where=sa.text("status = 'running' AND scope = 'fleet'"),
    )
    op.drop_index("ix_sync_sessions_status", table_name="sync_sessions")
    op.drop_index("ix_sync_sessions_pipeline_run_id", table_name="sync_sessions")
    op.drop_index("ix_sync_sessions_kind_created_at", table_name="sync_sessions")
    op.drop_index("ix_sync_sessions_job_id_created_at", table_name="sync_sessions")
    op.drop_table("sync_sessions")
