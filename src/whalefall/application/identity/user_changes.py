"""Helpers shared by user-management use cases: loading a target user and rotating the security stamp."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from whalefall.application.identity.token_pairs import stamp_hash
from whalefall.application.ports.access import BrowserSessionRepository
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


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokedSessions:
    """What a security-stamp rotation ended: live browser sessions and live refresh families."""

    sessions: int
    refresh_families: int


@dataclass(frozen=True, slots=True)
class SessionRevoker:
    """Rotates a user's security stamp: every refresh family and browser session ends and access tokens stop on
    next use (401 TOKEN_REVOKED). Browser sessions end through the stamp (their rows are not marked ended, so they
    answer TOKEN_REVOKED rather than SESSION_EXPIRED); the ones that were still working are counted first."""

    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    tokens: TokenGenerator
    browser_sessions: BrowserSessionRepository

    async def revoke(self, user_id: UserId, *, at: datetime, extra: dict[str, object] | None = None
                     ) -> RevokedSessions:
        user = await self.users.get(user_id)
        sessions = 0 if user is None else await self.browser_sessions.count_live(
            user_id, stamp_hash=stamp_hash(user.security_stamp), at=at)
        values: dict[str, object] = {"security_stamp": self.tokens.random_id(), **(extra or {})}
        await self.users.update(user_id, values, at=at)
        families = await self.refresh_tokens.revoke_user(user_id, at=at)
        return RevokedSessions(sessions=sessions, refresh_families=families)
