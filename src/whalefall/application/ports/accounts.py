"""Ports of the accounts context: the ledger writer of one sync and the ledger/change-log reader (accounts.md §6)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.accounts.diff import SnapshotDiff, StoredPrincipal
from whalefall.domain.accounts.model import AttrValue, CoverageGap, JsonValue, PrincipalKind, PrincipalRef
from whalefall.domain.instances import DbEngine, InstanceId


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountFilterOverride:
    """One instance's replacement of `accounts.filters.<engine>` (accounts.md §3): `exclude` replaces the engine's
    list (empty = exclude nothing); `exclude_oracle_maintained` None keeps the engine's setting."""

    exclude: tuple[str, ...]
    exclude_oracle_maintained: bool | None = None
    updated_at: datetime | None = None
    updated_by_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedInstance:
    """The instance row, locked for the apply transaction, with its account filter override (None: none)."""

    id: InstanceId
    db_type: DbEngine
    is_active: bool
    deleted: bool
    accounts_synced_at: datetime | None
    coverage_gaps: tuple[CoverageGap, ...]
    filter_override: AccountFilterOverride | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerPrincipal:
    """A stored principal and its row id (the diff input plus what the writer needs to update it)."""

    id: int
    stored: StoredPrincipal


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerApply:
    """Everything one successful sync writes for one instance, in the caller's transaction.

    `diff` is the domain diff (entries and write plan); `current` the principals it was computed from;
    `superusers` the refs whose state holds SUPERUSER (denormalised list filter); `settings` the snapshot's
    instance-level inputs; `coverage_gaps` the gaps of this sync with `stale_since` resolved; `grants_stale` the
    refs whose applied state holds carried-forward items (the denormalised `grants_stale` flag).
    """

    instance_id: InstanceId
    observed_at: datetime
    session_id: str
    record_id: int
    diff: SnapshotDiff
    current: Mapping[PrincipalRef, LedgerPrincipal]
    superusers: frozenset[PrincipalRef]
    settings: Mapping[str, AttrValue]
    coverage_gaps: tuple[CoverageGap, ...]
    grants_stale: frozenset[PrincipalRef] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedSync:
    """Row ids of the principals written (new ones included) and the number of change entries inserted."""

    principal_ids: Mapping[PrincipalRef, int]
    change_count: int


class AccountLedgerWriter(Protocol):
    """Writes of one sync. Every method runs in the caller's unit of work; nothing is committed here."""

    @abstractmethod
    async def lock_instance(self, instance_id: InstanceId) -> LockedInstance | None:
        """Lock the instance row (`FOR UPDATE` on PostgreSQL; SQLite holds the write lock already); None when the
        instance does not exist."""

    @abstractmethod
    async def current_principals(self, instance_id: InstanceId, *,
                                 fresh: Mapping[PrincipalRef, tuple[PrincipalKind, str]] | None = None,
                                 ) -> dict[PrincipalRef, LedgerPrincipal]:
        """Every principal ever stored for the instance with its current (or last known) state, in a constant
        number of queries. Active principals whose stored kind and state hash equal `fresh[ref]` come without
        their state document (the diff only compares their hash), so an unchanged re-sync parses no documents."""

    @abstractmethod
    async def apply(self, data: LedgerApply) -> AppliedSync:
        """Write the plan: principals, state versions, grant/membership intervals, change entries (each with
        the real session and record ids), settings and coverage when they changed, and `accounts_synced_at`.
        Unchanged principals cost zero row writes; inserts are batched."""


class AccountFilterOverrides(Protocol):
    """Per-instance account filter overrides, in the caller's unit of work."""

    @abstractmethod
    async def get(self, instance_id: InstanceId) -> AccountFilterOverride | None: ...

    @abstractmethod
    async def put(self, instance_id: InstanceId, override: AccountFilterOverride) -> None:
        """Insert or replace the instance's override (its `updated_at`/`updated_by_name` are stored)."""

    @abstractmethod
    async def delete(self, instance_id: InstanceId) -> bool:
        """Remove the override; False when there was none."""


@dataclass(frozen=True, slots=True)
class InstanceBrief:
    id: int
    name: str
    db_type: DbEngine


