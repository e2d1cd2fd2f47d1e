"""Idempotency keys (api.md §1.14)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22

One row per key scope (SHA-256 of principal, method, route, path parameters and key): the request fingerprint,
the claim state and, once finished, the stored answer. `expires_at` is indexed for the retention purge.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import whalefall.adapters.persistence.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    utc = whalefall.adapters.persistence.types.UtcDateTime
    op.create_table(
        "idempotency_keys",
        sa.Column("scope_digest", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("principal", sa.String(length=100), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("route", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_headers", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                  nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("locked_until", utc(), nullable=False),
        sa.Column("completed_at", utc(), nullable=True),
        sa.Column("expires_at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("scope_digest", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
