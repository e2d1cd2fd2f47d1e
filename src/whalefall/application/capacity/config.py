"""Capacity settings as the use cases need them, and the writable key range of the partitioned tables."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, tzinfo
from zoneinfo import ZoneInfo

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.partitions import PartitionKeyOutOfRangeError
from whalefall.domain.capacity import AggregationPolicy
from whalefall.domain.partitions import PartitionedTable, PartitionPolicy, write_horizon
from whalefall.domain.partitions.planner import retention_cutoff

SAMPLE_TABLES = ("database_size_samples", "instance_size_samples")
AGGREGATION_TABLES = ("database_size_aggregations", "instance_size_aggregations")


def default_partition_policy(*, samples_months: int = 24, aggregations_months: int = 60,
                             premake_months: int = 3) -> PartitionPolicy:
    """The four partitioned parents with the retention settings of capacity.md §11."""
    return PartitionPolicy(
        tables=tuple(PartitionedTable(t, samples_months) for t in SAMPLE_TABLES)
        + tuple(PartitionedTable(t, aggregations_months) for t in AGGREGATION_TABLES),
        premake_months=premake_months)


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityConfig:
    """`WHALEFALL_TIMEZONE`, the trend threshold, forecast defaults and the partition policy (for key ranges)."""

    zone: tzinfo = field(default_factory=lambda: ZoneInfo("UTC"))
    aggregation: AggregationPolicy = field(default_factory=AggregationPolicy)
    partitions: PartitionPolicy = field(default_factory=default_partition_policy)
    forecast_window_days: int = 90
    forecast_min_samples: int = 7

    def today(self, clock: Clock) -> date:
        """The business date: the clock's instant in the configured time zone."""
        return clock.now().astimezone(self.zone).date()

    def check_keys(self, keys: Iterable[date], tables: Iterable[str], *, today: date,
                   field_path: str | None = None) -> None:
        """Raise PartitionKeyOutOfRangeError for a key below the tables' retention cutoff or at/after the write
        horizon (capacity.md §8.1): such rows would be dropped at once or land in DEFAULT."""
        by_name = {t.name: t for t in self.partitions.tables}
        lower = max((retention_cutoff(today, by_name[t]) for t in tables if t in by_name), default=date.min)
        upper = write_horizon(today, self.partitions)
        for key in keys:
            if not lower <= key < upper:
                raise PartitionKeyOutOfRangeError(key, lower=lower, upper=upper, field_path=field_path)
