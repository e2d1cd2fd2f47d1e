"""User identity rules: usernames, self-modification and the last-admin invariant (api.md §4.1, §4.3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final, NewType

from whalefall.domain.errors import LastAdminRequiredError
from whalefall.domain.identity.roles import Role

UserId = NewType("UserId", int)

USERNAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")


def valid_username(username: str) -> bool:
    """3–64 characters of `[A-Za-z0-9_.-]`; uniqueness is case-insensitive (checked by the store)."""
    return bool(USERNAME_PATTERN.fullmatch(username))


def normalize_username(username: str) -> str:
    """The case-insensitive key of a username (lookups, lockout counters)."""
    return username.casefold()


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A stored user; `password_hash` never leaves the application layer."""

    id: UserId
    username: str
    display_name: str | None
    role: Role
    is_active: bool
    must_change_password: bool
    password_hash: str
    security_stamp: str
    locked_until: datetime | None
    last_login_at: datetime | None
    password_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    revision: int

    @property
    def is_active_admin(self) -> bool:
        return self.role is Role.ADMIN and self.is_active and self.deleted_at is None


def ensure_admin_remains(active_admin_ids: frozenset[UserId], *, changed: UserId, still_active_admin: bool) -> None:
    """Raise LastAdminRequiredError when the change would leave no active, non-deleted admin."""
    remaining = set(active_admin_ids)
    if not still_active_admin:
        remaining.discard(changed)
    if not remaining:
        raise LastAdminRequiredError()
