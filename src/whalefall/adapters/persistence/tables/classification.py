"""Tables of the classification context: classifications, rules and their revisions, assignments with their
history, per-account evaluation errors and the `rules_revision` counter (classification.md §8, §9, §11).

Storage decisions where the spec is silent:
- Assignment, history and error rows carry `instance_id` and `db_type` copied from the account, so one record's
  replaced set (engine E, instances S) is selected and locked without joining the ledger.
- `account_id` references the ledger's `principals` (cascade: purging an instance purges its assignments); rule and
  classification references do not cascade (soft-deleted rules keep their history).
- Unique name and unique fingerprint are partial unique indexes, so the database refuses duplicates even when two
  writers race past the application's check.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from whalefall.adapters.persistence.tables import metadata
from whalefall.adapters.persistence.types import UtcDateTime, id_type, json_type

classifications = Table(
    "classifications", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("code", String(100), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("display_name_key", String(100), nullable=False),
    Column("description", Text),
    Column("risk_level", Integer, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("icon", String(64), nullable=False),
    Column("is_system", Boolean, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("revision", Integer, nullable=False),
    UniqueConstraint("code"),
    UniqueConstraint("display_name_key"),
)

rules = Table(
    "rules", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("classification_id", id_type(), ForeignKey("classifications.id"), nullable=False),
    Column("db_type", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text),
    Column("is_active", Boolean, nullable=False),
    Column("rule_revision", Integer, nullable=False),
    Column("expression", json_type(), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("warnings", json_type(), nullable=False),
    Column("created_by", id_type()),
    Column("created_by_name", String(150)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime),
    Column("revision", Integer, nullable=False),
)
Index("uq_rules_name_live", rules.c.classification_id, rules.c.db_type, rules.c.name, unique=True,
      postgresql_where=rules.c.deleted_at.is_(None), sqlite_where=rules.c.deleted_at.is_(None))
Index("uq_rules_fingerprint_live", rules.c.classification_id, rules.c.db_type, rules.c.fingerprint, unique=True,
      postgresql_where=rules.c.deleted_at.is_(None) & rules.c.is_active,
      sqlite_where=rules.c.deleted_at.is_(None) & rules.c.is_active)
Index("ix_rules_db_type", rules.c.db_type, rules.c.is_active)

rule_revisions = Table(
    "rule_revisions", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("rule_id", id_type(), ForeignKey("rules.id"), nullable=False),
    Column("rule_revision", Integer, nullable=False),
    Column("expression", json_type(), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_by", id_type()),
    Column("created_by_name", String(150)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("superseded_at", UtcDateTime),
    UniqueConstraint("rule_id", "rule_revision"),
)

classification_assignments = Table(
    "classification_assignments", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("account_id", id_type(), ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("classification_id", id_type(), ForeignKey("classifications.id"), nullable=False),
    Column("source", String(8), nullable=False),
    Column("instance_id", id_type(), nullable=False),
    Column("db_type", String(16), nullable=False),
    Column("rule_id", id_type()),
    Column("rule_revision", Integer),
    Column("matched_rules", json_type(), nullable=False),
    Column("is_primary", Boolean, nullable=False),
    Column("assigned_at", UtcDateTime, nullable=False),
    Column("session_id", String(36)),
    Column("explanation_ref", json_type()),
    Column("assigned_by", id_type()),
    Column("assigned_by_name", String(150)),
    Column("note", Text),
    UniqueConstraint("account_id", "classification_id", "source"),
)
Index("ix_classification_assignments_scope", classification_assignments.c.db_type,
      classification_assignments.c.instance_id, classification_assignments.c.source)
Index("ix_classification_assignments_classification", classification_assignments.c.classification_id)

assignment_history = Table(
    "assignment_history", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("account_id", id_type(), ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("classification_id", id_type(), ForeignKey("classifications.id"), nullable=False),
    Column("source", String(8), nullable=False),
    Column("instance_id", id_type(), nullable=False),
    Column("db_type", String(16), nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime),
    Column("rule_ids", json_type(), nullable=False),
)
Index("ix_assignment_history_pair", assignment_history.c.account_id, assignment_history.c.classification_id,
      assignment_history.c.source, assignment_history.c.valid_to)
Index("ix_assignment_history_period", assignment_history.c.classification_id, assignment_history.c.valid_from)

classification_errors = Table(
    "classification_errors", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("account_id", id_type(), ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("instance_id", id_type(), nullable=False),
    Column("db_type", String(16), nullable=False),
    Column("rule_id", id_type()),
    Column("rule_revision", Integer),
    Column("session_id", String(36), nullable=False),
    Column("code", String(64), nullable=False),
    Column("path", String(512), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
Index("ix_classification_errors_scope", classification_errors.c.db_type, classification_errors.c.instance_id)
Index("ix_classification_errors_account", classification_errors.c.account_id)

# One row per counter; `rules_revision` is incremented in the transaction of every classification or rule write.
classification_counters = Table(
    "classification_counters", metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