@dataclass(frozen=True, slots=True, kw_only=True)
class GapView:
    database: str
    reason: str
    stale_since: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountClassification:
    """A current assignment of the account (api.md §2 Account.classifications)."""

    id: int
    code: str
    display_name: str
    is_primary: bool
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountClassificationError:
    """An error row of the latest classification run covering the account (classification.md §9)."""

    rule_id: int | None
    rule_revision: int | None
    code: str
    path: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountView:
    """One principal as an account row (api.md §2 Account). `grants_stale`: its state holds items carried
    forward from an unread segment (accounts.md §6.1); `instance_tags` are tag names (CSV export)."""

    id: int
    instance: InstanceBrief
    flavor: str | None
    kind: PrincipalKind
    namespace: str
    key: str
    is_account: bool
    is_active: bool
    login_capable: bool
    is_locked: bool
    is_superuser: bool
    password_expired: bool
    attributes: Mapping[str, JsonValue]
    roles: tuple[str, ...]
    first_seen_at: datetime
    deactivated_at: datetime | None
    deactivation_reason: str | None
    last_changed_at: datetime | None
    last_synced_at: datetime | None
    coverage_gaps: tuple[GapView, ...]
    grants_stale: bool = False
    classifications: tuple[AccountClassification, ...] = ()
    classification_errors: tuple[AccountClassificationError, ...] = ()
    instance_tags: tuple[str, ...] = ()

    @property
    def primary_classification(self) -> AccountClassification | None:
        return next((c for c in self.classifications if c.is_primary), None)

    @property
    def ref(self) -> PrincipalRef:
        return PrincipalRef.of(self.kind, self.key, self.namespace)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountQuery:
    """Filters of GET /accounts; empty sets mean no restriction."""

    instance_ids: frozenset[int] = frozenset()
    db_types: frozenset[DbEngine] = frozenset()
    tags_any: frozenset[str] = frozenset()
    tags_all: frozenset[str] = frozenset()
    q: str | None = None
    kinds: frozenset[PrincipalKind] = frozenset()
    include_inactive: bool = False
    is_locked: bool | None = None
    is_superuser: bool | None = None
    login_capable: bool | None = None
    changed_since: datetime | None = None
    classification_ids: frozenset[int] = frozenset()
    unclassified: bool | None = None
    grants_stale: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StateVersionView:
    id: int
    principal_id: int
    state: Mapping[str, object]
    state_hash: str
    valid_from: datetime
    valid_to: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantView:
    """An open or historic grant interval (api.md §2 Grant)."""

    principal_id: int
    privilege: str
    scope: str
    object: tuple[str, ...]
    object_path: str
    object_kind: str | None
    effect: str
    grant_option: bool
    implicit: bool
    pattern: bool
    grantor: str | None
    valid_from: datetime
    valid_to: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MembershipView:
    """An open membership interval (api.md §2 Membership)."""

    role: PrincipalRef
    admin_option: bool
    inherit: bool
    set: bool
    default: bool | None
    delegate_option: bool
    implicit: bool
    valid_from: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeView:
    id: int
    instance_id: int
    account_id: int
    type: str
    observed_at: datetime
    record_id: int
    session_id: str
    diff_version: int
    diff: Mapping[str, object]
    summary: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeExportRow:
    """A change entry with the names the CSV export shows (api.md §5.2 account changes)."""

    change: ChangeView
    instance_name: str
    db_type: DbEngine
    namespace: str
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeQuery:
    """Change entries with `since` < observed_at ≤ `until` (the ledger interval), ordered by observed_at, id."""

    since: datetime
    until: datetime
    instance_ids: frozenset[int] = frozenset()
    account_ids: frozenset[int] = frozenset()
    db_types: frozenset[DbEngine] = frozenset()
    types: frozenset[str] = frozenset()
    session_id: str | None = None
    q: str | None = None
    descending: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class StateAtInstant:
    """The principals of one instance as they were at an instant (effective privileges, holders)."""

    engine: DbEngine
    flavor: str | None
    settings: Mapping[str, AttrValue]
    states: Sequence[tuple[int, PrincipalRef, bool, Mapping[str, object]]] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True, kw_only=True)
