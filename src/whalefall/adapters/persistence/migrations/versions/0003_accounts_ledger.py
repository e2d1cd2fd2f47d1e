"""accounts grant ledger (accounts.md §6)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import whalefall.adapters.persistence.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind_class", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("namespace", sa.String(length=256), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("is_account", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("deactivation_reason", sa.String(length=16), nullable=True),
        sa.Column("current_state_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("state_hash", sa.String(length=64), nullable=True),
        sa.Column("last_changed_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("login_capable", sa.Boolean(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("superuser", sa.Boolean(), nullable=False),
        sa.Column("password_expired", sa.Boolean(), nullable=False),
        sa.Column("valid_until", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("grants_stale", sa.Boolean(), nullable=False),
        sa.Column(
            "attributes", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("roles", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_principals_instance_id_instances"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principals")),
    )
    op.create_index("ix_principals_account_key", "principals", ["is_account", "active", "key"], unique=False)
    op.create_index("ix_principals_first_seen_at", "principals", ["first_seen_at"], unique=False)
    op.create_index("ix_principals_kind", "principals", ["kind", "instance_id"], unique=False)
    op.create_index("ix_principals_last_changed_at", "principals", ["last_changed_at"], unique=False)
    op.create_index("ix_principals_locked", "principals", ["locked", "instance_id"], unique=False)
    op.create_index("ix_principals_login_capable", "principals", ["login_capable", "instance_id"], unique=False)
    op.create_index("ix_principals_superuser", "principals", ["superuser", "instance_id"], unique=False)
    op.create_index(
        "uq_principals_identity", "principals", ["instance_id", "kind_class", "namespace", "key"], unique=True
    )
    op.create_table(
        "principal_state_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("principal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("state", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("valid_from", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("sync_record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_principal_state_versions_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_principal_state_versions_principal_id_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principal_state_versions")),
    )
    op.create_index(
        "ix_principal_state_versions_instance_from",
        "principal_state_versions",
        ["instance_id", "valid_from"],
        unique=False,
    )
    op.create_index(
        "ix_principal_state_versions_principal_from",
        "principal_state_versions",
        ["principal_id", "valid_from"],
        unique=False,
    )
    op.create_index(
        "uq_principal_state_versions_current",
        "principal_state_versions",
        ["principal_id"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
        sqlite_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "grant_intervals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("principal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("privilege", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("object", sa.Text(), nullable=False),
        sa.Column("object_path", sa.Text(), nullable=False),
        sa.Column("object_kind", sa.String(length=64), nullable=True),
        sa.Column("effect", sa.String(length=8), nullable=False),
        sa.Column("grant_option", sa.Boolean(), nullable=False),
        sa.Column("implicit", sa.Boolean(), nullable=False),
        sa.Column("pattern", sa.Boolean(), nullable=False),
        sa.Column("grantor", sa.String(length=512), nullable=True),
        sa.Column("valid_from", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_grant_intervals_instance_id_instances"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_grant_intervals_principal_id_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_intervals")),
    )
    op.create_index(
        "ix_grant_intervals_holders",
        "grant_intervals",
        ["privilege", "scope", "instance_id", "valid_from"],
        unique=False,
    )
    op.create_index("ix_grant_intervals_principal_open", "grant_intervals", ["principal_id", "valid_to"], unique=False)
    op.create_table(
        "membership_intervals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role_kind", sa.String(length=16), nullable=False),
        sa.Column("role_namespace", sa.String(length=256), nullable=False),
        sa.Column("role_key", sa.String(length=512), nullable=False),
        sa.Column("admin_option", sa.Boolean(), nullable=False),
        sa.Column("inherit", sa.Boolean(), nullable=False),
        sa.Column("set_option", sa.Boolean(), nullable=False),
        sa.Column("default_role", sa.Boolean(), nullable=True),
        sa.Column("delegate_option", sa.Boolean(), nullable=False),
        sa.Column("implicit", sa.Boolean(), nullable=False),
        sa.Column("valid_from", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_membership_intervals_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["principals.id"],
            name=op.f("fk_membership_intervals_member_id_principals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["principals.id"], name=op.f("fk_membership_intervals_role_id_principals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_intervals")),
    )
    op.create_index(
        "ix_membership_intervals_member_open", "membership_intervals", ["member_id", "valid_to"], unique=False
    )
    op.create_index("ix_membership_intervals_role", "membership_intervals", ["role_id", "valid_from"], unique=False)
    op.create_table(
        "principal_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("principal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("observed_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("sync_record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("diff_version", sa.Integer(), nullable=False),
        sa.Column("diff", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_principal_changes_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_principal_changes_principal_id_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principal_changes")),
    )
    op.create_index("ix_principal_changes_instance", "principal_changes", ["instance_id", "observed_at"], unique=False)
    op.create_index("ix_principal_changes_observed_at", "principal_changes", ["observed_at", "id"], unique=False)
    op.create_index(
        "ix_principal_changes_principal", "principal_changes", ["principal_id", "observed_at"], unique=False
    )
    op.create_index("ix_principal_changes_session", "principal_changes", ["session_id"], unique=False)
    op.create_table(
        "snapshot_settings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "settings", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("settings_hash", sa.String(length=64), nullable=False),
        sa.Column("valid_from", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_snapshot_settings_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot_settings")),
    )
    op.create_index("ix_snapshot_settings_instance", "snapshot_settings", ["instance_id", "valid_from"], unique=False)
    op.create_table(
        "instance_account_sync_state",
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "coverage_gaps",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("updated_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_instance_account_sync_state_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instance_id", name=op.f("pk_instance_account_sync_state")),
    )


def downgrade() -> None:
    """Indexes go with their tables."""
    op.drop_table("instance_account_sync_state")
    op.drop_table("snapshot_settings")
    op.drop_table("principal_changes")
    op.drop_table("membership_intervals")
    op.drop_table("grant_intervals")
    op.drop_table("principal_state_versions")
    op.drop_table("principals")
