"""Helpers shared by user-management use cases: loading a target user and rotating the security stamp."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from whalefall.application.ports.identity import RefreshTokenRepository, UserRepository
from whalefall.application.ports.security import TokenGenerator
from whalefall.domain.errors import NotFoundError
from whalefall.domain.identity.users import User, UserId


async def load_user(users: UserRepository, user_id: UserId, *, include_deleted: bool = False) -> User:
    """The user, or NotFoundError (soft-deleted users are not found unless asked for)."""
    user = await users.get(user_id)
    if user is None or (user.deleted_at is not None and not include_deleted):
        raise NotFoundError("user", user_id)
    return user


@dataclass(frozen=True, slots=True)
class SessionRevoker:
    """Rotates a user's security stamp: every refresh family ends and access tokens stop on next use."""

    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    tokens: TokenGenerator

    async def revoke(self, user_id: UserId, *, at: datetime, extra: dict[str, object] | None = None) -> int:
        values: dict[str, object] = {"security_stamp": self.tokens.random_id(), **(extra or {})}
        await self.users.update(user_id, values, at=at)
        return await self.refresh_tokens.revoke_user(user_id, at=at)
