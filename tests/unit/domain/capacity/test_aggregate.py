"""Period statistics (capacity.md §5): E3–E7, legacy defects 2 and 5, the rounding rules and properties."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalefall.domain.capacity import (
    AggregationPolicy,
    Change,
    DatabaseSample,
    InstancePeriodStats,
    InstanceSample,
    PeriodType,
    Trend,
    Window,
    aggregate,
    compare,
    period_window,
)
from whalefall.domain.capacity.aggregate import r1_mean, r2_percent, r3_mean

D = date
WEEK = Window(PeriodType.WEEKLY, D(2027, 5, 10), D(2027, 5, 16))
TODAY = D(2027, 5, 19)


def _db_series(start: date, sizes: list[int], name: str = "shop", instance_id: int = 1) -> list[DatabaseSample]:
    return [DatabaseSample(instance_id, name, start + timedelta(days=i), size) for i, size in enumerate(sizes)]


def test_e3_database_weekly_stats() -> None:
    current = _db_series(D(2027, 5, 10), [8_000_000_000, 8_200_000_000, 8_300_000_000, 8_350_000_000,
                                          8_500_000_000, 8_600_000_000, 8_810_000_000])
    previous = _db_series(D(2027, 5, 3), [7_800_000_000, 7_900_000_000, 7_950_000_000, 8_000_000_000,
                                          8_050_000_000, 8_100_000_000, 8_150_000_000])
    (row,) = aggregate(WEEK, current, [], today=TODAY, previous_database_samples=previous).databases
    assert (row.sample_count, row.avg_bytes, row.min_bytes, row.max_bytes, row.last_bytes) == (
        7, 8_394_285_714, 8_000_000_000, 8_810_000_000, 8_810_000_000)
    assert (row.prev_avg_bytes, row.change_bytes, row.change_percent, row.trend) == (
        7_992_857_143, 401_428_571, Decimal("5.02"), Trend.GROWING)
    assert row.is_partial is False
    assert (row.first_sample_on, row.last_sample_on) == (D(2027, 5, 10), D(2027, 5, 16))
    assert (row.period_type, row.period_start, row.period_end) == (PeriodType.WEEKLY, WEEK.start, WEEK.end)


def test_e4_half_up_mean() -> None:
    february = period_window(PeriodType.MONTHLY, D(2027, 2, 1))
    samples = [DatabaseSample(1, "new", D(2027, 2, 27), 1_048_575), DatabaseSample(1, "new", D(2027, 2, 28), 1_048_576)]
    (row,) = aggregate(february, samples, [], today=D(2027, 3, 5)).databases
    assert row.avg_bytes == 1_048_576
    assert r1_mean([1_048_575, 1_048_576]) == (2 * 2_097_151 + 2) // 4 == 1_048_576


@pytest.mark.parametrize(
    ("current", "baseline", "change_bytes", "change_percent", "trend"),
    [
        (3_016_667, 3_225_000, -208_333, Decimal("-6.46"), Trend.SHRINKING),
        (10_500, 10_000, 500, Decimal("5.00"), Trend.STABLE),
        (10_501, 10_000, 501, Decimal("5.01"), Trend.GROWING),
        (5_461, 0, 5_461, None, Trend.GROWING),
        (5_461, None, None, None, Trend.UNKNOWN),
        (9_499, 10_000, -501, Decimal("-5.01"), Trend.SHRINKING),
        (0, 0, 0, None, Trend.STABLE),
    ],
)
def test_e5_compare(current: int, baseline: int | None, change_bytes: int | None,
                    change_percent: Decimal | None, trend: Trend) -> None:
    assert compare(current, baseline) == Change(change_bytes, change_percent, trend)


def test_compare_uses_the_policy_threshold_and_the_rounded_percent() -> None:
    # 10 004 / 10 000 is +0.04 %: stable at 5.00, growing once the threshold is 0.
    assert compare(10_004, 10_000).trend == Trend.STABLE
    assert compare(10_004, 10_000, AggregationPolicy(Decimal("0"))).trend == Trend.GROWING
    # +0.00004 % rounds to 0.00, which is not > 0: the stored rounded value decides, not the exact one.
    assert compare(10_000_004, 10_000_000, AggregationPolicy(Decimal("0"))) == Change(4, Decimal("0.00"), Trend.STABLE)


def test_policy_and_compare_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="0–100"):
        AggregationPolicy(Decimal("100.01"))
    with pytest.raises(ValueError, match="negative"):
        compare(-1, 5)


def test_e6_new_database_has_unknown_trend() -> None:
    samples = _db_series(D(2027, 5, 14), [4_096, 4_096, 8_192], name="fresh")
    (row,) = aggregate(WEEK, samples, [], today=TODAY).databases
    assert (row.avg_bytes, row.min_bytes, row.max_bytes, row.last_bytes) == (5_461, 4_096, 8_192, 8_192)
    assert (row.prev_avg_bytes, row.change_bytes, row.change_percent, row.trend) == (None, None, None, Trend.UNKNOWN)


E7_CURRENT = [
    InstanceSample(7, D(2027, 5, 10), 40_000_000_000, 12),
    InstanceSample(7, D(2027, 5, 11), 40_250_000_000, 12),
    InstanceSample(7, D(2027, 5, 12), 40_500_000_000, 13),
    InstanceSample(7, D(2027, 5, 14), 41_000_000_000, 13),
    InstanceSample(7, D(2027, 5, 15), 41_100_000_000, 13, missing_database_count=1),
    InstanceSample(7, D(2027, 5, 16), 41_350_000_000, 14),
]
E7_PREVIOUS = [
    InstanceSample(7, D(2027, 5, 3) + timedelta(days=i), total, 12)
    for i, total in enumerate([38_900_000_000, 39_000_000_000, 39_100_000_000, 39_300_000_000,
                               39_400_000_000, 39_600_000_000, 39_800_000_000])
]
E7_EXPECTED = {
    "sample_count": 6, "avg_total_bytes": 40_700_000_000, "min_total_bytes": 40_000_000_000,
    "max_total_bytes": 41_350_000_000, "last_total_bytes": 41_350_000_000, "avg_database_count": Decimal("12.83"),
    "min_database_count": 12, "max_database_count": 14, "last_database_count": 14,
    "prev_avg_total_bytes": 39_300_000_000, "change_bytes": 1_400_000_000, "change_percent": Decimal("3.56"),
    "trend": Trend.STABLE, "prev_last_database_count": 12, "database_count_delta": 2,
    "expected_days": 7, "covered_days": 5, "is_complete": False, "is_partial": False,
}


def _e7() -> InstancePeriodStats:
    result = aggregate(WEEK, [], E7_CURRENT, today=TODAY, previous_instance_samples=E7_PREVIOUS,
                       tracking_start={7: D(2026, 2, 1)})
    (row,) = result.instances
    return row


@pytest.mark.parametrize(("field", "expected"), list(E7_EXPECTED.items()))
def test_e7_instance_weekly_stats_defects_2_and_5(field: str, expected: object) -> None:
    assert getattr(_e7(), field) == expected


def test_defect_2_instance_fields_have_no_per_database_average() -> None:
    names = {f.name for f in dataclasses.fields(InstancePeriodStats)}
    assert {"avg_total_bytes", "last_total_bytes", "avg_database_count"} <= names
    assert not {"avg_size_mb", "avg_size", "total_size", "avg_bytes"} & names
    assert str(_e7().avg_database_count) == "12.83"


def test_database_rows_inherit_instance_completeness() -> None:
    databases = [DatabaseSample(7, "shop", s.collected_on, 1_000) for s in E7_CURRENT]
    result = aggregate(WEEK, databases, E7_CURRENT, today=TODAY, tracking_start={7: D(2026, 2, 1)})
    (row,) = result.databases
    assert (row.expected_days, row.covered_days, row.is_complete, row.is_partial) == (7, 5, False, False)


def test_database_rows_without_instance_samples_cover_nothing() -> None:
    (row,) = aggregate(WEEK, _db_series(WEEK.start, [1, 2]), [], today=TODAY).databases
    assert (row.expected_days, row.covered_days, row.is_complete) == (7, 0, False)


def test_partial_window_expects_days_up_to_yesterday_and_tracking_start_limits() -> None:
    current = period_window(PeriodType.WEEKLY, TODAY)  # 05-17 … 05-23, today Wednesday
    samples = [InstanceSample(1, D(2027, 5, 17), 10, 1), InstanceSample(1, D(2027, 5, 18), 10, 1),
               InstanceSample(1, TODAY, 10, 1), InstanceSample(2, D(2027, 5, 18), 10, 1)]
    result = aggregate(current, [], samples, today=TODAY, tracking_start={2: D(2027, 5, 18)})
    first, second = result.instances
    assert (first.is_partial, first.expected_days, first.covered_days, first.is_complete) == (True, 2, 2, True)
    assert first.sample_count == 3  # today's sample counts in the stats, not in the coverage
    assert (second.expected_days, second.covered_days, second.is_complete) == (1, 1, True)


def test_instance_created_after_window_expects_nothing() -> None:
    samples = [InstanceSample(1, WEEK.end, 5, 1)]
    (row,) = aggregate(WEEK, [], samples, today=TODAY, tracking_start={1: D(2027, 6, 1)}).instances
    assert (row.expected_days, row.covered_days, row.is_complete) == (0, 0, True)


def test_optional_data_and_log_fields_and_last_sample_values() -> None:
    samples = [
        DatabaseSample(1, "erp", D(2027, 5, 10), 30, data_bytes=10, log_bytes=None, is_system=True),
        DatabaseSample(1, "erp", D(2027, 5, 12), 40, data_bytes=11, log_bytes=None, is_system=False),
        DatabaseSample(1, "erp", D(2027, 5, 11), 20, data_bytes=None, log_bytes=None, is_system=True),
    ]
    (row,) = aggregate(WEEK, samples, [], today=TODAY).databases
    assert (row.avg_data_bytes, row.last_data_bytes) == (11, 11)  # (2·21 + 2) div 4 = 11
    assert (row.avg_log_bytes, row.last_log_bytes) == (None, None)
    assert (row.last_bytes, row.is_system, row.last_sample_on) == (40, False, D(2027, 5, 12))


def test_rows_are_sorted_by_instance_and_database() -> None:
    samples = [DatabaseSample(2, "a", WEEK.start, 1), DatabaseSample(1, "b", WEEK.start, 1),
               DatabaseSample(1, "a", WEEK.start, 1)]
    instances = [InstanceSample(2, WEEK.start, 1, 1), InstanceSample(1, WEEK.start, 2, 2)]
    result = aggregate(WEEK, samples, instances, today=TODAY)
    assert [(r.instance_id, r.database_name) for r in result.databases] == [(1, "a"), (1, "b"), (2, "a")]
    assert [r.instance_id for r in result.instances] == [1, 2]


@pytest.mark.parametrize(
    ("values", "mean"), [([1, 2], 2), ([1, 1, 2], 1), ([0], 0), ([2**63 - 1, 2**63 - 1], 2**63 - 1)]
)
def test_r1_mean(values: list[int], mean: int) -> None:
    assert r1_mean(values) == mean


@pytest.mark.parametrize(
    ("delta", "base", "pct"),
    [(1, 8, Decimal("12.50")), (-1, 8, Decimal("-12.50")), (1, 3, Decimal("33.33")), (2, 3, Decimal("66.67")),
     (-2, 3, Decimal("-66.67")), (0, 5, Decimal("0.00")), (5, 0, None), (5, None, None),
     (401_428_571, 7_992_857_143, Decimal("5.02"))],
)
def test_r2_percent(delta: int, base: int | None, pct: Decimal | None) -> None:
    result = r2_percent(delta, base)
    assert result == pct
    if result is not None:
        assert result.as_tuple().exponent == -2


def test_r3_mean() -> None:
    assert r3_mean([12, 12, 13, 13, 13, 14]) == Decimal("12.83")
    assert str(r3_mean([1, 2])) == "1.50"
    with pytest.raises(ValueError, match="no values"):
        r3_mean([])


@given(st.lists(st.integers(min_value=0, max_value=2**63 - 1), min_size=1, max_size=40))
def test_r1_equals_exact_half_up_mean(values: list[int]) -> None:
    exact = Fraction(sum(values), len(values))
    assert r1_mean(values) == math.floor(exact + Fraction(1, 2))


@given(delta=st.integers(min_value=-(2**63), max_value=2**63), base=st.integers(min_value=1, max_value=2**63))
def test_r2_equals_exact_half_away_percent(delta: int, base: int) -> None:
    exact = Fraction(100 * abs(delta), base)
    hundredths = int(exact * 100 + Fraction(1, 2))
    expected = Decimal(hundredths if delta >= 0 else -hundredths) / 100
    assert r2_percent(delta, base) == expected


samples_st = st.lists(
    st.tuples(st.integers(1, 3), st.sampled_from(["a", "b"]), st.dates(D(2027, 4, 20), D(2027, 6, 10)),
              st.integers(0, 10**12)),
    max_size=40,
    unique_by=lambda t: (t[0], t[1], t[2]),
)


@given(samples_st)
def test_aggregate_ignores_samples_outside_the_window(rows: list[tuple[int, str, date, int]]) -> None:
    samples = [DatabaseSample(i, n, d, size) for i, n, d, size in rows]
    inside = [s for s in samples if WEEK.contains(s.collected_on)]
    assert aggregate(WEEK, samples, [], today=TODAY) == aggregate(WEEK, inside, [], today=TODAY)
    previous = [s for s in samples if not WEEK.contains(s.collected_on)]
    in_previous = [s for s in previous if D(2027, 5, 3) <= s.collected_on <= D(2027, 5, 9)]
    assert aggregate(WEEK, inside, [], today=TODAY, previous_database_samples=previous) == aggregate(
        WEEK, inside, [], today=TODAY, previous_database_samples=in_previous)


@given(samples_st)
def test_aggregate_means_are_exact_half_up(rows: list[tuple[int, str, date, int]]) -> None:
    samples = [DatabaseSample(i, n, d, size) for i, n, d, size in rows]
    for row in aggregate(WEEK, samples, [], today=TODAY).databases:
        sizes = [s.size_bytes for s in samples if (s.instance_id, s.database_name) == (row.instance_id,
                 row.database_name) and WEEK.contains(s.collected_on)]
        assert row.sample_count == len(sizes) >= 1
        assert row.avg_bytes == int(Fraction(sum(sizes), len(sizes)) + Fraction(1, 2))


@given(samples_st.filter(bool), st.data())
def test_aggregate_rejects_duplicate_keys(rows: list[tuple[int, str, date, int]], data: st.DataObject) -> None:
    samples = [DatabaseSample(i, n, d, size) for i, n, d, size in rows]
    twin = dataclasses.replace(data.draw(st.sampled_from(samples)), size_bytes=1)
    with pytest.raises(ValueError, match="duplicate"):
        aggregate(WEEK, [*samples, twin], [], today=TODAY)


@pytest.mark.parametrize(
    ("databases", "instances"),
    [
        ([DatabaseSample(1, "a", WEEK.start, -1)], []),
        ([DatabaseSample(1, "a", D(2020, 1, 1), 1, log_bytes=-5)], []),
        ([], [InstanceSample(1, WEEK.start, 1, -1)]),
        ([], [InstanceSample(1, WEEK.start, 1, 1, missing_database_count=-1)]),
        ([], [InstanceSample(1, WEEK.start, 5, 1), InstanceSample(1, WEEK.start, 6, 1)]),
    ],
)
def test_aggregate_rejects_negative_sizes_and_duplicates(databases: list[DatabaseSample],
                                                         instances: list[InstanceSample]) -> None:
    with pytest.raises(ValueError, match=r"negative|duplicate"):
        aggregate(WEEK, databases, instances, today=TODAY)


@given(st.integers(1, 3), st.dates(WEEK.start, WEEK.end), st.integers(-(10**12), -1))
def test_aggregate_rejects_any_negative_size(instance_id: int, day: date, size: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        aggregate(WEEK, [DatabaseSample(instance_id, "x", day, size)], [], today=TODAY)
