"""In-memory fakes of the identity ports for fast use-case tests."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.identity import RefreshTokenRecord, RefreshTokenRepository, UserQuery, UserRepository
from whalefall.application.ports.security import (
    AccessClaims,
    AccessTokenCodec,
    OpaqueToken,
    PasswordCheck,
    PasswordHasher,
    TokenGenerator,
)
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.identity.roles import Role
from whalefall.domain.identity.users import User, UserId


@dataclass
class FixedClock:
    at: datetime = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


@dataclass
class RecordingPasswordHasher(PasswordHasher):
    """`hash:<password>` hashes; records every verification (stored value or None for the dummy)."""

    verified: list[str | None] = field(default_factory=list)

    def hash(self, password: str) -> str:
        return f"hash:{password}"

    def verify(self, stored: str | None, password: str) -> PasswordCheck:
        self.verified.append(stored)
        return PasswordCheck(ok=stored is not None and stored == self.hash(password), needs_rehash=False)


@dataclass
class RecordingAuditLog(AuditLog):
    entries: list[AuditEntry] = field(default_factory=list)

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


@dataclass
class FakeUnitOfWork(UnitOfWork):
    commits: int = 0
    rollbacks: int = 0

    async def commit(self) -> None:
        self.commits += 1

    async def rollback(self) -> None:
        self.rollbacks += 1


@dataclass
class InMemoryUserRepository(UserRepository):
    rows: dict[int, User] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def add(self, values: Mapping[str, object], *, at: datetime) -> UserId:
        user_id = UserId(next(self._ids))
        data = {"display_name": None, "locked_until": None, "last_login_at": None, "password_changed_at": None,
                "deleted_at": None, **values}
        data["role"] = Role(str(data["role"]))
        self.rows[user_id] = User(id=user_id, created_at=at, updated_at=at, revision=1, **data)  # type: ignore[arg-type]
        return user_id

    async def get(self, user_id: UserId) -> User | None:
        return self.rows.get(user_id)

    async def get_by_username(self, username: str) -> User | None:
        return next((u for u in self.rows.values() if u.username.lower() == username.lower()), None)

    async def update(self, user_id: UserId, values: Mapping[str, object], *, at: datetime) -> None:
        current = self.rows[user_id]
        self.rows[user_id] = dataclasses.replace(current, **values, updated_at=at,  # type: ignore[arg-type]
                                                 revision=current.revision + 1)

    async def list_page(self, query: UserQuery, page: PageRequest) -> Page[User]:
        items = sorted(self.rows.values(), key=lambda u: u.username)
        return Page(tuple(items[page.offset:page.offset + page.limit]), len(items), page.page, page.limit)

    async def lock_active_admins(self) -> frozenset[UserId]:
        return frozenset(u.id for u in self.rows.values() if u.is_active_admin)

    async def count(self) -> int:
        return len(self.rows)


@dataclass
class InMemoryRefreshTokenRepository(RefreshTokenRepository):
    rows: list[RefreshTokenRecord] = field(default_factory=list)

    async def add(self, *, user_id: UserId, family_id: str, digest: str, issued_at: datetime, expires_at: datetime,
                  family_expires_at: datetime) -> None:
        self.rows.append(RefreshTokenRecord(id=len(self.rows) + 1, user_id=user_id, family_id=family_id,
                                            digest=digest, issued_at=issued_at, expires_at=expires_at,
                                            family_expires_at=family_expires_at, used_at=None, revoked_at=None))

    async def get_by_digest(self, digest: str) -> RefreshTokenRecord | None:
        return next((r for r in self.rows if r.digest == digest), None)

    async def mark_used(self, token_id: int, *, at: datetime) -> bool:
        for index, row in enumerate(self.rows):
            if row.id == token_id and row.used_at is None:
                self.rows[index] = dataclasses.replace(row, used_at=at)
                return True
        return False

    async def revoke_family(self, family_id: str, *, at: datetime) -> int:
        return self._revoke(lambda r: r.family_id == family_id, at)

    async def revoke_user(self, user_id: UserId, *, at: datetime) -> int:
        families = {r.family_id for r in self.rows if r.user_id == user_id and r.revoked_at is None}
        self._revoke(lambda r: r.user_id == user_id, at)
        return len(families)

    def _revoke(self, match: object, at: datetime) -> int:
        count = 0
        for index, row in enumerate(self.rows):
            if match(row) and row.revoked_at is None:  # type: ignore[operator]
                self.rows[index] = dataclasses.replace(row, revoked_at=at)
                count += 1
        return count


@dataclass
class CountingTokenGenerator(TokenGenerator):
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _next(self, prefix: str) -> OpaqueToken:
        plaintext = f"{prefix}{next(self.counter)}"
        return OpaqueToken(plaintext=plaintext, digest=self.digest(plaintext))

    def refresh_token(self) -> OpaqueToken:
        return self._next("wfr_")

    def api_token(self) -> OpaqueToken:
        return self._next("wf_")

    def session_id(self) -> OpaqueToken:
        return self._next("sid_")

    def random_id(self) -> str:
        return f"id{next(self.counter)}"

    def digest(self, token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def digests_equal(self, left: str, right: str) -> bool:
        return left == right


@dataclass
class PlainAccessTokenCodec(AccessTokenCodec):
    """Tokens are `access:<user id>:<token id>`; decode is not needed by the use cases tested with it."""

    issued: list[AccessClaims] = field(default_factory=list)

    def issue(self, claims: AccessClaims) -> str:
        self.issued.append(claims)
        return f"access:{claims.user_id}:{claims.token_id}"

    def decode(self, token: str, *, now: datetime) -> AccessClaims:
        return next(c for c in self.issued if token == f"access:{c.user_id}:{c.token_id}")

    @property
    def has_active_key(self) -> bool:
        return True
