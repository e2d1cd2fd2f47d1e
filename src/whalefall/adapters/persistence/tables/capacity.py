"""Capacity tables: database ledger, daily samples, period aggregations, table sizes (capacity.md §1.4–1.7).

The four statistics tables are RANGE-partitioned by month on PostgreSQL (§8; keys and indexes on the parents,
children managed by the partition maintenance) and plain tables on SQLite.
"""

from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from whalefall.adapters.persistence.tables import metadata
from whalefall.adapters.persistence.types import UtcDateTime, id_type

NAME_LENGTH: Final = 512
PERCENT: Final = Numeric(12, 2)

#: Partitioned parent → partition key column (monthly RANGE on PostgreSQL).
PARTITION_KEYS: Final = {
    "database_size_samples": "collected_on",
    "instance_size_samples": "collected_on",
    "database_size_aggregations": "period_start",
    "instance_size_aggregations": "period_start",
}
SAMPLE_TABLES: Final = ("database_size_samples", "instance_size_samples")
AGGREGATION_TABLES: Final = ("database_size_aggregations", "instance_size_aggregations")


def _instance_fk() -> Column[Any]:
    return Column("instance_id", id_type(), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False)


instance_databases = Table(
    "instance_databases", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    _instance_fk(),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("is_system", Boolean, nullable=False, default=False),
    Column("is_excluded", Boolean, nullable=False, default=False),
    Column("status", String(8), nullable=False, default="active"),
    Column("first_seen_on", Date, nullable=False),
    Column("last_seen_on", Date, nullable=False),
    Column("gone_since", Date),
    # First business day a held (mass-deactivation guard) name was missing; NULL when seen or not held.
    Column("missing_since", Date),
    Column("last_size_bytes", BigInteger),
    Column("last_collected_on", Date),
    Column("tables_truncated", Boolean, nullable=False, default=False),
    UniqueConstraint("instance_id", "name"),
    CheckConstraint("status IN ('active', 'gone')", name="status"),
)
Index("ix_instance_databases_status", instance_databases.c.status, instance_databases.c.instance_id)

database_size_samples = Table(
    "database_size_samples", metadata,
    _instance_fk(),
    Column("database_name", String(NAME_LENGTH), nullable=False),
    Column("collected_on", Date, nullable=False),
    Column("collected_at", UtcDateTime, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("data_bytes", BigInteger),
    Column("log_bytes", BigInteger),
    Column("is_system", Boolean, nullable=False, default=False),
    Column("session_id", String(36)),
    PrimaryKeyConstraint("instance_id", "database_name", "collected_on"),
    postgresql_partition_by="RANGE (collected_on)",
)
Index("ix_database_size_samples_collected_on", database_size_samples.c.collected_on)

instance_size_samples = Table(
    "instance_size_samples", metadata,
    _instance_fk(),
    Column("collected_on", Date, nullable=False),
    Column("collected_at", UtcDateTime, nullable=False),
    Column("total_bytes", BigInteger, nullable=False),
    Column("data_bytes", BigInteger),
    Column("log_bytes", BigInteger),
    Column("database_count", Integer, nullable=False),
    Column("missing_database_count", Integer, nullable=False, default=0),
    Column("unattributed_bytes", BigInteger),
    Column("session_id", String(36)),
    PrimaryKeyConstraint("instance_id", "collected_on"),
    postgresql_partition_by="RANGE (collected_on)",
)
Index("ix_instance_size_samples_collected_on", instance_size_samples.c.collected_on)


def _completeness() -> list[Column[Any]]:
    return [
        Column("is_partial", Boolean, nullable=False),
        Column("is_complete", Boolean, nullable=False),
        Column("expected_days", Integer, nullable=False),
        Column("covered_days", Integer, nullable=False),
        Column("computed_at", UtcDateTime, nullable=False),
        Column("session_id", String(36)),
    ]


database_size_aggregations = Table(
    "database_size_aggregations", metadata,
    _instance_fk(),
    Column("database_name", String(NAME_LENGTH), nullable=False),
    Column("period_type", String(16), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("sample_count", Integer, nullable=False),
    Column("first_sample_on", Date, nullable=False),
    Column("last_sample_on", Date, nullable=False),
    Column("avg_bytes", BigInteger, nullable=False),
    Column("min_bytes", BigInteger, nullable=False),
    Column("max_bytes", BigInteger, nullable=False),
    Column("last_bytes", BigInteger, nullable=False),
    Column("avg_data_bytes", BigInteger),
    Column("last_data_bytes", BigInteger),
    Column("avg_log_bytes", BigInteger),
    Column("last_log_bytes", BigInteger),
    Column("is_system", Boolean, nullable=False),
    Column("prev_avg_bytes", BigInteger),
    Column("change_bytes", BigInteger),
    Column("change_percent", PERCENT),
    Column("trend", String(16), nullable=False),
    *_completeness(),
    PrimaryKeyConstraint("instance_id", "database_name", "period_type", "period_start"),
    postgresql_partition_by="RANGE (period_start)",
)
# No plain (period_type, period_start) index: the trend index below has the same leading columns (migration 0012).
Index("ix_database_size_aggregations_instance_period", database_size_aggregations.c.instance_id,
      database_size_aggregations.c.period_type, database_size_aggregations.c.period_start)
Index("ix_database_size_aggregations_period_trend", database_size_aggregations.c.period_type,
      database_size_aggregations.c.period_start, database_size_aggregations.c.trend)

instance_size_aggregations = Table(
    "instance_size_aggregations", metadata,
    _instance_fk(),
    Column("period_type", String(16), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("sample_count", Integer, nullable=False),
    Column("first_sample_on", Date, nullable=False),
    Column("last_sample_on", Date, nullable=False),
    Column("avg_total_bytes", BigInteger, nullable=False),
    Column("min_total_bytes", BigInteger, nullable=False),
    Column("max_total_bytes", BigInteger, nullable=False),
    Column("last_total_bytes", BigInteger, nullable=False),
    Column("avg_data_bytes", BigInteger),
    Column("avg_log_bytes", BigInteger),
    Column("avg_database_count", PERCENT, nullable=False),
    Column("min_database_count", Integer, nullable=False),
    Column("max_database_count", Integer, nullable=False),
    Column("last_database_count", Integer, nullable=False),
    Column("prev_avg_total_bytes", BigInteger),
    Column("change_bytes", BigInteger),
    Column("change_percent", PERCENT),
    Column("trend", String(16), nullable=False),
    Column("prev_last_database_count", Integer),
    Column("database_count_delta", Integer),
    *_completeness(),
    PrimaryKeyConstraint("instance_id", "period_type", "period_start"),
    postgresql_partition_by="RANGE (period_start)",
)
Index("ix_instance_size_aggregations_period", instance_size_aggregations.c.period_type,
      instance_size_aggregations.c.period_start)

table_size_snapshots = Table(
    "table_size_snapshots", metadata,
    _instance_fk(),
    Column("database_name", String(NAME_LENGTH), nullable=False),
    Column("schema_name", String(NAME_LENGTH), nullable=False),
    Column("table_name", String(NAME_LENGTH), nullable=False),
    Column("collected_at", UtcDateTime, nullable=False),
    Column("total_bytes", BigInteger, nullable=False),
    Column("data_bytes", BigInteger),
    Column("index_bytes", BigInteger),
    Column("row_estimate", BigInteger),
    PrimaryKeyConstraint("instance_id", "database_name", "schema_name", "table_name"),
)
