"""Tables of the accounts context: principals, the durable grant ledger and the change log (accounts.md §6.1).

Storage decisions where the spec is silent:
- `principals` carries denormalised copies of the current state (`attributes`, direct `roles`, the list-filter flags
  and `last_changed_at` = `valid_from` of the current version) so `/accounts` never reads state documents; they are
  rewritten only when the state changes (the zero-write rule).
- Interval and change rows carry `instance_id` too, so fleet queries need no join; every FK to `instances` and
  `principals` cascades (purging an instance purges its ledger).
- `sync_record_id` / `session_id` are plain columns, not FKs: the change log and the ledger outlive session retention.
- Membership flags are columns; `set` and `default` are SQL keywords, hence `set_option` and `default_role`.
"""

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, text

from whalefall.adapters.persistence.tables import metadata
from whalefall.adapters.persistence.types import UtcDateTime, id_type, json_type

principals = Table(
    "principals", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("instance_id", id_type(), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("kind_class", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("namespace", String(256), nullable=False, default=""),
    Column("key", String(512), nullable=False),
    Column("is_account", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("deactivated_at", UtcDateTime),
    Column("deactivation_reason", String(16)),
    Column("current_state_version_id", id_type()),
    Column("state_hash", String(64)),
    Column("last_changed_at", UtcDateTime),
    Column("login_capable", Boolean, nullable=False, default=False),
    Column("locked", Boolean, nullable=False, default=False),
    Column("superuser", Boolean, nullable=False, default=False),
    Column("password_expired", Boolean, nullable=False, default=False),
    Column("valid_until", UtcDateTime),
    Column("grants_stale", Boolean, nullable=False, default=False),
    Column("attributes", json_type(), nullable=False),
    Column("roles", json_type(), nullable=False),
)
Index("uq_principals_identity", principals.c.instance_id, principals.c.kind_class, principals.c.namespace,
      principals.c.key, unique=True)
# Backing indexes of the /accounts filters and sorts (api.md §3.8).
Index("ix_principals_account_key", principals.c.is_account, principals.c.active, principals.c.key)
Index("ix_principals_kind", principals.c.kind, principals.c.instance_id)
Index("ix_principals_locked", principals.c.locked, principals.c.instance_id)
Index("ix_principals_superuser", principals.c.superuser, principals.c.instance_id)
Index("ix_principals_login_capable", principals.c.login_capable, principals.c.instance_id)
Index("ix_principals_last_changed_at", principals.c.last_changed_at)
Index("ix_principals_first_seen_at", principals.c.first_seen_at)
Index("ix_principals_grants_stale", principals.c.grants_stale, principals.c.instance_id)

principal_state_versions = Table(
    "principal_state_versions", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("principal_id", id_type(), ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("instance_id", id_type(), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("state", json_type(), nullable=False),
    Column("state_hash", String(64), nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime),
    Column("sync_record_id", id_type()),
    Column("session_id", String(36)),
)
Index("uq_principal_state_versions_current", principal_state_versions.c.principal_id, unique=True,
      postgresql_where=principal_state_versions.c.valid_to.is_(None),
      sqlite_where=principal_state_versions.c.valid_to.is_(None))
Index("ix_principal_state_versions_principal_from", principal_state_versions.c.principal_id,
      principal_state_versions.c.valid_from)
Index("ix_principal_state_versions_instance_from", principal_state_versions.c.instance_id,
      principal_state_versions.c.valid_from)

grant_intervals = Table(
    "grant_intervals", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("principal_id", id_type(), ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("instance_id", id_type(), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("privilege", String(128), nullable=False),
    Column("scope", String(16), nullable=False),
    # Canonical encoding of the object tuple: compact JSON array text (exact, order-preserving).
    Column("object", Text, nullable=False),
    Column("object_path", Text, nullable=False),
    Column("object_kind", String(64)),
    Column("effect", String(8), nullable=False),
    Column("grant_option", Boolean, nullable=False),
    Column("implicit", Boolean, nullable=False),
    Column("pattern", Boolean, nullable=False, default=False),
    Column("grantor", String(512)),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime),
)
Index("ix_grant_intervals_principal_open", grant_intervals.c.principal_id, grant_intervals.c.valid_to)
Index("ix_grant_intervals_holders", grant_intervals.c.privilege, grant_intervals.c.scope,
      grant_intervals.c.instance_id, grant_intervals.c.valid_from)

membership_intervals = Table(
    "membership_intervals", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("member_id", id_type(), ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("role_id", id_type(), ForeignKey("principals.id", ondelete="CASCADE")),
    Column("instance_id", id_type(), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("role_kind", String(16), nullable=False),
    Column("role_namespace", String(256), nullable=False),
    Column("role_key", String(512), nullable=False),
    Column("admin_option", Boolean, nullable=False),
    Column("inherit", Boolean, nullable=False),
    Column("set_option", Boolean, nullable=False),
    Column("default_role", Boolean),
    Column("delegate_option", Boolean, nullable=False),
    Column("implicit", Boolean, nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime),
)
Index("ix_membership_intervals_member_open", membership_intervals.c.member_id, membership_intervals.c.valid_to)
Index("ix_membership_intervals_role", membership_intervals.c.role_id, membership_intervals.c.valid_from)

principal_changes = Table(
    "principal_changes", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("instance_id", id_type(), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("principal_id", id_type(), ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("session_id", String(36), nullable=False),
    Column("sync_record_id", id_type(), nullable=False),
    Column("diff_version", Integer, nullable=False, default=1),
    Column("diff", json_type(), nullable=False),
    Column("summary", Text, nullable=False),
)
Index("ix_principal_changes_observed_at", principal_changes.c.observed_at, principal_changes.c.id)
Index("ix_principal_changes_instance", principal_changes.c.instance_id, principal_changes.c.observed_at)
Index("ix_principal_changes_principal", principal_changes.c.principal_id, principal_changes.c.observed_at)
Index("ix_principal_changes_session", principal_changes.c.session_id)

snapshot_settings = Table(
    "snapshot_settings", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("instance_id", id_type(), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("settings", json_type(), nullable=False),
    Column("settings_hash", String(64), nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime),
)
Index("ix_snapshot_settings_instance", snapshot_settings.c.instance_id, snapshot_settings.c.valid_from)

# One row per instance, written only when the coverage of its last sync changed (never on an unchanged re-sync).
instance_account_sync_state = Table(
    "instance_account_sync_state", metadata,
    Column("instance_id", id_type(), ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True),
    Column("coverage_gaps", json_type(), nullable=False, server_default=text("'[]'")),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Per-instance override of `accounts.filters.<engine>` (accounts.md §3); no row = the settings apply.
# `exclude_oracle_maintained` null = the engine's setting/default.
instance_account_filters = Table(
    "instance_account_filters", metadata,
    Column("instance_id", id_type(), ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True),
    Column("exclude", json_type(), nullable=False),
    Column("exclude_oracle_maintained", Boolean),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by_name", String(150)),
)
