"""Token logout: revoke the refresh family and deny-list the presented access token until it expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import AccessTokenDenyList, RefreshTokenRepository
from whalefall.application.ports.security import TokenGenerator
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor


@dataclass(frozen=True, slots=True, kw_only=True)
class LogoutInput:
    actor: Actor
    refresh_token: str | None = None


@dataclass(frozen=True, slots=True)
class Logout:
    """Revokes the family of the access token (and of the refresh token, when given and owned by the actor)."""

    refresh_tokens: RefreshTokenRepository
    deny_list: AccessTokenDenyList
    tokens: TokenGenerator
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: LogoutInput) -> None:
        now = self.clock.now()
        if data.actor.family_id:
            await self.refresh_tokens.revoke_family(data.actor.family_id, at=now)
        if data.refresh_token:
            record = await self.refresh_tokens.get_by_digest(self.tokens.digest(data.refresh_token))
            if record is not None and record.user_id == data.actor.user_id:
                await self.refresh_tokens.revoke_family(record.family_id, at=now)
        if data.actor.token_id and isinstance(data.actor.expires_at, datetime):
            await self.deny_list.deny(data.actor.token_id, expires_at=data.actor.expires_at)
        await self.audit.record(AuditEntry(actor=data.actor, action="auth.logout", target_type="user",
                                           target_id=str(data.actor.user_id)))
        await self.uow.commit()
