"""capacity ledger, samples, aggregations, table sizes (capacity.md §1.4-1.7)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

On PostgreSQL the four statistics tables are monthly RANGE-partitioned parents; the DEFAULT child, the current
month and `partitions.premake_months` (3) next months are created here so a fresh install can insert at once
(capacity.md §8.2, defect 19). "Today" is `config.attributes["today"]` when the caller passes one (tests with a
frozen clock), else the server's CURRENT_DATE; the daily maintenance corrects any time-zone edge, and rows landing
in DEFAULT meanwhile are moved into their month when it is created.
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import context, op

import whalefall.adapters.persistence.types
from whalefall.domain.partitions import PartitionedTable, PartitionPolicy, plan_partitions

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = whalefall.adapters.persistence.types.UtcDateTime(timezone=True)
_PERCENT = sa.Numeric(precision=12, scale=2)
_PREMAKE_MONTHS = 3
_PARTITIONED = {
    "database_size_samples": "collected_on",
    "instance_size_samples": "collected_on",
    "database_size_aggregations": "period_start",
    "instance_size_aggregations": "period_start",
}


def _instance_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], name=op.f(f"fk_{table}_instance_id_instances"),
                                   ondelete="CASCADE")


def _completeness() -> list[sa.Column[object]]:
    return [
        sa.Column("is_partial", sa.Boolean(), nullable=False),
        sa.Column("is_complete", sa.Boolean(), nullable=False),
        sa.Column("expected_days", sa.Integer(), nullable=False),
        sa.Column("covered_days", sa.Integer(), nullable=False),
        sa.Column("computed_at", _AT, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "instance_databases",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("instance_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("is_excluded", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("first_seen_on", sa.Date(), nullable=False),
        sa.Column("last_seen_on", sa.Date(), nullable=False),
        sa.Column("gone_since", sa.Date(), nullable=True),
        sa.Column("missing_since", sa.Date(), nullable=True),
        sa.Column("last_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("last_collected_on", sa.Date(), nullable=True),
        sa.Column("tables_truncated", sa.Boolean(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'gone')", name=op.f("ck_instance_databases_status")),
        _instance_fk("instance_databases"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_databases")),
        sa.UniqueConstraint("instance_id", "name", name=op.f("uq_instance_databases_instance_id_name")),
    )
    op.create_index("ix_instance_databases_status", "instance_databases", ["status", "instance_id"])

    op.create_table(
        "database_size_samples",
        sa.Column("instance_id", _ID, nullable=False),
        sa.Column("database_name", sa.String(length=512), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("collected_at", _AT, nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("data_bytes", sa.BigInteger(), nullable=True),
        sa.Column("log_bytes", sa.BigInteger(), nullable=True),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        _instance_fk("database_size_samples"),
        sa.PrimaryKeyConstraint("instance_id", "database_name", "collected_on", name=op.f("pk_database_size_samples")),
        postgresql_partition_by="RANGE (collected_on)",
    )
    op.create_index("ix_database_size_samples_collected_on", "database_size_samples", ["collected_on"])

    op.create_table(
        "instance_size_samples",
        sa.Column("instance_id", _ID, nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("collected_at", _AT, nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("data_bytes", sa.BigInteger(), nullable=True),
        sa.Column("log_bytes", sa.BigInteger(), nullable=True),
        sa.Column("database_count", sa.Integer(), nullable=False),
        sa.Column("missing_database_count", sa.Integer(), nullable=False),
        sa.Column("unattributed_bytes", sa.BigInteger(), nullable=True),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        _instance_fk("instance_size_samples"),
        sa.PrimaryKeyConstraint("instance_id", "collected_on", name=op.f("pk_instance_size_samples")),
        postgresql_partition_by="RANGE (collected_on)",
    )
    op.create_index("ix_instance_size_samples_collected_on", "instance_size_samples", ["collected_on"])

    op.create_table(
        "database_size_aggregations",
        sa.Column("instance_id", _ID, nullable=False),
        sa.Column("database_name", sa.String(length=512), nullable=False),
        sa.Column("period_type", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("first_sample_on", sa.Date(), nullable=False),
        sa.Column("last_sample_on", sa.Date(), nullable=False),
        sa.Column("avg_bytes", sa.BigInteger(), nullable=False),
        sa.Column("min_bytes", sa.BigInteger(), nullable=False),
        sa.Column("max_bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_bytes", sa.BigInteger(), nullable=False),
        sa.Column("avg_data_bytes", sa.BigInteger(), nullable=True),
        sa.Column("last_data_bytes", sa.BigInteger(), nullable=True),
        sa.Column("avg_log_bytes", sa.BigInteger(), nullable=True),
        sa.Column("last_log_bytes", sa.BigInteger(), nullable=True),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("prev_avg_bytes", sa.BigInteger(), nullable=True),
        sa.Column("change_bytes", sa.BigInteger(), nullable=True),
        sa.Column("change_percent", _PERCENT, nullable=True),
        sa.Column("trend", sa.String(length=16), nullable=False),
        *_completeness(),
        _instance_fk("database_size_aggregations"),
        sa.PrimaryKeyConstraint("instance_id", "database_name", "period_type", "period_start",
                                name=op.f("pk_database_size_aggregations")),
        postgresql_partition_by="RANGE (period_start)",
    )
    op.create_index("ix_database_size_aggregations_period", "database_size_aggregations",
                    ["period_type", "period_start"])
    op.create_index("ix_database_size_aggregations_instance_period", "database_size_aggregations",
                    ["instance_id", "period_type", "period_start"])
    op.create_index("ix_database_size_aggregations_period_trend", "database_size_aggregations",
                    ["period_type", "period_start", "trend"])

    op.create_table(
        "instance_size_aggregations",
        sa.Column("instance_id", _ID, nullable=False),
        sa.Column("period_type", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("first_sample_on", sa.Date(), nullable=False),
        sa.Column("last_sample_on", sa.Date(), nullable=False),
        sa.Column("avg_total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("min_total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("max_total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("avg_data_bytes", sa.BigInteger(), nullable=True),
        sa.Column("avg_log_bytes", sa.BigInteger(), nullable=True),
        sa.Column("avg_database_count", _PERCENT, nullable=False),
        sa.Column("min_database_count", sa.Integer(), nullable=False),
        sa.Column("max_database_count", sa.Integer(), nullable=False),
        sa.Column("last_database_count", sa.Integer(), nullable=False),
        sa.Column("prev_avg_total_bytes", sa.BigInteger(), nullable=True),
        sa.Column("change_bytes", sa.BigInteger(), nullable=True),
        sa.Column("change_percent", _PERCENT, nullable=True),
        sa.Column("trend", sa.String(length=16), nullable=False),
        sa.Column("prev_last_database_count", sa.Integer(), nullable=True),
        sa.Column("database_count_delta", sa.Integer(), nullable=True),
        *_completeness(),
        _instance_fk("instance_size_aggregations"),
        sa.PrimaryKeyConstraint("instance_id", "period_type", "period_start",
                                name=op.f("pk_instance_size_aggregations")),
        postgresql_partition_by="RANGE (period_start)",
    )
    op.create_index("ix_instance_size_aggregations_period", "instance_size_aggregations",
                    ["period_type", "period_start"])

    op.create_table(
        "table_size_snapshots",
        sa.Column("instance_id", _ID, nullable=False),
        sa.Column("database_name", sa.String(length=512), nullable=False),
        sa.Column("schema_name", sa.String(length=512), nullable=False),
        sa.Column("table_name", sa.String(length=512), nullable=False),
        sa.Column("collected_at", _AT, nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("data_bytes", sa.BigInteger(), nullable=True),
        sa.Column("index_bytes", sa.BigInteger(), nullable=True),
        sa.Column("row_estimate", sa.BigInteger(), nullable=True),
        _instance_fk("table_size_snapshots"),
        sa.PrimaryKeyConstraint("instance_id", "database_name", "schema_name", "table_name",
                                name=op.f("pk_table_size_snapshots")),
    )

    if op.get_bind().dialect.name == "postgresql":
        _create_initial_partitions()


def _create_initial_partitions() -> None:
    """DEFAULT + current month + premake months for every partitioned parent, from the planner's own plan."""
    bind = op.get_bind()
    quote = bind.dialect.identifier_preparer.quote
    today = context.config.attributes.get("today")
    if not isinstance(today, date):
        today = bind.execute(sa.text("SELECT CURRENT_DATE")).scalar_one()
    policy = PartitionPolicy(tables=tuple(PartitionedTable(name, 600) for name in _PARTITIONED),
                             premake_months=_PREMAKE_MONTHS)
    plan = plan_partitions((), today, policy)
    for table in plan.create_default:
        op.execute(f"CREATE TABLE IF NOT EXISTS {quote(table + '_default')} PARTITION OF {quote(table)} DEFAULT")
    for spec in plan.create:
        op.execute(f"CREATE TABLE IF NOT EXISTS {quote(spec.name)} PARTITION OF {quote(spec.table)} "
                   f"FOR VALUES FROM ('{spec.lower.isoformat()}') TO ('{spec.upper.isoformat()}')")


def downgrade() -> None:
    # Dropping a partitioned parent drops its children.
    op.drop_table("table_size_snapshots")
    op.drop_index("ix_instance_size_aggregations_period", table_name="instance_size_aggregations")
    op.drop_table("instance_size_aggregations")
    op.drop_index("ix_database_size_aggregations_period_trend", table_name="database_size_aggregations")
    op.drop_index("ix_database_size_aggregations_instance_period", table_name="database_size_aggregations")
    op.drop_index("ix_database_size_aggregations_period", table_name="database_size_aggregations")
    op.drop_table("database_size_aggregations")
    op.drop_index("ix_instance_size_samples_collected_on", table_name="instance_size_samples")
    op.drop_table("instance_size_samples")
    op.drop_index("ix_database_size_samples_collected_on", table_name="database_size_samples")
    op.drop_table("database_size_samples")
    op.drop_index("ix_instance_databases_status", table_name="instance_databases")
    op.drop_table("instance_databases")
