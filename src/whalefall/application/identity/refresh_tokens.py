"""Refresh-token rotation with reuse detection (api.md §4.5)."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.errors import RefreshTokenReusedError, TokenInvalidError, TokenRevokedError
from whalefall.application.identity.token_pairs import TokenPair, TokenPairIssuer
from whalefall.application.ports.audit import AuditEntry, AuditLog, AuditOutcome
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import RefreshTokenRepository, UserRepository
from whalefall.application.ports.security import TokenGenerator
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor, AuthMethod


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshInput:
    refresh_token: str
    origin: Actor


@dataclass(frozen=True, slots=True)
class RefreshTokens:
    """Single use: a valid token is marked used and replaced by a new pair in the same family; presenting a used
    token revokes the whole family (401 REFRESH_TOKEN_REUSED, audited). Unknown or expired → TOKEN_INVALID;
    revoked family, disabled or deleted user → TOKEN_REVOKED."""

    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    tokens: TokenGenerator
    issuer: TokenPairIssuer
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: RefreshInput) -> TokenPair:
        now = self.clock.now()
        record = await self.refresh_tokens.get_by_digest(self.tokens.digest(data.refresh_token))
        if record is None or record.expires_at <= now or record.family_expires_at <= now:
            raise TokenInvalidError()
        if record.revoked_at is not None:
            raise TokenRevokedError()
        user = await self.users.get(record.user_id)
        if record.used_at is not None or not await self.refresh_tokens.mark_used(record.id, at=now):
            await self.refresh_tokens.revoke_family(record.family_id, at=now)
            if user is not None:
                actor = Actor.for_user(user_id=user.id, username=user.username, role=user.role,
                                       auth_method=AuthMethod.NONE, request_id=data.origin.request_id,
                                       client_ip=data.origin.client_ip, user_agent=data.origin.user_agent)
                await self.audit.record(AuditEntry(actor=actor, action="auth.refresh_reuse", target_type="user",
                                                   target_id=str(user.id), outcome=AuditOutcome.DENIED))
            await self.uow.commit()
            raise RefreshTokenReusedError()
        if user is None or not user.is_active or user.deleted_at is not None:
            await self.uow.rollback()
            raise TokenRevokedError()
        pair = await self.issuer.issue(user, now=now, family_id=record.family_id,
                                       family_expires_at=record.family_expires_at)
        await self.uow.commit()
        return pair
