"""Tables of the instances context: credentials, instances, tags, instance_tags (capacity.md §1.1–1.3)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
)

from whalefall.adapters.persistence.tables import metadata
from whalefall.adapters.persistence.types import UtcDateTime, id_type

credentials = Table(
    "credentials", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("username", String(256), nullable=False),
    Column("db_type", String(16)),
    Column("auth_method", String(16), nullable=False, default="password"),
    Column("description", Text),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("key_id", String(64), nullable=False, index=True),
    Column("secret_updated_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", id_type()),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", id_type()),
    Column("revision", Integer, nullable=False, default=1),
    CheckConstraint("auth_method IN ('password', 'windows')", name="auth_method"),
)
Index("uq_credentials_name_lower", func.lower(credentials.c.name), unique=True)

instances = Table(
    "instances", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("db_type", String(16), nullable=False),
    Column("host", String(253), nullable=False),
    Column("port", Integer, nullable=False),
    Column("database_name", String(128)),
    # upper(database_name) for Oracle, '' otherwise: the last part of the endpoint uniqueness key.
    Column("endpoint_database", String(128), nullable=False, default=""),
    Column("credential_id", id_type(), ForeignKey("credentials.id", ondelete="RESTRICT"), index=True),
    Column("description", Text),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("capacity_limit_bytes", BigInteger),
    Column("collect_table_sizes", Boolean, nullable=False, default=False),
    Column("flavor", String(16)),
    Column("version_raw", Text),
    Column("version", String(32)),
    Column("version_major", Integer),
    Column("version_minor", Integer),
    Column("edition", String(128)),
    Column("last_contact_at", UtcDateTime),
    Column("last_contact_ok", Boolean),
    Column("last_contact_error_code", String(64)),
    Column("last_success_at", UtcDateTime),
    Column("accounts_synced_at", UtcDateTime),
    Column("last_capacity_collected_on", Date),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", id_type()),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", id_type()),
    Column("deleted_at", UtcDateTime),
    Column("deleted_by", id_type()),
    Column("revision", Integer, nullable=False, default=1),
    CheckConstraint("db_type IN ('mysql', 'postgresql', 'sqlserver', 'oracle')", name="db_type"),
    CheckConstraint("port BETWEEN 1 AND 65535", name="port"),
)
Index("uq_instances_live_name", func.lower(instances.c.name), unique=True,
      postgresql_where=instances.c.deleted_at.is_(None), sqlite_where=instances.c.deleted_at.is_(None))
Index("uq_instances_live_endpoint", instances.c.db_type, func.lower(instances.c.host), instances.c.port,
      instances.c.endpoint_database, unique=True,
      postgresql_where=instances.c.deleted_at.is_(None), sqlite_where=instances.c.deleted_at.is_(None))

tags = Table(
    "tags", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("display_name", String(128), nullable=False),
    Column("category", String(64), nullable=False, index=True),
    Column("description", Text),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("revision", Integer, nullable=False, default=1),
)
Index("uq_tags_name_lower", func.lower(tags.c.name), unique=True)

instance_tags = Table(
    "instance_tags", metadata,
    Column("instance_id", id_type(), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("tag_id", id_type(), ForeignKey("tags.id", ondelete="RESTRICT"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", id_type()),
    PrimaryKeyConstraint("instance_id", "tag_id"),
)
