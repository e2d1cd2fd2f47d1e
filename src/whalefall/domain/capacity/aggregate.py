"""Period statistics (capacity.md §5): exact R1/R2/R3 rounding, baselines, trends, completeness, `aggregate`."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from whalefall.domain.capacity.samples import DatabaseSample, InstanceSample
from whalefall.domain.periods import PeriodType, Window, is_partial, previous_window

_HUNDRED = Decimal(100)
_S = TypeVar("_S", DatabaseSample, InstanceSample)
_K = TypeVar("_K", bound=Hashable)


def _scaled(units: int, places: int) -> Decimal:
    """`units · 10^-places` built from digits, so it is exact whatever the decimal context precision."""
    sign, digits, _ = Decimal(units).as_tuple()
    return Decimal((sign, digits, -places))


def r1_mean(values: Sequence[int]) -> int:
    """R1: the exact mean of non-negative integers rounded half up, `(2·Σv + n) div (2·n)`.

    SQL mirror: `IDIV(2*SUM(v) + COUNT(v), 2*COUNT(v))`. Raises `ValueError` for no values.
    """
    n = len(values)
    if n == 0:
        raise ValueError("R1 mean of no values")
    return (2 * sum(values) + n) // (2 * n)


def r2_percent(delta: int, base: int | None) -> Decimal | None:
    """R2: `100·delta/base` rounded half away from zero to 2 decimals, exactly; None when base is None or 0.

    Computed as `sign(Δ) · ((20000·|Δ| + p) div (2·p)) / 100`. Raises `ValueError` for a negative base.
    """
    if base is None or base == 0:
        return None
    if base < 0:
        raise ValueError("R2 base must not be negative")
    hundredths = (20000 * abs(delta) + base) // (2 * base)
    return _scaled(-hundredths if delta < 0 else hundredths, 2)


def r3_mean(values: Sequence[int]) -> Decimal:
    """R3: the mean of non-negative counts rounded half up to 2 decimals, `(200·Σc + n) div (2·n) / 100`."""
    n = len(values)
    if n == 0:
        raise ValueError("R3 mean of no values")
    return _scaled((200 * sum(values) + n) // (2 * n), 2)


class Trend(StrEnum):
    """Direction of a period's average against its baseline; `unknown` means there is no baseline."""

    GROWING = "growing"
    SHRINKING = "shrinking"
    STABLE = "stable"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AggregationPolicy:
    """Setting `capacity.trend_threshold_percent` (0–100, default 5.00). Raises `ValueError` outside the range."""

    trend_threshold_percent: Decimal = Decimal("5.00")

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.trend_threshold_percent <= _HUNDRED:
            raise ValueError("trend_threshold_percent must be within 0–100")


_DEFAULT_POLICY = AggregationPolicy()


@dataclass(frozen=True, slots=True)
class Change:
    """The change of an average against its baseline (§5.1 `change_bytes`, `change_percent`, `trend`)."""

    change_bytes: int | None
    change_percent: Decimal | None
    trend: Trend


