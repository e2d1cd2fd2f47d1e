"""Issuing access/refresh token pairs (shared by login and refresh)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from whalefall.application.ports.identity import RefreshTokenRepository
from whalefall.application.ports.security import AccessClaims, AccessTokenCodec, TokenGenerator
from whalefall.domain.identity.users import User

REFRESH_TTL: Final = timedelta(days=14)
FAMILY_TTL: Final = timedelta(days=30)


def stamp_hash(security_stamp: str) -> str:
    """The `sst` claim: a hash of the user's security stamp (the stamp itself never leaves the store)."""
    return hashlib.sha256(security_stamp.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenPair:
    access_token: str
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    user: User


@dataclass(frozen=True, slots=True)
class TokenPairIssuer:
    """Creates a refresh token in a family (new or continued) and a matching access token."""

    codec: AccessTokenCodec
    tokens: TokenGenerator
    refresh_tokens: RefreshTokenRepository
    access_ttl: timedelta

    async def issue(self, user: User, *, now: datetime, family_id: str | None = None,
                    family_expires_at: datetime | None = None) -> TokenPair:
        family = family_id or self.tokens.random_id()
        family_end = family_expires_at or now + FAMILY_TTL
        refresh = self.tokens.refresh_token()
        refresh_expires = min(now + REFRESH_TTL, family_end)
        await self.refresh_tokens.add(user_id=user.id, family_id=family, digest=refresh.digest, issued_at=now,
                                      expires_at=refresh_expires, family_expires_at=family_end)
        expires_at = now + self.access_ttl
        access = self.codec.issue(AccessClaims(user_id=user.id, issued_at=now, expires_at=expires_at,
                                               token_id=self.tokens.random_id(),
                                               security_stamp_hash=stamp_hash(user.security_stamp),
                                               family_id=family))
        return TokenPair(access_token=access, expires_at=expires_at, refresh_token=refresh.plaintext,
                         refresh_expires_at=refresh_expires, user=user)
