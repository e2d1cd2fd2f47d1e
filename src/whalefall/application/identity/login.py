"""Token login (api.md §3.2, §4.4–4.5, §4.8): throttled, one hash verification whatever happens, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from whalefall.application.errors import AccountDisabledError, InvalidCredentialsError, LoginLockedError
from whalefall.application.identity.login_throttle import Lockout, LoginThrottle
from whalefall.application.identity.token_pairs import TokenPair, TokenPairIssuer
from whalefall.application.ports.audit import AuditEntry, AuditLog, AuditOutcome
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserRepository
from whalefall.application.ports.security import PasswordHasher
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor, ActorType
from whalefall.domain.identity.users import User


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginInput:
    username: str
    password: str
    origin: Actor


@dataclass(frozen=True, slots=True)
class PasswordCheckpoint:
    """The credential check shared by token login and browser-session login (they share the counters).

    Order: the client address's attempt limit (429 RATE_LIMIT_EXCEEDED), then the username's lockout (429
    LOGIN_LOCKED, audited `auth.login.failure` reason `locked`, no password check), then exactly one hash
    verification (unknown users against a dummy hash). A failure counts towards the lockout of the normalised
    username, existing or not; the failure that reaches the threshold starts it (audited `auth.lockout`, and
    `locked_until` is set on an existing user). A disabled user is reported only after a correct password.
    Success resets the username's counters, sets `last_login_at` and re-hashes outdated hashes."""

    users: UserRepository
    hasher: PasswordHasher
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork
    throttle: LoginThrottle | None = None

    async def verify(self, data: LoginInput) -> User:
        if self.throttle is not None:
            await self.throttle.check_login_address(data.origin.client_ip)
        user = await self.users.get_by_username(data.username)
        known = user is not None and user.deleted_at is None
        if self.throttle is not None:
            locked_for = await self.throttle.locked_for(data.username)
            if locked_for is not None:
                await self._failure(data, "locked", user=user if known else None)
                raise LoginLockedError(locked_for)
        check = self.hasher.verify(user.password_hash if known and user is not None else None, data.password)
        if user is None or not known or not check.ok:
            lockout = await self.throttle.record_failure(data.username) if self.throttle is not None else None
            await self._failure(data, "bad_credentials", user=user if known else None, lockout=lockout)
            raise InvalidCredentialsError()
        if not user.is_active:
            await self._failure(data, "disabled", user=user)
            raise AccountDisabledError()
        if self.throttle is not None:
            await self.throttle.record_success(data.username)
        now = self.clock.now()
        values: dict[str, object] = {"last_login_at": now}
        if check.needs_rehash:
            values["password_hash"] = self.hasher.hash(data.password)
        if user.locked_until is not None:
            values["locked_until"] = None
        await self.users.update(user.id, values, at=now)
        refreshed = await self.users.get(user.id)
        assert refreshed is not None
        return refreshed

    async def _failure(self, data: LoginInput, reason: str, *, user: User | None,
                       lockout: Lockout | None = None) -> None:
        user_id = user.id if user is not None else None
        actor = Actor(actor_type=ActorType.USER, name=data.username[:64], user_id=user_id,
                      request_id=data.origin.request_id, client_ip=data.origin.client_ip,
                      user_agent=data.origin.user_agent)
        target = str(user_id) if user_id else None
        await self.audit.record(AuditEntry(actor=actor, action="auth.login.failure", target_type="user",
                                           target_id=target, outcome=AuditOutcome.FAILURE,
                                           details={"reason": reason}))
        if lockout is not None:
            now = self.clock.now()
            if user is not None:
                await self.users.update(user.id, {"locked_until": now + timedelta(seconds=lockout.seconds)}, at=now)
            await self.audit.record(AuditEntry(actor=actor, action="auth.lockout", target_type="user",
                                               target_id=target, outcome=AuditOutcome.FAILURE,
                                               details={"seconds": lockout.seconds, "level": lockout.level}))
        await self.uow.commit()


@dataclass(frozen=True, slots=True)
class Login:
    """Token login through the PasswordCheckpoint (throttle, lockout, one verification, disabled after a correct
    password); success starts a new refresh family and is audited `auth.login.success`."""

    users: UserRepository
    hasher: PasswordHasher
    issuer: TokenPairIssuer
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork
    throttle: LoginThrottle | None = None

    async def execute(self, data: LoginInput) -> TokenPair:
        checkpoint = PasswordCheckpoint(self.users, self.hasher, self.audit, self.clock, self.uow, self.throttle)
        user = await checkpoint.verify(data)
        pair = await self.issuer.issue(user, now=self.clock.now())
        actor = Actor.for_user(user_id=user.id, username=user.username, role=user.role,
                               auth_method=data.origin.auth_method, request_id=data.origin.request_id,
                               client_ip=data.origin.client_ip, user_agent=data.origin.user_agent)
        await self.audit.record(AuditEntry(actor=actor, action="auth.login.success", target_type="user",
                                           target_id=str(user.id)))
        await self.uow.commit()
        return pair