class HolderQuery:
    privilege: str
    scope: str
    at: datetime
    object_path: str | None = None
    instance_ids: frozenset[int] = frozenset()


class AccountLedgerReader(Protocol):
    """Read side of the ledger: account lists, current grants, state versions, intervals and the change log."""

    @abstractmethod
    async def list_accounts(self, query: AccountQuery, page: PageRequest) -> Page[AccountView]:
        """Accounts (principals with is_account) of non-deleted instances; active only unless asked."""

    @abstractmethod
    async def export_accounts(self, query: AccountQuery, page: PageRequest) -> list[AccountView]:
        """Every account matching the query, in the page request's sort order (the page bounds are ignored)."""

    @abstractmethod
    async def get_account(self, account_id: int) -> AccountView | None:
        """Any principal by id (an account row or a role node), None when unknown or its instance is deleted."""

    @abstractmethod
    async def grants_at(self, account_id: int, at: datetime | None = None) -> list[GrantView]:
        """Grant intervals covering `at` (None: open now), in canonical order."""

    @abstractmethod
    async def memberships_at(self, account_id: int, at: datetime | None = None) -> list[MembershipView]:
        """Membership intervals covering `at` (None: open now), by role."""

    @abstractmethod
    async def version_at(self, account_id: int, at: datetime) -> StateVersionView | None:
        """The state version with valid_from ≤ at < valid_to (or open)."""

    @abstractmethod
    async def versions(self, account_id: int, page: PageRequest) -> Page[StateVersionView]:
        """State versions by valid_from (ascending)."""

    @abstractmethod
    async def first_observed_at(self, instance_id: int) -> datetime | None:
        """The first observation of any principal of the instance."""

    @abstractmethod
    async def last_sync_at_or_before(self, instance_id: int, at: datetime) -> datetime | None:
        """The instance's last successful account sync at or before `at` (see the adapter for the bound)."""

    @abstractmethod
    async def states_at(self, instance_id: int, at: datetime) -> StateAtInstant | None:
        """Every principal's state version covering `at`; None when the instance does not exist."""

    @abstractmethod
    async def changes(self, query: ChangeQuery, page: PageRequest) -> Page[ChangeView]:
        """Change entries matching the query."""

    @abstractmethod
    async def change(self, change_id: int) -> ChangeView | None: ...

    @abstractmethod
    async def export_changes(self, query: ChangeQuery) -> list[ChangeExportRow]:
        """Every change entry matching the query, by observed_at (descending when the query says so), then id."""

    @abstractmethod
    async def changes_of(self, account_id: int, since: datetime, until: datetime | None) -> list[ChangeView]:
        """Every change of one principal with since ≤ observed_at < until (open when None), oldest first."""

    @abstractmethod
    async def holders(self, query: HolderQuery) -> list[GrantView]:
        """Grant intervals covering `at` for the privilege/scope (and object path, instances)."""

    @abstractmethod
    async def accounts_by_ids(self, account_ids: Sequence[int]) -> dict[int, AccountView]:
        """Account views of the given principal ids (one query)."""

    @abstractmethod
    async def instance_ids_with_privilege(self, privilege: str, scope: str, at: datetime,
                                          instance_ids: frozenset[int]) -> list[int]:
        """Instances where any principal held the privilege at `at` (candidates for effective holders)."""


class HistoryTable(StrEnum):
    """The expiring parts of the accounts history (accounts.md §6.1, §6.2 retention)."""

    CHANGES = "principal_changes"
    STATE_VERSIONS = "principal_state_versions"
    GRANT_INTERVALS = "grant_intervals"
    MEMBERSHIP_INTERVALS = "membership_intervals"
    SETTINGS = "snapshot_settings"


class AccountHistoryPurger(Protocol):
    """Deletes expired accounts history, one bounded batch per call, each in its own transaction."""

    @abstractmethod
    async def delete_batch(self, table: HistoryTable, cutoff: datetime, limit: int) -> int:
        """Delete at most `limit` rows and commit; returns how many went. CHANGES: `observed_at` < cutoff. The
        others: rows that ended (`valid_to`) before the cutoff; open rows are never touched, and neither is the
        state version a principal still points at as its current or last known state (reactivation diffs
        against it)."""
