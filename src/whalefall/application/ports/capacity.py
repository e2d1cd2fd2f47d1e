"""Capacity ports: set-based aggregation, day-sample and ledger writes, and the read side of the capacity API."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Literal, Protocol

from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.capacity import (
    AggregationPolicy,
    DatabasePeriodStats,
    DatabaseSample,
    InstancePeriodStats,
    InstanceSample,
    PeriodType,
    Trend,
    Window,
)
from whalefall.domain.capacity.ledger import LedgerEntry as LedgerEntry  # noqa: PLC0414 (explicit re-export)
from whalefall.domain.capacity.ledger import LedgerStatus as LedgerStatus  # noqa: PLC0414 (explicit re-export)
from whalefall.domain.instances import DbEngine

Freshness = Literal["fresh", "stale", "never"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregationRun:
    """One set-based aggregation: every window (any period types) with the business `today` and time zone (for
    instances' tracking start), the trend policy, and the stamp written on every row."""

    windows: tuple[Window, ...]
    today: date
    business_zone: tzinfo
    policy: AggregationPolicy
    computed_at: datetime
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class AggregationCounts:
    """Rows written (inserted or updated) per level."""

    database_rows: int
    instance_rows: int


class AggregationStore(Protocol):
    """Writes period aggregations with the reference semantics of `whalefall.domain.capacity.aggregate`."""

    @abstractmethod
    async def aggregate(self, run: AggregationRun) -> AggregationCounts:
        """Per level ONE `INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE` covering every instance and window;
        the statement count does not depend on fleet size. Idempotent (rows differ only in computed_at and
        session_id); never deletes. Baselines come from the previous window's raw samples, else from the stored
        non-partial row of that window. Runs in the caller's transaction; the caller commits."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyCollection:
    """One instance's successful size collection for one business day (capacity.md §1.5, §3.1 step 4)."""

    instance_id: int
    collected_on: date
    collected_at: datetime
    databases: tuple[DatabaseSample, ...]
    missing_database_count: int = 0
    unattributed_bytes: int | None = None
    session_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TableSize:
    schema_name: str
    table_name: str
    total_bytes: int
    data_bytes: int | None = None
    index_bytes: int | None = None
    row_estimate: int | None = None


class CapacityWriter(Protocol):
    """Ledger, day samples and table sizes, written in the caller's transaction (one per collected instance)."""

    @abstractmethod
    async def ledger(self, instance_id: int) -> list[LedgerEntry]:
        """Every ledger row of the instance, by name."""

    @abstractmethod
    async def save_ledger(self, instance_id: int, entries: Sequence[LedgerEntry]) -> None:
        """Upsert the given rows by (instance, name) as one set; rows not given are untouched (never deleted)."""

    @abstractmethod
    async def write_day(self, day: DailyCollection) -> InstanceSample:
        """Replace the day's database samples as a whole (names not given are deleted, the others upserted), upsert
        the instance sample derived from them (total = Σ size, count = number of samples: the §1.5 invariant) and
        copy the latest size into the ledger. Raises ValueError for duplicate names or negative sizes."""

    @abstractmethod
    async def replace_table_sizes(self, instance_id: int, database_name: str, tables: Sequence[TableSize], *,
                                  collected_at: datetime, truncated: bool) -> None:
        """Replace the latest table-size snapshot of one database atomically."""


@dataclass(frozen=True, slots=True)
class InstanceRef:
    id: int
    name: str
    db_type: DbEngine
    capacity_limit_bytes: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregationQuery:
    """Filters of `/capacity/{databases,instances}` (api.md §3.11); `period_start` pins one period (summaries)."""

    period_type: PeriodType
    start_on: date | None = None
    end_on: date | None = None
    period_start: date | None = None
    instance_ids: frozenset[int] = frozenset()
    database_ids: frozenset[int] = frozenset()
    db_types: frozenset[DbEngine] = frozenset()
    tags_any: frozenset[str] = frozenset()
    trends: frozenset[Trend] = frozenset()
    is_complete: bool | None = None
    include_partial: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseAggregationView:
    stats: DatabasePeriodStats
    instance: InstanceRef
    database_id: int | None
    database_status: LedgerStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceAggregationView:
    stats: InstancePeriodStats
    instance: InstanceRef


@dataclass(frozen=True, slots=True, kw_only=True)
class SummaryTotals:
    """Plain sums over the matching rows of one period (api.md §3.11); prev/change sums only over rows with a
    baseline (`baseline_rows` of them)."""

    row_count: int
    instance_count: int
    incomplete_instance_count: int
    total_avg_bytes: int
    total_last_bytes: int
    total_prev_avg_bytes: int | None
    total_change_bytes: int | None
    trend_counts: Mapping[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseSampleView:
    instance_id: int
    database_name: str
    collected_on: date
    collected_at: datetime
    size_bytes: int
    data_bytes: int | None
    log_bytes: int | None
    is_system: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceSampleView:
    instance_id: int
    collected_on: date
    collected_at: datetime
    total_bytes: int
    data_bytes: int | None
    log_bytes: int | None
    database_count: int
    missing_database_count: int
    unattributed_bytes: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleQuery:
    instance_id: int
    start_on: date
    end_on: date
    database_name: str | None = None


class CapacityReader(Protocol):
    """Aggregation rows, summaries, raw samples and forecast series."""

    @abstractmethod
    async def instance(self, instance_id: int) -> InstanceRef | None:
        """The instance (deleted ones included) or None."""

    @abstractmethod
    async def database_rows(self, query: AggregationQuery, page: PageRequest) -> Page[DatabaseAggregationView]:
        """Database rows of one period type whatever the ledger status (a `gone` database keeps its rows)."""

    @abstractmethod
    async def instance_rows(self, query: AggregationQuery, page: PageRequest) -> Page[InstanceAggregationView]: ...

    @abstractmethod
    async def database_totals(self, query: AggregationQuery) -> SummaryTotals:
        """Totals of the rows matching `query` (which pins `period_start`)."""

    @abstractmethod
    async def instance_totals(self, query: AggregationQuery) -> SummaryTotals: ...

    @abstractmethod
    async def database_samples(self, query: SampleQuery, page: PageRequest) -> Page[DatabaseSampleView]: ...

    @abstractmethod
    async def instance_samples(self, query: SampleQuery, page: PageRequest) -> Page[InstanceSampleView]: ...

    @abstractmethod
    async def size_series(self, instance_id: int, database_name: str | None, *, start_on: date,
                          end_on: date) -> list[tuple[date, int]]:
        """Forecast points by day: the database's `size_bytes`, or (no name) the instance's `total_bytes` of days
        with `missing_database_count = 0` only."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseQuery:
    """Filters of `GET /databases`; `today` decides freshness (fresh = collected on or after today − 1)."""

    today: date
    instance_ids: frozenset[int] = frozenset()
    db_types: frozenset[DbEngine] = frozenset()
    status: LedgerStatus | None = None
    is_system: bool | None = None
    is_excluded: bool | None = None
    freshness: Freshness | None = None
    q: str | None = None
    tags_any: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseView:
    id: int
    instance: InstanceRef
    name: str
    is_system: bool
    is_excluded: bool
    status: LedgerStatus
    first_seen_on: date
    last_seen_on: date
    gone_since: date | None
    last_size_bytes: int | None
    last_collected_on: date | None
    freshness: Freshness
    tables_truncated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TableSizeView:
    schema_name: str
    table_name: str
    total_bytes: int
    data_bytes: int | None
    index_bytes: int | None
    row_estimate: int | None
    collected_at: datetime


class DatabaseLedgerReader(Protocol):
    """The ledger as the API lists it: freshness from `last_collected_on` only, never a scan of the samples."""

    @abstractmethod
    async def list_page(self, query: DatabaseQuery, page: PageRequest) -> Page[DatabaseView]: ...

    @abstractmethod
    async def get(self, database_id: int, *, today: date) -> DatabaseView | None: ...

    @abstractmethod
    async def tables_page(self, database_id: int, *, schema: str | None, q: str | None,
                          page: PageRequest) -> Page[TableSizeView]: ...

