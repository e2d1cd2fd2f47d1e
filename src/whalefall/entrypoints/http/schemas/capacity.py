"""Wire shapes of the capacity routes (api.md §3.11; capacity spec §5, §7): rows, summaries, samples, forecasts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from whalefall.application.capacity.capacity_queries import CapacitySummary
from whalefall.application.capacity.forecast_capacity import CapacityForecast
from whalefall.application.ports.capacity import (
    DatabaseAggregationView,
    DatabaseSampleView,
    InstanceAggregationView,
    InstanceRef,
    InstanceSampleView,
)
from whalefall.domain.capacity import PeriodType
from whalefall.domain.instances import DbEngine


class InstanceRefOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    db_type: str

    @classmethod
    def of(cls, ref: InstanceRef) -> InstanceRefOut:
        return cls(id=ref.id, name=ref.name, db_type=ref.db_type.value)


class DatabaseAggregationOut(msgspec.Struct, kw_only=True):
    instance: InstanceRefOut
    database_id: int | None
    database_name: str
    database_status: str
    period_type: str
    period_start: date
    period_end: date
    sample_count: int
    first_sample_on: date
    last_sample_on: date
    avg_bytes: int
    min_bytes: int
    max_bytes: int
    last_bytes: int
    avg_data_bytes: int | None
    last_data_bytes: int | None
    avg_log_bytes: int | None
    last_log_bytes: int | None
    is_system: bool
    prev_avg_bytes: int | None
    change_bytes: int | None
    change_percent: Decimal | None
    trend: str
    is_partial: bool
    is_complete: bool
    expected_days: int
    covered_days: int

    @classmethod
    def of(cls, view: DatabaseAggregationView) -> DatabaseAggregationOut:
        s = view.stats
        return cls(instance=InstanceRefOut.of(view.instance), database_id=view.database_id,
                   database_name=s.database_name, database_status=view.database_status,
                   period_type=s.period_type.value, period_start=s.period_start, period_end=s.period_end,
                   sample_count=s.sample_count, first_sample_on=s.first_sample_on, last_sample_on=s.last_sample_on,
                   avg_bytes=s.avg_bytes, min_bytes=s.min_bytes, max_bytes=s.max_bytes, last_bytes=s.last_bytes,
                   avg_data_bytes=s.avg_data_bytes, last_data_bytes=s.last_data_bytes, avg_log_bytes=s.avg_log_bytes,
                   last_log_bytes=s.last_log_bytes, is_system=s.is_system, prev_avg_bytes=s.prev_avg_bytes,
                   change_bytes=s.change_bytes, change_percent=s.change_percent, trend=s.trend.value,
                   is_partial=s.is_partial, is_complete=s.is_complete, expected_days=s.expected_days,
                   covered_days=s.covered_days)


class InstanceAggregationOut(msgspec.Struct, kw_only=True):
    instance: InstanceRefOut
    period_type: str
    period_start: date
    period_end: date
    sample_count: int
    first_sample_on: date
    last_sample_on: date
    avg_total_bytes: int
    min_total_bytes: int
    max_total_bytes: int
    last_total_bytes: int
    avg_data_bytes: int | None
    avg_log_bytes: int | None
    avg_database_count: Decimal
    min_database_count: int
    max_database_count: int
    last_database_count: int
    prev_avg_total_bytes: int | None
    change_bytes: int | None
    change_percent: Decimal | None
    trend: str
    prev_last_database_count: int | None
    database_count_delta: int | None
    is_partial: bool
    is_complete: bool
    expected_days: int
    covered_days: int

    @classmethod
    def of(cls, view: InstanceAggregationView) -> InstanceAggregationOut:
        s = view.stats
        return cls(instance=InstanceRefOut.of(view.instance), period_type=s.period_type.value,
                   period_start=s.period_start, period_end=s.period_end, sample_count=s.sample_count,
                   first_sample_on=s.first_sample_on, last_sample_on=s.last_sample_on,
                   avg_total_bytes=s.avg_total_bytes, min_total_bytes=s.min_total_bytes,
                   max_total_bytes=s.max_total_bytes, last_total_bytes=s.last_total_bytes,
                   avg_data_bytes=s.avg_data_bytes, avg_log_bytes=s.avg_log_bytes,
                   avg_database_count=s.avg_database_count, min_database_count=s.min_database_count,
                   max_database_count=s.max_database_count, last_database_count=s.last_database_count,
                   prev_avg_total_bytes=s.prev_avg_total_bytes, change_bytes=s.change_bytes,
                   change_percent=s.change_percent, trend=s.trend.value,
                   prev_last_database_count=s.prev_last_database_count, database_count_delta=s.database_count_delta,
                   is_partial=s.is_partial, is_complete=s.is_complete, expected_days=s.expected_days,
                   covered_days=s.covered_days)


class TrendCountsOut(msgspec.Struct, kw_only=True):
    growing: int
    shrinking: int
    stable: int
    unknown: int


class SummaryOut(msgspec.Struct, kw_only=True):
    period_type: str
    period_start: date
    period_end: date
    is_partial: bool
    row_count: int
    instance_count: int
    incomplete_instance_count: int
    total_avg_bytes: int
    total_last_bytes: int
    total_prev_avg_bytes: int | None
    total_change_bytes: int | None
    change_percent: Decimal | None
    trend_counts: TrendCountsOut

    @classmethod
    def of(cls, summary: CapacitySummary) -> SummaryOut:
        t = summary.totals
        return cls(period_type=summary.window.period.value, period_start=summary.window.start,
                   period_end=summary.window.end, is_partial=summary.is_partial, row_count=t.row_count,
                   instance_count=t.instance_count, incomplete_instance_count=t.incomplete_instance_count,
                   total_avg_bytes=t.total_avg_bytes, total_last_bytes=t.total_last_bytes,
                   total_prev_avg_bytes=t.total_prev_avg_bytes, total_change_bytes=t.total_change_bytes,
                   change_percent=summary.change_percent, trend_counts=TrendCountsOut(**t.trend_counts))


class DatabaseSampleOut(msgspec.Struct, kw_only=True):
    instance_id: int
    database_name: str
    collected_on: date
    collected_at: datetime
    size_bytes: int
    data_bytes: int | None
    log_bytes: int | None
    is_system: bool

    @classmethod
    def of(cls, v: DatabaseSampleView) -> DatabaseSampleOut:
        return cls(instance_id=v.instance_id, database_name=v.database_name, collected_on=v.collected_on,
                   collected_at=v.collected_at, size_bytes=v.size_bytes, data_bytes=v.data_bytes,
                   log_bytes=v.log_bytes, is_system=v.is_system)


class InstanceSampleOut(msgspec.Struct, kw_only=True):
    instance_id: int
    collected_on: date
    collected_at: datetime
    total_bytes: int
    data_bytes: int | None
    log_bytes: int | None
    database_count: int
    missing_database_count: int
    unattributed_bytes: int | None

    @classmethod
    def of(cls, v: InstanceSampleView) -> InstanceSampleOut:
        return cls(instance_id=v.instance_id, collected_on=v.collected_on, collected_at=v.collected_at,
                   total_bytes=v.total_bytes, data_bytes=v.data_bytes, log_bytes=v.log_bytes,
                   database_count=v.database_count, missing_database_count=v.missing_database_count,
                   unattributed_bytes=v.unattributed_bytes)


class ProjectionOut(msgspec.Struct, kw_only=True):
    horizon_days: int
    on: date
    projected_bytes: int


class ForecastOut(msgspec.Struct, kw_only=True):
    instance: InstanceRefOut
    database_name: str | None
    status: str
    as_of: date
    window_start: date
    sample_count: int
    slope_bytes_per_day: Decimal | None
    fitted_bytes: int | None
    r_squared: Decimal | None
    projections: list[ProjectionOut]
    threshold_bytes: int | None
    days_until_threshold: int | None
    threshold_on: date | None

    @classmethod
    def of(cls, result: CapacityForecast) -> ForecastOut:
        f = result.forecast
        return cls(instance=InstanceRefOut.of(result.instance), database_name=result.database_name,
                   status=f.status, as_of=f.as_of, window_start=f.window_start, sample_count=f.sample_count,
                   slope_bytes_per_day=f.slope_bytes_per_day, fitted_bytes=f.fitted_bytes, r_squared=f.r_squared,
                   projections=[ProjectionOut(horizon_days=p.horizon_days, on=p.on, projected_bytes=p.projected_bytes)
                                for p in f.projections],
                   threshold_bytes=f.threshold_bytes, days_until_threshold=f.days_until_threshold,
                   threshold_on=f.threshold_on)


class WindowStartIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    start: date


class AggregateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /capacity/actions/aggregate`: period types (default all five) and the window to compute."""

    period_types: list[PeriodType] | None = None
    window: Literal["last_complete", "current"] | WindowStartIn = "last_complete"

    def window_spec(self) -> object:
        return self.window if isinstance(self.window, str) else {"start": self.window.start.isoformat()}


class CollectIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /capacity/actions/collect`: api.md §1.13 Selection plus `include_tables` (absent = each instance's
    `collect_table_sizes`)."""

    instance_ids: Annotated[list[Annotated[int, Meta(ge=1)]], Meta(max_length=5000)] | None = None
    db_types: list[DbEngine] | None = None
    tags_any: Annotated[list[str], Meta(max_length=100)] | None = None
    tags_all: Annotated[list[str], Meta(max_length=100)] | None = None
    include_tables: bool | None = None


class SyncCapacityIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /instances/{id}/actions/sync-capacity`: `include_tables` (absent = the instance's flag)."""

    include_tables: bool | None = None
