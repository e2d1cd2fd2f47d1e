"""session runtime: records that complete with per-item errors (`sync_records.error_items`)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22

A record may finish `completed` while reporting item errors (classification: accounts whose evaluation errored);
the count is kept on the record so that finalisation can tell a clean session from a `partial` one. Plain
ADD COLUMN on both dialects (no table rebuild on SQLite); `RecordFinish` rejects negative counts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not batch mode: SQLite's ADD COLUMN takes a NOT NULL column with a default, and a batch would reflect (and
    # warn about) the instances table's expression index through the foreign key.
    op.add_column("sync_records",
                  sa.Column("error_items", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    op.drop_column("sync_records", "error_items")  # SQLite >= 3.35 drops a plain column in place
