"""Token login (api.md §3.2, §4.4–4.5): one hash verification whatever happens, audited success and failure."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.errors import AccountDisabledError, InvalidCredentialsError
from whalefall.application.identity.token_pairs import TokenPair, TokenPairIssuer
from whalefall.application.ports.audit import AuditEntry, AuditLog, AuditOutcome
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserRepository
from whalefall.application.ports.security import PasswordHasher
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor, ActorType


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginInput:
    username: str
    password: str
    origin: Actor


@dataclass(frozen=True, slots=True)
class Login:
    """Unknown usernames and wrong passwords get the same error and the same work (one verification against a
    dummy hash). A disabled user is reported only after a correct password. Success updates `last_login_at`,
    re-hashes outdated hashes and starts a new refresh family."""

    users: UserRepository
    hasher: PasswordHasher
    issuer: TokenPairIssuer
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: LoginInput) -> TokenPair:
        now = self.clock.now()
        user = await self.users.get_by_username(data.username)
        stored = user.password_hash if user is not None and user.deleted_at is None else None
        check = self.hasher.verify(stored, data.password)
        if user is None or not check.ok or user.deleted_at is not None:
            await self._failure(data, "bad_credentials", user_id=user.id if user else None)
            raise InvalidCredentialsError()
        if not user.is_active:
            await self._failure(data, "disabled", user_id=user.id)
            raise AccountDisabledError()
        values: dict[str, object] = {"last_login_at": now}
        if check.needs_rehash:
            values["password_hash"] = self.hasher.hash(data.password)
        await self.users.update(user.id, values, at=now)
        refreshed = await self.users.get(user.id)
        assert refreshed is not None
        pair = await self.issuer.issue(refreshed, now=now)
        actor = Actor.for_user(user_id=user.id, username=user.username, role=user.role,
                               auth_method=data.origin.auth_method, request_id=data.origin.request_id,
                               client_ip=data.origin.client_ip, user_agent=data.origin.user_agent)
        await self.audit.record(AuditEntry(actor=actor, action="auth.login.success", target_type="user",
                                           target_id=str(user.id)))
        await self.uow.commit()
        return pair

    async def _failure(self, data: LoginInput, reason: str, *, user_id: int | None) -> None:
        actor = Actor(actor_type=ActorType.USER, name=data.username[:64], user_id=user_id,
                      request_id=data.origin.request_id, client_ip=data.origin.client_ip,
                      user_agent=data.origin.user_agent)
        await self.audit.record(AuditEntry(actor=actor, action="auth.login.failure", target_type="user",
                                           target_id=str(user_id) if user_id else None,
                                           outcome=AuditOutcome.FAILURE, details={"reason": reason}))
        await self.uow.commit()
