"""Embedding API of the capacity core (capacity.md §9): periods, samples, statistics, forecast, filters."""

from whalefall.domain.capacity.aggregate import (
    AggregationPolicy,
    AggregationResult,
    Change,
    DatabasePeriodStats,
    InstancePeriodStats,
    Trend,
    aggregate,
    compare,
)
from whalefall.domain.capacity.filters import CompiledPattern, DatabaseFilter, InvalidFilterPattern, compile_pattern
from whalefall.domain.capacity.forecast import Forecast, Projection, forecast
from whalefall.domain.capacity.samples import DatabaseSample, InstanceSample
from whalefall.domain.periods import (
    PeriodType,
    Window,
    is_partial,
    iter_windows,
    last_complete_window,
    period_window,
    previous_window,
)

__all__ = [
    "AggregationPolicy",
    "AggregationResult",
    "Change",
    "CompiledPattern",
    "DatabaseFilter",
    "DatabasePeriodStats",
    "DatabaseSample",
    "Forecast",
    "InstancePeriodStats",
    "InstanceSample",
    "InvalidFilterPattern",
    "PeriodType",
    "Projection",
    "Trend",
    "Window",
    "aggregate",
    "compare",
    "compile_pattern",
    "forecast",
    "is_partial",
    "iter_windows",
    "last_complete_window",
    "period_window",
    "previous_window",
]
