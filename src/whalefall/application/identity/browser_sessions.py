"""Browser sessions (api.md §4.7): cookie login and logout, and resolving a session cookie into an Actor."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from whalefall.application.errors import AuthenticationError, TokenRevokedError
from whalefall.application.identity.login import LoginInput, PasswordCheckpoint
from whalefall.application.identity.login_throttle import LoginThrottle
from whalefall.application.identity.token_pairs import stamp_hash
from whalefall.application.ports.access import BrowserSessionRepository
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserRepository
from whalefall.application.ports.security import PasswordHasher, TokenGenerator
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor, AuthMethod
from whalefall.domain.errors import PermissionDeniedError
from whalefall.domain.identity.users import User


class SessionExpiredError(AuthenticationError):
    """Idle or absolute lifetime exceeded, ended by logout, or an unknown session cookie (HTTP 401)."""

    code = "SESSION_EXPIRED"
    default_message = "The session has expired; log in again"


class CsrfMissingError(PermissionDeniedError):
    """A cookie-authenticated unsafe request without `X-CSRF-Token` (HTTP 403)."""

    code = "CSRF_MISSING"
    default_message = "The X-CSRF-Token header is required"

    def __init__(self) -> None:
        super().__init__(None, field_path="header.X-CSRF-Token", message=self.default_message)


class CsrfInvalidError(PermissionDeniedError):
    """Wrong CSRF token, or an `Origin` other than the configured public origin (HTTP 403)."""

    code = "CSRF_INVALID"
    default_message = "The CSRF token or the request origin is not valid"

    def __init__(self, field_path: str = "header.X-CSRF-Token") -> None:
        super().__init__(None, field_path=field_path, message=self.default_message)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionPolicy:
    idle_s: int = 1800
    absolute_s: int = 43_200
    #: Activity is written at most this often, so the idle expiry may lag real activity by this much.
    touch_interval_s: int = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class StartSessionInput:
    login: LoginInput
    previous_session: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StartedSession:
    """`session_token` goes into the cookie and `csrf_token` to the page; neither is stored in clear (the
    session id) or shown to anyone but its own session (the CSRF token)."""

    session_token: str
    csrf_token: str
    user: User
    idle_expires_at: datetime
    expires_at: datetime
    lifetime_s: int


@dataclass(frozen=True, slots=True)
class StartBrowserSession:
    """POST /auth/session: the same checkpoint as token login (shared throttle and lockout counters, one hash
    verification), then a new server-side session with a fresh random id (stored as SHA-256) and a CSRF token.
    A session cookie presented with the login is ended (a new id at every login). Audited `auth.login.success`
    with `method: session`."""

    users: UserRepository
    hasher: PasswordHasher
    sessions: BrowserSessionRepository
    tokens: TokenGenerator
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork
    policy: SessionPolicy
    throttle: LoginThrottle | None = None

    async def execute(self, data: StartSessionInput) -> StartedSession:
        checkpoint = PasswordCheckpoint(self.users, self.hasher, self.audit, self.clock, self.uow, self.throttle)
        user = await checkpoint.verify(data.login)
        now = self.clock.now()
        if data.previous_session:
            previous = await self.sessions.get_by_digest(self.tokens.digest(data.previous_session))
            if previous is not None:
                await self.sessions.end(previous.id, at=now)
        session = self.tokens.session_id()
        csrf = self.tokens.session_id().plaintext
        expires_at = now + timedelta(seconds=self.policy.absolute_s)
        idle_expires_at = min(now + timedelta(seconds=self.policy.idle_s), expires_at)
        session_id = await self.sessions.add(user_id=user.id, session_digest=session.digest, csrf_token=csrf,
                                             stamp_hash=stamp_hash(user.security_stamp), created_at=now,
                                             idle_expires_at=idle_expires_at, expires_at=expires_at)
        origin = data.login.origin
        actor = Actor.for_user(user_id=user.id, username=user.username, role=user.role, auth_method=AuthMethod.SESSION,
                               request_id=origin.request_id, client_ip=origin.client_ip, user_agent=origin.user_agent)
        await self.audit.record(AuditEntry(actor=actor, action="auth.login.success", target_type="user",
                                           target_id=str(user.id),
                                           details={"method": "session", "session_id": session_id}))
        await self.uow.commit()
        return StartedSession(session_token=session.plaintext, csrf_token=csrf, user=user,
                              idle_expires_at=idle_expires_at, expires_at=expires_at,
                              lifetime_s=self.policy.absolute_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionAuthInput:
    session_token: str
    request_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class AuthenticateBrowserSession:
    """Unknown, ended or expired (idle 30 min, absolute 12 h) sessions → 401 SESSION_EXPIRED; a disabled or
    deleted user or a rotated security stamp (password, role or active change, revoke-sessions) → 401
    TOKEN_REVOKED. Activity extends the idle expiry (written at most once a minute), never past the absolute
    one. The actor carries the session's CSRF token in `extra["csrf_token"]` for the CSRF check and /auth/me."""

    sessions: BrowserSessionRepository
    users: UserRepository
    tokens: TokenGenerator
    clock: Clock
    uow: UnitOfWork
    policy: SessionPolicy

    async def execute(self, data: SessionAuthInput) -> Actor:
        now = self.clock.now()
        record = await self.sessions.get_by_digest(self.tokens.digest(data.session_token))
        if record is None or record.ended_at is not None or now >= record.expires_at or now >= record.idle_expires_at:
            raise SessionExpiredError()
        user = await self.users.get(record.user_id)
        if (user is None or not user.is_active or user.deleted_at is not None
                or stamp_hash(user.security_stamp) != record.stamp_hash):
            raise TokenRevokedError()
        idle_expires_at = record.idle_expires_at
        if now - record.last_seen_at >= timedelta(seconds=self.policy.touch_interval_s):
            idle_expires_at = min(now + timedelta(seconds=self.policy.idle_s), record.expires_at)
            await self.sessions.extend(record.id, seen_at=now, idle_expires_at=idle_expires_at)
            await self.uow.commit()
        actor = Actor.for_user(user_id=user.id, username=user.username, role=user.role, auth_method=AuthMethod.SESSION,
                               must_change_password=user.must_change_password, token_id=str(record.id),
                               expires_at=min(idle_expires_at, record.expires_at), request_id=data.request_id,
                               client_ip=data.client_ip, user_agent=data.user_agent)
        return dataclasses.replace(actor, extra={"csrf_token": record.csrf_token})


@dataclass(frozen=True, slots=True)
class EndBrowserSession:
    """DELETE /auth/session: the session row is ended server-side, so the old cookie answers 401 afterwards.
    Only a cookie-authenticated request has a session to end (else 401). Audited `auth.logout`."""

    sessions: BrowserSessionRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor) -> None:
        if actor.auth_method is not AuthMethod.SESSION or actor.token_id is None:
            raise AuthenticationError("A browser session is required")
        await self.sessions.end(int(actor.token_id), at=self.clock.now())
        await self.audit.record(AuditEntry(actor=actor, action="auth.logout", target_type="user",
                                           target_id=str(actor.user_id), details={"method": "session"}))
        await self.uow.commit()
