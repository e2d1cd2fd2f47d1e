"""API tokens (api.md §3.4, §4.6): create (plaintext shown once), list, detail, revoke."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from whalefall.application.errors import InteractiveAuthRequiredError
from whalefall.application.ports.access import ApiTokenQuery, ApiTokenRecord, ApiTokenRepository
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserRepository
from whalefall.application.ports.security import TokenGenerator
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import (
    InvalidReferenceError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    ValidationProblemsError,
)
from whalefall.domain.identity.roles import Permission, permissions_of
from whalefall.domain.identity.users import UserId
from whalefall.domain.instances import has_surrounding_space_or_control

DEFAULT_TTL: Final = timedelta(days=90)
MAX_TTL: Final = timedelta(days=365)
MAX_NAME_LENGTH: Final = 100
#: `wf_<8-char public id>_<43-char base64url secret>` (api.md §4.6); the public id has no `_`, so the split is exact.
API_TOKEN_FORMAT: Final = re.compile(r"wf_([a-z0-9]{8})_([A-Za-z0-9_-]{43})")


def split_api_token(token: str) -> tuple[str, str] | None:
    """(public id, secret) of a well-formed API token, else None."""
    match = API_TOKEN_FORMAT.fullmatch(token)
    return (match.group(1), match.group(2)) if match else None


def looks_like_api_token(token: str) -> bool:
    """True for `wf_…` bearer values (refresh tokens start with `wfr_`, JWTs with `ey`)."""
    return token.startswith("wf_")


class ScopesNotHeldError(PermissionDeniedError):
    """Scopes the creator or the owner does not hold: 403 PERMISSION_DENIED, one detail per `body.scopes[i]`."""

    def __init__(self, missing: Sequence[tuple[int, Permission]]) -> None:
        first_index, first = missing[0]
        super().__init__(first.value, field_path=f"body.scopes[{first_index}]")
        self.problems = tuple(
            Problem(f"body.scopes[{index}]", "permission_denied",
                    f"requires permission {scope.value}, held by the creator and the owner",
                    {"permission": scope.value})
            for index, scope in missing)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateApiTokenInput:
    actor: Actor
    name: str
    scopes: Sequence[Permission]
    expires_at: datetime | None = None
    owner_id: UserId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewApiToken:
    record: ApiTokenRecord
    plaintext: str


@dataclass(frozen=True, slots=True)
class CreateApiToken:
    """tokens:own, from an interactive login only (an API token → 403 INTERACTIVE_AUTH_REQUIRED); a token for
    another user needs users:manage and belongs to that user. Every scope must be held by the creator and by the
    owner's role (403 PERMISSION_DENIED naming `body.scopes[i]`). Expiry defaults to +90 days, at most +365 (400
    otherwise). The plaintext is returned once; only the SHA-256 of the secret is stored. Audited
    `api_token.create` naming owner and creator."""

    api_tokens: ApiTokenRepository
    users: UserRepository
    tokens: TokenGenerator
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: CreateApiTokenInput) -> NewApiToken:
        actor = data.actor
        actor.require(Permission.TOKENS_OWN)
        if not actor.is_interactive or actor.user_id is None:
            raise InteractiveAuthRequiredError()
        owner_id = data.owner_id if data.owner_id is not None else UserId(actor.user_id)
        if owner_id != actor.user_id:
            actor.require(Permission.USERS_MANAGE)
        now = self.clock.now()
        expires_at = data.expires_at or now + DEFAULT_TTL
        problems: list[Problem] = []
        if len(data.name) > MAX_NAME_LENGTH or not data.name or has_surrounding_space_or_control(data.name):
            problems.append(Problem("body.name", "invalid_format",
                                    "1–100 characters without surrounding whitespace or control characters"))
        if expires_at <= now:
            problems.append(Problem("body.expires_at", "too_small", "must be in the future"))
        elif expires_at > now + MAX_TTL:
            problems.append(Problem("body.expires_at", "too_large", "must be at most 365 days ahead",
                                    {"max_days": MAX_TTL.days}))
        seen: set[Permission] = set()
        for index, scope in enumerate(data.scopes):
            if scope in seen:
                problems.append(Problem(f"body.scopes[{index}]", "duplicate", "listed twice"))
            seen.add(scope)
        if problems:
            raise ValidationProblemsError(problems)
        owner = await self.users.get(owner_id)
        if owner is None or owner.deleted_at is not None or not owner.is_active:
            code = "not_found" if owner is None or owner.deleted_at is not None else "inactive"
            raise InvalidReferenceError(problems=[Problem("body.owner_id", code, "no active user with this id")])
        allowed = actor.permissions & permissions_of(owner.role)
        missing = [(index, scope) for index, scope in enumerate(data.scopes) if scope not in allowed]
        if missing:
            raise ScopesNotHeldError(missing)
        token = self.tokens.api_token()
        assert token.public_id is not None
        token_id = await self.api_tokens.add(
            public_id=token.public_id, secret_digest=token.digest, name=data.name, owner_id=owner.id,
            created_by=UserId(actor.user_id), scopes=frozenset(data.scopes), created_at=now, expires_at=expires_at)
        await self.audit.record(AuditEntry(
            actor=actor, action="api_token.create", target_type="api_token", target_id=str(token_id),
            details={"name": data.name, "prefix": f"wf_{token.public_id}", "owner_id": owner.id,
                     "owner_username": owner.username, "created_by": actor.user_id,
                     "scopes": sorted(s.value for s in data.scopes), "expires_at": expires_at}))
        await self.uow.commit()
        record = await self.api_tokens.get(token_id)
        assert record is not None
        return NewApiToken(record=record, plaintext=token.plaintext)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListApiTokensInput:
    actor: Actor
    page: PageRequest
    owner_id: UserId | None = None
    all_owners: bool = False
    include_revoked: bool = False


@dataclass(frozen=True, slots=True)
class ListApiTokens:
    """Own tokens by default; another owner's (`owner_id`) or everyone's (`all`) need users:read."""

    api_tokens: ApiTokenRepository

    async def execute(self, data: ListApiTokensInput) -> Page[ApiTokenRecord]:
        actor = data.actor
        actor.require(Permission.TOKENS_OWN)
        owner: UserId | None = UserId(actor.user_id) if actor.user_id is not None else None
        if data.all_owners or (data.owner_id is not None and data.owner_id != actor.user_id):
            actor.require(Permission.USERS_READ)
            owner = data.owner_id
        if owner is None and not data.all_owners:
            raise PermissionDeniedError(Permission.USERS_READ.value)
        return await self.api_tokens.list_page(ApiTokenQuery(owner_id=owner, include_revoked=data.include_revoked),
                                               data.page)


async def _load(api_tokens: ApiTokenRepository, token_id: int) -> ApiTokenRecord:
    record = await api_tokens.get(token_id)
    if record is None:
        raise NotFoundError("api_token", token_id)
    return record


@dataclass(frozen=True, slots=True)
class GetApiToken:
    """The owner, or a holder of users:read."""

    api_tokens: ApiTokenRepository

    async def execute(self, actor: Actor, token_id: int) -> ApiTokenRecord:
        actor.require(Permission.TOKENS_OWN)
        record = await _load(self.api_tokens, token_id)
        if record.owner_id != actor.user_id:
            actor.require(Permission.USERS_READ)
        return record


@dataclass(frozen=True, slots=True)
class RevokeApiToken:
    """The owner, or a holder of users:manage. Immediate: the next request with the token is 401. Repeating a
    revocation answers the first `revoked_at`. Audited `api_token.revoke`."""

    api_tokens: ApiTokenRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, token_id: int) -> datetime:
        actor.require(Permission.TOKENS_OWN)
        record = await _load(self.api_tokens, token_id)
        if record.owner_id != actor.user_id:
            actor.require(Permission.USERS_MANAGE)
        if record.revoked_at is not None:
            return record.revoked_at
        now = self.clock.now()
        await self.api_tokens.revoke(record.id, at=now)
        await self.audit.record(AuditEntry(actor=actor, action="api_token.revoke", target_type="api_token",
                                           target_id=str(record.id),
                                           details={"prefix": record.prefix, "owner_id": record.owner_id}))
        await self.uow.commit()
        return now
