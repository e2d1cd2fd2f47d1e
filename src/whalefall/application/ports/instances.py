"""Ports of the instances context: instances, credentials, tags and their links (capacity.md §1.1–1.3)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from whalefall.application.ports.security import EncryptedSecret
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.instances import CredentialId, DbEngine, EndpointKey, InstanceId, TagId


@dataclass(frozen=True, slots=True)
class TagRef:
    id: TagId
    name: str
    display_name: str
    category: str


@dataclass(frozen=True, slots=True)
class CredentialRef:
    id: CredentialId
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceRecord:
    """A stored instance with its tags, credential reference and derived counts."""

    id: InstanceId
    name: str
    db_type: DbEngine
    flavor: str | None
    host: str
    port: int
    database_name: str | None
    description: str | None
    is_active: bool
    credential: CredentialRef | None
    tags: tuple[TagRef, ...]
    capacity_limit_bytes: int | None
    collect_table_sizes: bool
    version: str | None
    version_major: int | None
    version_minor: int | None
    edition: str | None
    version_raw: str | None
    last_contact_at: datetime | None
    last_contact_ok: bool | None
    last_contact_error_code: str | None
    last_success_at: datetime | None
    accounts_synced_at: datetime | None
    last_capacity_collected_on: date | None
    account_count: int
    database_count: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    revision: int

    @property
    def connection_status(self) -> str:
        if self.last_contact_at is None:
            return "never"
        return "ok" if self.last_contact_ok else "failed"

    @property
    def endpoint_key(self) -> EndpointKey:
        return EndpointKey.of(self.db_type, self.host, self.port, self.database_name)


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceQuery:
    """List filters of GET /instances."""

    q: str | None = None
    db_types: frozenset[DbEngine] = frozenset()
    flavors: frozenset[str] = frozenset()
    status: str | None = None
    tags_any: frozenset[str] = frozenset()
    tags_all: frozenset[str] = frozenset()
    credential_id: CredentialId | None = None
    connection: str | None = None


class InstanceRepository(Protocol):
    """Instances in the metadata store; unique violations raise InstanceNameTakenError / DuplicateEndpointError."""

    @abstractmethod
    async def add(self, values: Mapping[str, object], *, at: datetime, by: int | None) -> InstanceId:
        """Insert a row (revision 1) and return its id."""

    @abstractmethod
    async def get(self, instance_id: InstanceId, *, for_update: bool = False) -> InstanceRecord | None:
        """The instance, soft-deleted ones included; None when it does not exist."""

    @abstractmethod
    async def update(self, instance_id: InstanceId, values: Mapping[str, object], *, at: datetime,
                     by: int | None) -> None:
        """Set columns, `updated_at/by`, and increment `revision`."""

    @abstractmethod
    async def list_page(self, query: InstanceQuery, page: PageRequest) -> Page[InstanceRecord]:
        """Filtered, sorted page; each instance appears once whatever its number of matching tags."""

    @abstractmethod
    async def name_taken(self, name: str, *, exclude: InstanceId | None = None) -> bool:
        """Case-insensitive name clash among non-deleted instances."""

    @abstractmethod
    async def endpoint_taken(self, key: EndpointKey, *, exclude: InstanceId | None = None) -> bool:
        """Endpoint clash among non-deleted instances."""

    @abstractmethod
    async def replace_tags(self, instance_id: InstanceId, tag_ids: Sequence[TagId], *, at: datetime,
                           by: int | None) -> None:
        """Make the instance's tag set exactly `tag_ids`."""

    @abstractmethod
    async def purge(self, instance_id: InstanceId) -> None:
        """Physically delete the row; dependants cascade."""

    @abstractmethod
    async def all_for_export(self, query: InstanceQuery) -> Sequence[InstanceRecord]:
        """Every matching instance (bounded by the caller's row cap)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialRecord:
    id: CredentialId
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


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialQuery:
    q: str | None = None
    db_types: frozenset[DbEngine] = frozenset()
    auth_method: str | None = None
    key_id: str | None = None
    in_use: bool | None = None


class CredentialRepository(Protocol):
    """Credentials; the ciphertext is only read by `get_secret` and never part of a record."""

    @abstractmethod
    async def add(self, values: Mapping[str, object], *, at: datetime, by: int | None) -> CredentialId:
        """Insert the row (placeholder secret) and return its id; the caller writes the secret next."""

    @abstractmethod
    async def set_secret(self, credential_id: CredentialId, secret: EncryptedSecret, *, at: datetime) -> None:
        """Store a ciphertext and its key id."""

    @abstractmethod
    async def get(self, credential_id: CredentialId) -> CredentialRecord | None: ...

    @abstractmethod
    async def get_secret(self, credential_id: CredentialId) -> EncryptedSecret | None: ...

    @abstractmethod
    async def update(self, credential_id: CredentialId, values: Mapping[str, object], *, at: datetime,
                     by: int | None) -> None: ...

    @abstractmethod
    async def delete(self, credential_id: CredentialId) -> None: ...

    @abstractmethod
    async def list_page(self, query: CredentialQuery, page: PageRequest) -> Page[CredentialRecord]: ...

    @abstractmethod
    async def name_taken(self, name: str, *, exclude: CredentialId | None = None) -> bool: ...

    @abstractmethod
    async def referencing_instances(self, credential_id: CredentialId) -> list[int]:
        """Ids of every instance (soft-deleted included) that refers to the credential."""

    @abstractmethod
    async def key_usage(self) -> dict[str, int]:
        """Row count per key id."""

    @abstractmethod
    async def ids_not_encrypted_with(self, key_id: str, *, limit: int) -> list[CredentialId]:
        """Up to `limit` credential ids whose secret uses another key id (rotation batches)."""

    @abstractmethod
    async def find_by_name(self, name: str) -> CredentialRecord | None:
        """Case-insensitive lookup (CSV import)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TagRecord:
    id: TagId
    name: str
    display_name: str
    category: str
    description: str | None
    is_active: bool
    instance_count: int
    created_at: datetime
    updated_at: datetime
    revision: int

    @property
    def ref(self) -> TagRef:
        return TagRef(self.id, self.name, self.display_name, self.category)


