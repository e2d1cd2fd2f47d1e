"""Tables of API tokens, browser sessions (api.md §4.6–4.7; secrets stored only as SHA-256 digests) and idempotency
keys (§1.14)."""

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table

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

#: One row per (principal, method, route, path parameters, key), stored as the SHA-256 `scope_digest`; the answer
#: is kept as sent (status, replayable headers, raw body) once the first request finished.
idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("scope_digest", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("principal", String(100), nullable=False),
    Column("method", String(10), nullable=False),
    Column("route", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("status_code", Integer),
    Column("response_headers", json_type()),
    Column("response_body", LargeBinary),
    Column("created_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)
