"""Bodies of the instance routes (api.md §2 Instance, §3.5)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from whalefall.application.ports.instances import InstanceRecord
from whalefall.domain.instances import DbEngine
from whalefall.entrypoints.http.text import TRIMMED

Name = Annotated[str, Meta(min_length=1, max_length=128, pattern=TRIMMED)]
Host = Annotated[str, Meta(min_length=1, max_length=255)]
Port = Annotated[int, Meta(ge=1, le=65535)]
DatabaseName = Annotated[str, Meta(min_length=1, max_length=128, pattern=TRIMMED)]
Description = Annotated[str, Meta(max_length=1000)]
Bytes = Annotated[int, Meta(ge=0)]
TagList = Annotated[list[str | int], Meta(max_length=100)]
READ_ONLY = frozenset({"id", "flavor", "version", "version_major", "version_minor", "edition", "version_raw",
                       "connection_status", "last_contact_at", "last_contact_ok", "last_contact_error_code",
                       "last_success_at", "last_accounts_sync_at", "last_capacity_collected_on", "account_count",
                       "database_count", "created_at", "updated_at", "deleted_at", "credential"})


class InstanceCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = READ_ONLY | {"revision"}
    name: Name
    db_type: DbEngine
    host: Host
    port: Port | None = None
    database_name: DatabaseName | None = None
    credential_id: int | None = None
    description: Description | None = None
    is_active: bool = True
    tags: TagList = msgspec.field(default_factory=list)
    capacity_limit_bytes: Bytes | None = None
    collect_table_sizes: bool = False


class InstancePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = READ_ONLY
    name: Name | UnsetType = UNSET
    db_type: DbEngine | UnsetType = UNSET
    host: Host | UnsetType = UNSET
    port: Port | None | UnsetType = UNSET
    database_name: DatabaseName | None | UnsetType = UNSET
    credential_id: int | None | UnsetType = UNSET
    description: Description | None | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    tags: TagList | UnsetType = UNSET
    capacity_limit_bytes: Bytes | None | UnsetType = UNSET
    collect_table_sizes: bool | UnsetType = UNSET
    revision: int | None = None


class TagRefOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    display_name: str
    category: str


class CredentialRefOut(msgspec.Struct, kw_only=True):
    id: int
    name: str


class InstanceOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    db_type: DbEngine
    flavor: str | None
    host: str
    port: int
    database_name: str | None
    description: str | None
    is_active: bool
    credential: CredentialRefOut | None
    tags: list[TagRefOut]
    capacity_limit_bytes: int | None
    collect_table_sizes: bool
    version: str | None
    version_major: int | None
    version_minor: int | None
    edition: str | None
    version_raw: str | None
    connection_status: str
    last_contact_at: datetime | None
    last_contact_ok: bool | None
    last_contact_error_code: str | None
    last_success_at: datetime | None
    last_accounts_sync_at: datetime | None
    last_capacity_collected_on: date | None
    account_count: int
    database_count: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    revision: int

    @classmethod
    def of(cls, r: InstanceRecord) -> InstanceOut:
        return cls(
            id=r.id, name=r.name, db_type=r.db_type, flavor=r.flavor, host=r.host, port=r.port,
            database_name=r.database_name, description=r.description, is_active=r.is_active,
            credential=CredentialRefOut(id=r.credential.id, name=r.credential.name) if r.credential else None,
            tags=[TagRefOut(id=t.id, name=t.name, display_name=t.display_name, category=t.category) for t in r.tags],
            capacity_limit_bytes=r.capacity_limit_bytes, collect_table_sizes=r.collect_table_sizes,
            version=r.version, version_major=r.version_major, version_minor=r.version_minor, edition=r.edition,
            version_raw=r.version_raw, connection_status=r.connection_status, last_contact_at=r.last_contact_at,
            last_contact_ok=r.last_contact_ok, last_contact_error_code=r.last_contact_error_code,
            last_success_at=r.last_success_at, last_accounts_sync_at=r.accounts_synced_at,
            last_capacity_collected_on=r.last_capacity_collected_on, account_count=r.account_count,
            database_count=r.database_count, created_at=r.created_at, updated_at=r.updated_at,
            deleted_at=r.deleted_at, revision=r.revision)
