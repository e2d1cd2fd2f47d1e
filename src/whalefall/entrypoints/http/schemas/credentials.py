"""Bodies of the credential routes (api.md §2 Credential, §3.6); no field ever carries a secret out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from whalefall.application.instances.credentials import RotationOutcome
from whalefall.application.ports.instances import CredentialRecord
from whalefall.domain.instances import DbEngine
from whalefall.entrypoints.http.text import TRIMMED

Name = Annotated[str, Meta(min_length=1, max_length=128, pattern=TRIMMED)]
Username = Annotated[str, Meta(min_length=1, max_length=256)]
Secret = Annotated[str, Meta(min_length=1, max_length=1024)]
Description = Annotated[str, Meta(max_length=1000)]
_READ_ONLY = frozenset({"id", "has_secret", "key_id", "secret_updated_at", "instance_count", "created_at",
                        "updated_at"})


class CredentialCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = _READ_ONLY | {"revision"}
    name: Name
    username: Username
    secret: Secret
    db_type: DbEngine | None = None
    auth_method: Literal["password", "windows"] = "password"
    description: Description | None = None


class CredentialPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = _READ_ONLY | {"secret", "auth_method"}
    name: Name | UnsetType = UNSET
    username: Username | UnsetType = UNSET
    db_type: DbEngine | None | UnsetType = UNSET
    description: Description | None | UnsetType = UNSET
    revision: int | None = None


class SecretPut(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    secret: Secret


class CredentialOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    username: str
    db_type: DbEngine | None
    auth_method: str
    description: str | None
    has_secret: bool
    key_id: str
    secret_updated_at: datetime
    instance_count: int
    created_at: datetime
    updated_at: datetime
    revision: int

    @classmethod
    def of(cls, r: CredentialRecord) -> CredentialOut:
        return cls(id=r.id, name=r.name, username=r.username, db_type=r.db_type, auth_method=r.auth_method,
                   description=r.description, has_secret=r.has_secret, key_id=r.key_id,
                   secret_updated_at=r.secret_updated_at, instance_count=r.instance_count, created_at=r.created_at,
                   updated_at=r.updated_at, revision=r.revision)


class RotationOut(msgspec.Struct, kw_only=True):
    rotated: int
    active_key_id: str
    usage: dict[str, int]

    @classmethod
    def of(cls, r: RotationOutcome) -> RotationOut:
        return cls(rotated=r.rotated, active_key_id=r.active_key_id, usage=r.usage)
