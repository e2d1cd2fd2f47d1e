"""Ports of the identity context: users, refresh-token families and the access-token deny-list."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.identity.roles import Role
from whalefall.domain.identity.users import User, UserId


class UsernameTakenError(Exception):
    """Raised by the store when the case-insensitive username is taken (deleted users keep theirs)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserQuery:
    q: str | None = None
    roles: frozenset[Role] = frozenset()
    is_active: bool | None = None
    include_deleted: bool = False


class UserRepository(Protocol):
    """Users; reads include soft-deleted rows unless filtered."""

    @abstractmethod
    async def add(self, values: Mapping[str, object], *, at: datetime) -> UserId:
        """Insert (revision 1); raises whalefall.domain.errors.AlreadyExistsError when the username is taken."""

    @abstractmethod
    async def get(self, user_id: UserId) -> User | None: ...

    @abstractmethod
    async def get_by_username(self, username: str) -> User | None:
        """Case-insensitive lookup."""

    @abstractmethod
    async def update(self, user_id: UserId, values: Mapping[str, object], *, at: datetime) -> None:
        """Set columns, `updated_at` and increment `revision`."""

    @abstractmethod
    async def list_page(self, query: UserQuery, page: PageRequest) -> Page[User]: ...

    @abstractmethod
    async def lock_active_admins(self) -> frozenset[UserId]:
        """Ids of active, non-deleted admins, locked for the rest of the transaction (FOR UPDATE)."""

    @abstractmethod
    async def count(self) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshTokenRecord:
    id: int
    user_id: UserId
    family_id: str
    digest: str
    issued_at: datetime
    expires_at: datetime
    family_expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


class RefreshTokenRepository(Protocol):
    """Single-use refresh tokens stored as SHA-256 digests, grouped in families."""

    @abstractmethod
    async def add(self, *, user_id: UserId, family_id: str, digest: str, issued_at: datetime, expires_at: datetime,
                  family_expires_at: datetime) -> None: ...

    @abstractmethod
    async def get_by_digest(self, digest: str) -> RefreshTokenRecord | None: ...

    @abstractmethod
    async def mark_used(self, token_id: int, *, at: datetime) -> bool:
        """Conditional update (used_at IS NULL); False when another request used it first."""

    @abstractmethod
    async def revoke_family(self, family_id: str, *, at: datetime) -> int: ...

    @abstractmethod
    async def revoke_user(self, user_id: UserId, *, at: datetime) -> int:
        """Revoke every live family of the user; returns the number of families."""


class AccessTokenDenyList(Protocol):
    """Access-token ids ended by logout, kept until their expiry."""

    @abstractmethod
    async def deny(self, token_id: str, *, expires_at: datetime) -> None: ...

    @abstractmethod
    async def is_denied(self, token_id: str) -> bool: ...
