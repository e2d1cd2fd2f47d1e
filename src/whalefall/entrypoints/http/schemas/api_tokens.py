"""Bodies of the API token routes (api.md §2 ApiToken, §3.4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

import msgspec
from msgspec import Meta

from whalefall.application.identity.api_tokens import NewApiToken
from whalefall.application.ports.access import ApiTokenRecord
from whalefall.domain.identity.roles import Permission

AwareInstant = Annotated[datetime, Meta(tz=True)]


class ApiTokenCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = frozenset({"id", "prefix", "token", "created_at", "last_used_at",
                                                            "revoked_at", "owner"})
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    scopes: Annotated[list[Permission], Meta(min_length=1, max_length=64)]
    expires_at: AwareInstant | None = None
    owner_id: Annotated[int, Meta(ge=1)] | None = None


class TokenOwnerOut(msgspec.Struct, kw_only=True):
    id: int
    username: str


class ApiTokenOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    prefix: str
    owner: TokenOwnerOut
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, t: ApiTokenRecord) -> ApiTokenOut:
        return cls(id=t.id, name=t.name, prefix=t.prefix, owner=TokenOwnerOut(id=t.owner_id, username=t.owner_username),
                   scopes=sorted(s.value for s in t.scopes), created_at=t.created_at, expires_at=t.expires_at,
                   last_used_at=t.last_used_at, revoked_at=t.revoked_at)


class NewApiTokenOut(msgspec.Struct, kw_only=True):
    """ApiToken plus `token`, the plaintext, returned only by the creation."""

    id: int
    name: str
    prefix: str
    owner: TokenOwnerOut
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    token: str

    @classmethod
    def of(cls, new: NewApiToken) -> NewApiTokenOut:
        t = new.record
        return cls(id=t.id, name=t.name, prefix=t.prefix, owner=TokenOwnerOut(id=t.owner_id, username=t.owner_username),
                   scopes=sorted(s.value for s in t.scopes), created_at=t.created_at, expires_at=t.expires_at,
                   last_used_at=t.last_used_at, revoked_at=t.revoked_at, token=new.plaintext)


class RevokedTokenOut(msgspec.Struct, kw_only=True):
    id: int
    revoked_at: datetime
