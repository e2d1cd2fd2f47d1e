"""Period windows (capacity.md §4): worked examples E1/E2, legacy defect 1 and calendar properties."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalefall.domain import periods
from whalefall.domain.capacity import (
    PeriodType,
    Window,
    is_partial,
    iter_windows,
    last_complete_window,
    period_window,
    previous_window,
)

D = date
P = PeriodType

# E1: today, period, cur, last, prev (each window as (start, end)).
E1 = [
    (D(2027, 5, 19), P.DAILY, (D(2027, 5, 19), D(2027, 5, 19)), (D(2027, 5, 18), D(2027, 5, 18)),
     (D(2027, 5, 17), D(2027, 5, 17))),
    (D(2027, 5, 19), P.WEEKLY, (D(2027, 5, 17), D(2027, 5, 23)), (D(2027, 5, 10), D(2027, 5, 16)),
     (D(2027, 5, 3), D(2027, 5, 9))),
    (D(2027, 5, 19), P.MONTHLY, (D(2027, 5, 1), D(2027, 5, 31)), (D(2027, 4, 1), D(2027, 4, 30)),
     (D(2027, 3, 1), D(2027, 3, 31))),
    (D(2027, 5, 19), P.QUARTERLY, (D(2027, 4, 1), D(2027, 6, 30)), (D(2027, 1, 1), D(2027, 3, 31)),
     (D(2026, 10, 1), D(2026, 12, 31))),
    (D(2025, 8, 14), P.YEARLY, (D(2025, 1, 1), D(2025, 12, 31)), (D(2024, 1, 1), D(2024, 12, 31)),
     (D(2023, 1, 1), D(2023, 12, 31))),
    (D(2027, 1, 1), P.WEEKLY, (D(2026, 12, 28), D(2027, 1, 3)), (D(2026, 12, 21), D(2026, 12, 27)),
     (D(2026, 12, 14), D(2026, 12, 20))),
    (D(2027, 1, 1), P.MONTHLY, (D(2027, 1, 1), D(2027, 1, 31)), (D(2026, 12, 1), D(2026, 12, 31)),
     (D(2026, 11, 1), D(2026, 11, 30))),
    (D(2025, 8, 14), P.QUARTERLY, (D(2025, 7, 1), D(2025, 9, 30)), (D(2025, 4, 1), D(2025, 6, 30)),
     (D(2025, 1, 1), D(2025, 3, 31))),
    (D(2028, 3, 10), P.WEEKLY, (D(2028, 3, 6), D(2028, 3, 12)), (D(2028, 2, 28), D(2028, 3, 5)),
     (D(2028, 2, 21), D(2028, 2, 27))),
    (D(2028, 3, 10), P.MONTHLY, (D(2028, 3, 1), D(2028, 3, 31)), (D(2028, 2, 1), D(2028, 2, 29)),
     (D(2028, 1, 1), D(2028, 1, 31))),
    (D(2025, 11, 3), P.DAILY, (D(2025, 11, 3), D(2025, 11, 3)), (D(2025, 11, 2), D(2025, 11, 2)),
     (D(2025, 11, 1), D(2025, 11, 1))),
]


@pytest.mark.parametrize(("today", "period", "cur", "last", "prev"), E1)
def test_e1_windows(
    today: date, period: PeriodType, cur: tuple[date, date], last: tuple[date, date], prev: tuple[date, date]
) -> None:
    current = period_window(period, today)
    last_complete = last_complete_window(period, today)
    assert (current.period, current.start, current.end) == (period, *cur)
    assert (last_complete.start, last_complete.end) == last
    assert last_complete.period == period
    previous = previous_window(last_complete)
    assert (previous.start, previous.end) == prev
    assert is_partial(current, today)
    assert not is_partial(last_complete, today)


def test_e2_previous_of_current_quarter_is_three_full_months() -> None:
    current = period_window(P.QUARTERLY, D(2025, 11, 20))
    assert previous_window(current) == Window(P.QUARTERLY, D(2025, 7, 1), D(2025, 9, 30))
    assert is_partial(current, D(2025, 11, 20))


QUARTERS = [period_window(P.QUARTERLY, D(year, month, 1)) for year in range(2024, 2031) for month in (1, 4, 7, 10)]


@pytest.mark.parametrize("quarter", QUARTERS, ids=lambda w: f"{w.start:%Y-%m}")
def test_defect_1_previous_quarter_spans_three_calendar_months(quarter: Window) -> None:
    previous = previous_window(quarter)
    assert previous.end == quarter.start - timedelta(days=1)
    assert previous.start.day == 1
    months = (previous.end.year * 12 + previous.end.month) - (previous.start.year * 12 + previous.start.month) + 1
    assert months == 3
    assert previous.end == period_window(P.MONTHLY, previous.end).end


@pytest.mark.parametrize(
    ("window", "days"),
    [
        (Window(P.DAILY, D(2027, 5, 19), D(2027, 5, 19)), 1),
        (Window(P.WEEKLY, D(2026, 12, 28), D(2027, 1, 3)), 7),
        (Window(P.MONTHLY, D(2028, 2, 1), D(2028, 2, 29)), 29),
        (Window(P.MONTHLY, D(2027, 2, 1), D(2027, 2, 28)), 28),
        (Window(P.QUARTERLY, D(2028, 1, 1), D(2028, 3, 31)), 91),
        (Window(P.YEARLY, D(2028, 1, 1), D(2028, 12, 31)), 366),
    ],
)
def test_window_days(window: Window, days: int) -> None:
    assert window.days == days


def test_window_contains_both_bounds_only() -> None:
    window = Window(P.MONTHLY, D(2027, 4, 1), D(2027, 4, 30))
    assert window.contains(D(2027, 4, 1))
    assert window.contains(D(2027, 4, 30))
    assert not window.contains(D(2027, 3, 31))
    assert not window.contains(D(2027, 5, 1))


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        (P.MONTHLY, D(2027, 7, 1), D(2027, 8, 31)),
        (P.WEEKLY, D(2027, 5, 18), D(2027, 5, 24)),
        (P.QUARTERLY, D(2025, 7, 1), D(2025, 8, 31)),
        (P.DAILY, D(2027, 5, 19), D(2027, 5, 18)),
    ],
)
def test_window_rejects_bounds_that_are_not_one_period(period: PeriodType, start: date, end: date) -> None:
    with pytest.raises(ValueError, match="is not one"):
        Window(period, start, end)


def test_is_partial_is_end_on_or_after_today() -> None:
    window = Window(P.WEEKLY, D(2027, 5, 10), D(2027, 5, 16))
    assert is_partial(window, D(2027, 5, 16))
    assert not is_partial(window, D(2027, 5, 17))
    assert is_partial(window, D(2027, 5, 1))


def test_iter_windows_yields_every_intersecting_window_in_order() -> None:
    windows = list(iter_windows(P.MONTHLY, D(2027, 1, 31), D(2027, 3, 1)))
    assert [(w.start, w.end) for w in windows] == [
        (D(2027, 1, 1), D(2027, 1, 31)),
        (D(2027, 2, 1), D(2027, 2, 28)),
        (D(2027, 3, 1), D(2027, 3, 31)),
    ]
    assert [w.start for w in iter_windows(P.WEEKLY, D(2027, 1, 1), D(2027, 1, 1))] == [D(2026, 12, 28)]


def test_iter_windows_rejects_reversed_range() -> None:
    with pytest.raises(ValueError, match="after"):
        list(iter_windows(P.DAILY, D(2027, 1, 2), D(2027, 1, 1)))


def test_capacity_reexports_the_kernel_objects() -> None:
    assert PeriodType is periods.PeriodType
    assert period_window is periods.period_window
    assert Window is periods.Window
    assert [p.value for p in PeriodType] == ["daily", "weekly", "monthly", "quarterly", "yearly"]


days_st = st.dates(min_value=D(1900, 1, 8), max_value=D(2200, 12, 31))


@given(period=st.sampled_from(PeriodType), day=days_st)
def test_window_properties(period: PeriodType, day: date) -> None:
    window = period_window(period, day)
    assert window.contains(day)
    assert period_window(period, window.start) == window == period_window(period, window.end)
    previous = previous_window(window)
    assert previous.end == window.start - timedelta(days=1)
    assert previous.period == period
    assert last_complete_window(period, day) == previous
    if period == P.WEEKLY:
        assert window.start.weekday() == 0
        assert window.days == 7
    if period in (P.MONTHLY, P.QUARTERLY, P.YEARLY):
        assert window.start.day == 1
        assert (window.end + timedelta(days=1)).day == 1


@given(period=st.sampled_from(PeriodType), first=days_st, span=st.integers(min_value=0, max_value=400))
def test_iter_windows_tiles_the_range(period: PeriodType, first: date, span: int) -> None:
    last = first + timedelta(days=span)
    windows = list(iter_windows(period, first, last))
    assert windows[0].contains(first)
    assert windows[-1].contains(last)
    for before, after in itertools.pairwise(windows):
        assert after.start == before.end + timedelta(days=1)
