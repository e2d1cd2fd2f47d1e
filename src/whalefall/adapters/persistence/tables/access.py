"""Tables of API tokens and browser sessions (api.md §4.6–4.7); secrets are stored only as SHA-256 digests."""

from sqlalchemy import Column, ForeignKey, Index, String, Table

from whalefall.adapters.persistence.tables import metadata
from whalefall.adapters.persistence.types import UtcDateTime, id_type, json_type

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("public_id", String(16), nullable=False, unique=True),
    Column("secret_digest", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("owner_id", id_type(), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_by", id_type(), ForeignKey("users.id", ondelete="SET NULL")),
    Column("scopes", json_type(), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)

browser_sessions = Table(
    "browser_sessions", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("user_id", id_type(), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("session_digest", String(64), nullable=False, unique=True),
    Column("csrf_token", String(64), nullable=False),
    Column("stamp_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("idle_expires_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("ended_at", UtcDateTime),
)
Index("ix_browser_sessions_user_live", browser_sessions.c.user_id, browser_sessions.c.ended_at)
