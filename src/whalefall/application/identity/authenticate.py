"""Resolve a bearer access token into an Actor; the role is read from the store on every request."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.errors import TokenRevokedError
from whalefall.application.identity.token_pairs import stamp_hash
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import AccessTokenDenyList, UserRepository
from whalefall.application.ports.security import AccessTokenCodec
from whalefall.application.shared.actor import Actor, AuthMethod
from whalefall.domain.identity.users import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticateInput:
    token: str
    request_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class AuthenticateAccessToken:
    """Permissions never come from the token: the user's current role is loaded. A changed security stamp, a
    logged-out token id, a disabled or deleted user → TOKEN_REVOKED; expiry and bad tokens → the codec's errors."""

    codec: AccessTokenCodec
    users: UserRepository
    deny_list: AccessTokenDenyList
    clock: Clock

    async def execute(self, data: AuthenticateInput) -> Actor:
        claims = self.codec.decode(data.token, now=self.clock.now())
        user = await self.users.get(UserId(claims.user_id))
        if (user is None or not user.is_active or user.deleted_at is not None
                or stamp_hash(user.security_stamp) != claims.security_stamp_hash
                or await self.deny_list.is_denied(claims.token_id)):
            raise TokenRevokedError()
        return Actor.for_user(user_id=user.id, username=user.username, role=user.role,
                              auth_method=AuthMethod.ACCESS_TOKEN, must_change_password=user.must_change_password,
                              token_id=claims.token_id, family_id=claims.family_id, expires_at=claims.expires_at,
                              request_id=data.request_id, client_ip=data.client_ip, user_agent=data.user_agent)
