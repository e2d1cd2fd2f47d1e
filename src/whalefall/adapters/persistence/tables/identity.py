"""Tables of the identity context: users, refresh tokens, revoked access tokens."""

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, func

from whalefall.adapters.persistence.tables import metadata
from whalefall.adapters.persistence.types import UtcDateTime, id_type

users = Table(
    "users", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("display_name", String(128)),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("must_change_password", Boolean, nullable=False, default=False),
    Column("security_stamp", String(64), nullable=False),
    Column("locked_until", UtcDateTime),
    Column("last_login_at", UtcDateTime),
    Column("password_changed_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime),
    Column("revision", Integer, nullable=False, default=1),
)
Index("uq_users_username_lower", func.lower(users.c.username), unique=True)

refresh_tokens = Table(
    "refresh_tokens", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("user_id", id_type(), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("family_id", String(64), nullable=False, index=True),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("family_expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)

revoked_access_tokens = Table(
    "revoked_access_tokens", metadata,
    Column("token_id", String(64), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)
