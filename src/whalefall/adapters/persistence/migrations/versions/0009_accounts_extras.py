"""accounts extras: per-instance account filter overrides and the `grants_stale` list index (accounts.md §3, §6.1)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

A new table (not columns on `instances`), so SQLite needs no table rebuild and the instance row, which every sync
locks, is not widened.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import whalefall.adapters.persistence.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instance_account_filters",
        sa.Column("instance_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("exclude", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                  nullable=False),
        sa.Column("exclude_oracle_maintained", sa.Boolean(), nullable=True),
        sa.Column("updated_at", whalefall.adapters.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_name", sa.String(length=150), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"],
                                name=op.f("fk_instance_account_filters_instance_id_instances"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id", name=op.f("pk_instance_account_filters")),
    )
    op.create_index("ix_principals_grants_stale", "principals", ["grants_stale", "instance_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_principals_grants_stale", table_name="principals")
    op.drop_table("instance_account_filters")
