"""Resolve `Authorization: Bearer wf_…` into an Actor (api.md §4.6): scopes ∩ the owner's current role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from whalefall.application.errors import TokenInvalidError, TokenRevokedError
from whalefall.application.identity.api_tokens import split_api_token
from whalefall.application.identity.authenticate import AuthenticateInput
from whalefall.application.ports.access import ApiTokenRepository
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserRepository
from whalefall.application.ports.security import TokenGenerator
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor, ActorType, AuthMethod
from whalefall.domain.identity.roles import permissions_of

LAST_USED_INTERVAL_S: Final = 60


@dataclass(frozen=True, slots=True)
class AuthenticateApiToken:
    """Malformed, unknown, revoked or expired tokens → 401 TOKEN_INVALID (secret digests compared in constant
    time); a disabled or deleted owner → 401 TOKEN_REVOKED. Effective permissions are the token's scopes that the
    owner's current role still holds, so a demotion narrows the token at once. `last_used_at` is written at most
    once a minute (its own small transaction). The owner's `must_change_password` does not block a token."""

    api_tokens: ApiTokenRepository
    users: UserRepository
    tokens: TokenGenerator
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: AuthenticateInput) -> Actor:
        parts = split_api_token(data.token)
        if parts is None:
            raise TokenInvalidError()
        record = await self.api_tokens.get_by_public_id(parts[0])
        if record is None or not self.tokens.digests_equal(record.secret_digest, self.tokens.digest(data.token)):
            raise TokenInvalidError()
        now = self.clock.now()
        if record.revoked_at is not None or record.expires_at <= now:
            raise TokenInvalidError()
        owner = await self.users.get(record.owner_id)
        if owner is None or not owner.is_active or owner.deleted_at is not None:
            raise TokenRevokedError()
        if await self.api_tokens.touch(record.id, at=now, min_interval_s=LAST_USED_INTERVAL_S):
            await self.uow.commit()
        return Actor(actor_type=ActorType.API_TOKEN, name=f"{owner.username}/{record.prefix}", user_id=owner.id,
                     role=owner.role, permissions=record.scopes & permissions_of(owner.role),
                     auth_method=AuthMethod.API_TOKEN, token_id=str(record.id), expires_at=record.expires_at,
                     request_id=data.request_id, client_ip=data.client_ip, user_agent=data.user_agent,
                     extra={"scopes": sorted(s.value for s in record.scopes), "token_name": record.name})