def compare(current_avg: int, baseline_avg: int | None, policy: AggregationPolicy = _DEFAULT_POLICY) -> Change:
    """Change and trend of `current_avg` against `baseline_avg` (§5.4), using the rounded R2 percent.

    No baseline → `unknown` (never `stable`); baseline 0 → percent NULL and `growing` iff the change is positive;
    otherwise `growing` if percent > T, `shrinking` if < −T, else `stable`. Raises `ValueError` on negative input.
    """
    if current_avg < 0 or (baseline_avg is not None and baseline_avg < 0):
        raise ValueError("averages must not be negative")
    if baseline_avg is None:
        return Change(None, None, Trend.UNKNOWN)
    delta = current_avg - baseline_avg
    percent = r2_percent(delta, baseline_avg)
    if percent is None:
        return Change(delta, None, Trend.GROWING if delta > 0 else Trend.STABLE)
    threshold = policy.trend_threshold_percent
    if percent > threshold:
        return Change(delta, percent, Trend.GROWING)
    if percent < -threshold:
        return Change(delta, percent, Trend.SHRINKING)
    return Change(delta, percent, Trend.STABLE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Completeness:
    """§5.5 for one instance and window; database rows of that instance carry the same four values."""

    is_partial: bool
    is_complete: bool
    expected_days: int
    covered_days: int


class _Windowed:
    """Storage-key views of a row's `window`."""

    __slots__ = ()
    window: Window

    @property
    def period_type(self) -> PeriodType:
        return self.window.period

    @property
    def period_start(self) -> date:
        return self.window.start

    @property
    def period_end(self) -> date:
        return self.window.end


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabasePeriodStats(_Windowed):
    """One database over one window (§5.1); keys `(instance_id, database_name)` plus the window."""

    instance_id: int
    database_name: str
    window: Window
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
    trend: Trend
    is_partial: bool
    is_complete: bool
    expected_days: int
    covered_days: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InstancePeriodStats(_Windowed):
    """One instance over one window (§5.2). `avg_total_bytes` is the mean of daily totals, not bytes per database."""

    instance_id: int
    window: Window
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
    trend: Trend
    prev_last_database_count: int | None
    database_count_delta: int | None
    is_partial: bool
    is_complete: bool
    expected_days: int
    covered_days: int


@dataclass(frozen=True, slots=True)
class AggregationResult:
    """Rows of one window: databases sorted by (instance_id, database_name), instances by instance_id."""

    databases: tuple[DatabasePeriodStats, ...]
    instances: tuple[InstancePeriodStats, ...]


def _group(samples: Iterable[_S], window: Window, key: Callable[[_S], _K],
           sizes: Callable[[_S], tuple[int | None, ...]]) -> dict[_K, list[_S]]:
    """Validate every sample (no negative value, no repeated key and day), keep those inside `window`, group them
    by `key` and order each group by day."""
    seen: set[tuple[_K, date]] = set()
    groups: dict[_K, list[_S]] = {}
    for s in samples:
        if any(v is not None and v < 0 for v in sizes(s)):
            raise ValueError(f"negative size or count in {s!r}")
        group, day = key(s), s.collected_on
        if (group, day) in seen:
            raise ValueError(f"duplicate sample {group!r} on {day}")
        seen.add((group, day))
        if window.contains(day):
            groups.setdefault(group, []).append(s)
    for rows in groups.values():
        rows.sort(key=lambda r: r.collected_on)
    return groups


def _database_groups(samples: Iterable[DatabaseSample], window: Window) -> dict[tuple[int, str], list[DatabaseSample]]:
    return _group(samples, window, lambda s: (s.instance_id, s.database_name),
                  lambda s: (s.size_bytes, s.data_bytes, s.log_bytes))


def _instance_groups(samples: Iterable[InstanceSample], window: Window) -> dict[int, list[InstanceSample]]:
    return _group(samples, window, lambda s: s.instance_id,
                  lambda s: (s.total_bytes, s.database_count, s.missing_database_count, s.data_bytes, s.log_bytes))


def completeness(
    window: Window, samples: Iterable[InstanceSample], *, today: date, tracking_start: date
) -> Completeness:
    """§5.5: expected days are `[max(window.start, tracking_start), expected_end]`, where `expected_end` is
    `window.end` for a complete window and `today − 1` for a partial one; covered days are those of the range
    with an instance sample whose `missing_database_count` is 0. An empty range is 0 of 0, hence complete.
    """
    partial = is_partial(window, today)
    first = max(window.start, tracking_start)
    last = today - timedelta(days=1) if partial else window.end
    expected = max(0, (last - first).days + 1)
    covered = len({s.collected_on for s in samples
                   if s.missing_database_count == 0 and first <= s.collected_on <= last})
    return Completeness(is_partial=partial, is_complete=covered == expected, expected_days=expected,
                        covered_days=covered)


def _optional_mean(values: Iterable[int | None]) -> int | None:
    """R1 over the non-NULL values; None when all are NULL."""
    present = [v for v in values if v is not None]
    return r1_mean(present) if present else None


def _last_present(values: Iterable[int | None]) -> int | None:
    """The last non-NULL value in date order; None when all are NULL."""
    present = [v for v in values if v is not None]
    return present[-1] if present else None


def _database_row(key: tuple[int, str], window: Window, rows: list[DatabaseSample], *,
                  previous: list[DatabaseSample] | None, done: Completeness,
                  policy: AggregationPolicy) -> DatabasePeriodStats:
    sizes = [r.size_bytes for r in rows]
    data, logs = [r.data_bytes for r in rows], [r.log_bytes for r in rows]
    avg = r1_mean(sizes)
    baseline = r1_mean([r.size_bytes for r in previous]) if previous else None
    change = compare(avg, baseline, policy)
    return DatabasePeriodStats(
        instance_id=key[0], database_name=key[1], window=window, sample_count=len(rows),
        first_sample_on=rows[0].collected_on, last_sample_on=rows[-1].collected_on,
        avg_bytes=avg, min_bytes=min(sizes), max_bytes=max(sizes), last_bytes=sizes[-1],
        avg_data_bytes=_optional_mean(data), last_data_bytes=_last_present(data),
        avg_log_bytes=_optional_mean(logs), last_log_bytes=_last_present(logs),
        is_system=rows[-1].is_system, prev_avg_bytes=baseline,
        change_bytes=change.change_bytes, change_percent=change.change_percent, trend=change.trend,
        is_partial=done.is_partial, is_complete=done.is_complete,
        expected_days=done.expected_days, covered_days=done.covered_days,
    )


def _instance_row(instance_id: int, window: Window, rows: list[InstanceSample], *,
                  previous: list[InstanceSample] | None, done: Completeness,
                  policy: AggregationPolicy) -> InstancePeriodStats:
    totals = [r.total_bytes for r in rows]
    counts = [r.database_count for r in rows]
    avg = r1_mean(totals)
    baseline = r1_mean([r.total_bytes for r in previous]) if previous else None
    prev_count = previous[-1].database_count if previous else None
    change = compare(avg, baseline, policy)
    return InstancePeriodStats(
        instance_id=instance_id, window=window, sample_count=len(rows),
        first_sample_on=rows[0].collected_on, last_sample_on=rows[-1].collected_on,
        avg_total_bytes=avg, min_total_bytes=min(totals), max_total_bytes=max(totals), last_total_bytes=totals[-1],
        avg_data_bytes=_optional_mean(r.data_bytes for r in rows),
        avg_log_bytes=_optional_mean(r.log_bytes for r in rows),
        avg_database_count=r3_mean(counts), min_database_count=min(counts), max_database_count=max(counts),
        last_database_count=counts[-1], prev_avg_total_bytes=baseline,
        change_bytes=change.change_bytes, change_percent=change.change_percent, trend=change.trend,
        prev_last_database_count=prev_count,
        database_count_delta=None if prev_count is None else counts[-1] - prev_count,
        is_partial=done.is_partial, is_complete=done.is_complete,
        expected_days=done.expected_days, covered_days=done.covered_days,
    )


def aggregate(
    window: Window,
    database_samples: Iterable[DatabaseSample],
    instance_samples: Iterable[InstanceSample],
    *,
    today: date,
    previous_database_samples: Iterable[DatabaseSample] = (),
    previous_instance_samples: Iterable[InstanceSample] = (),
    tracking_start: Mapping[int, date] | None = None,
    policy: AggregationPolicy = _DEFAULT_POLICY,
) -> AggregationResult:
    """The reference semantics of aggregation (§5, §6): one row per database and per instance with ≥ 1 sample.

    Samples outside `window` (previous samples outside `previous_window(window)`) are ignored, but every
    supplied sample is validated: a negative size or count, or two samples with the same key in one argument,
    raise `ValueError`. The baseline is computed from the previous-window samples with the same formula; with
    none there is no baseline here. Falling back to the stored complete row of the previous window (§5.3) is a
    persistence concern: a caller holding that row but no raw samples compares with `compare` itself.
    Completeness (§5.5) is per instance, from the instance samples; `tracking_start` (business date of the
    instance's creation) defaults to `window.start` when absent. Database rows inherit their instance's values,
    even when that instance has no sample in the window (then nothing is covered).
    """
    previous = previous_window(window)
    current_db = _database_groups(database_samples, window)
    previous_db = _database_groups(previous_database_samples, previous)
    current_inst = _instance_groups(instance_samples, window)
    previous_inst = _instance_groups(previous_instance_samples, previous)
    starts = tracking_start or {}
    done = {
        i: completeness(window, current_inst.get(i, ()), today=today, tracking_start=starts.get(i, window.start))
        for i in {i for i, _ in current_db} | current_inst.keys()
    }
    databases = tuple(
        _database_row(key, window, rows, previous=previous_db.get(key), done=done[key[0]], policy=policy)
        for key, rows in sorted(current_db.items())
    )
    instances = tuple(
        _instance_row(i, window, rows, previous=previous_inst.get(i), done=done[i], policy=policy)
        for i, rows in sorted(current_inst.items())
    )
    return AggregationResult(databases, instances)
