"""Ports of API tokens and browser sessions (api.md §4.6–4.7): stored as digests, never as plaintext."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.identity.roles import Permission
from whalefall.domain.identity.users import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiTokenRecord:
    """A stored API token; `secret_digest` is the SHA-256 hex of the secret part, never shown."""

    id: int
    public_id: str
    secret_digest: str
    name: str
    owner_id: UserId
    owner_username: str
    created_by: UserId | None
    scopes: frozenset[Permission]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def prefix(self) -> str:
        return f"wf_{self.public_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiTokenQuery:
    """`owner_id` None = every owner; revoked tokens only with `include_revoked`."""

    owner_id: UserId | None = None
    include_revoked: bool = False


class ApiTokenRepository(Protocol):
    """API tokens of users; revocation and expiry are columns, rows are never deleted by the API."""

    @abstractmethod
    async def add(self, *, public_id: str, secret_digest: str, name: str, owner_id: UserId, created_by: UserId | None,
                  scopes: frozenset[Permission], created_at: datetime, expires_at: datetime) -> int:
        """Insert a token and return its id."""

    @abstractmethod
    async def get(self, token_id: int) -> ApiTokenRecord | None: ...

    @abstractmethod
    async def get_by_public_id(self, public_id: str) -> ApiTokenRecord | None: ...

    @abstractmethod
    async def list_page(self, query: ApiTokenQuery, page: PageRequest) -> Page[ApiTokenRecord]:
        """Sortable by `created_at`, `last_used_at`, `expires_at`."""

    @abstractmethod
    async def revoke(self, token_id: int, *, at: datetime) -> None:
        """Set `revoked_at` unless already set."""

    @abstractmethod
    async def touch(self, token_id: int, *, at: datetime, min_interval_s: int) -> bool:
        """Set `last_used_at = at` only when it is null or older than `min_interval_s` (conditional update);
        True when a row was written."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BrowserSessionRecord:
    """A server-side browser session (§4.7); the session id is stored only as its SHA-256 digest. The CSRF
    token is kept as sent (it is returned to its own session by GET /auth/me)."""

    id: int
    user_id: UserId
    session_digest: str
    csrf_token: str
    stamp_hash: str
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    expires_at: datetime
    ended_at: datetime | None


class BrowserSessionRepository(Protocol):
    """Browser sessions in the metadata store (works in every mode)."""

    @abstractmethod
    async def add(self, *, user_id: UserId, session_digest: str, csrf_token: str, stamp_hash: str,
                  created_at: datetime, idle_expires_at: datetime, expires_at: datetime) -> int: ...

    @abstractmethod
    async def get_by_digest(self, session_digest: str) -> BrowserSessionRecord | None: ...

    @abstractmethod
    async def extend(self, session_id: int, *, seen_at: datetime, idle_expires_at: datetime) -> None:
        """Record activity: `last_seen_at` and the new idle expiry (never past the absolute expiry)."""

    @abstractmethod
    async def end(self, session_id: int, *, at: datetime) -> None:
        """Set `ended_at` unless already set."""

    @abstractmethod
    async def end_for_user(self, user_id: UserId, *, at: datetime) -> int:
        """End every live session of the user; returns how many were ended."""

    @abstractmethod
    async def count_live(self, user_id: UserId, *, stamp_hash: str, at: datetime) -> int:
        """Sessions of the user that still work at `at`: not ended, neither idle nor absolutely expired, and
        issued under the security stamp whose hash is `stamp_hash`."""