@dataclass(frozen=True, slots=True, kw_only=True)
class TagQuery:
    q: str | None = None
    categories: frozenset[str] = frozenset()
    is_active: bool | None = None


Pair = tuple[InstanceId, TagId]


class TagRepository(Protocol):
    """Tags and instance↔tag links; link writes are idempotent set operations."""

    @abstractmethod
    async def add(self, values: Mapping[str, object], *, at: datetime) -> TagId: ...

    @abstractmethod
    async def get(self, tag_id: TagId) -> TagRecord | None: ...

    @abstractmethod
    async def update(self, tag_id: TagId, values: Mapping[str, object], *, at: datetime) -> None: ...

    @abstractmethod
    async def delete(self, tag_id: TagId) -> None: ...

    @abstractmethod
    async def list_page(self, query: TagQuery, page: PageRequest) -> Page[TagRecord]: ...

    @abstractmethod
    async def categories(self, page: PageRequest) -> Page[tuple[str, int]]: ...

    @abstractmethod
    async def name_taken(self, name: str, *, exclude: TagId | None = None) -> bool: ...

    @abstractmethod
    async def find_by_names(self, names: Sequence[str]) -> dict[str, TagRecord]:
        """Existing tags keyed by the lower-cased requested name."""

    @abstractmethod
    async def existing_ids(self, tag_ids: Sequence[TagId]) -> set[TagId]: ...

    @abstractmethod
    async def live_instance_ids(self, instance_ids: Sequence[InstanceId]) -> set[InstanceId]:
        """The ids that name existing, non-deleted instances."""

    @abstractmethod
    async def link_count(self, tag_id: TagId) -> int: ...

    @abstractmethod
    async def unlink_all(self, tag_id: TagId) -> int:
        """Remove every link of a tag; returns the count."""

    @abstractmethod
    async def link_missing(self, pairs: Sequence[Pair], *, at: datetime, by: int | None) -> set[Pair]:
        """INSERT … ON CONFLICT DO NOTHING for live pairs; returns the pairs actually inserted."""

    @abstractmethod
    async def unlink(self, pairs: Sequence[Pair]) -> set[Pair]:
        """DELETE … RETURNING; returns the pairs actually removed."""

    @abstractmethod
    async def clear(self, instance_ids: Sequence[InstanceId]) -> dict[InstanceId, int]:
        """Remove all tags of the instances; removed count per instance."""
