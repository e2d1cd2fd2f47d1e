"""Kernel: period types, closed date windows and the calendar maths of capacity.md §4."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import assert_never

_ONE_DAY = timedelta(days=1)


class PeriodType(StrEnum):
    """Aggregation period; the values are the wire and storage form."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


def _last_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _bounds(period: PeriodType, day: date) -> tuple[date, date]:
    """Start and end (both inclusive) of the `period` window that contains `day`."""
    match period:
        case PeriodType.DAILY:
            return day, day
        case PeriodType.WEEKLY:
            # ISO week: Monday..Sunday, so a week may straddle a month or a year boundary.
            monday = day - timedelta(days=day.weekday())
            return monday, monday + timedelta(days=6)
        case PeriodType.MONTHLY:
            return day.replace(day=1), _last_of_month(day.year, day.month)
        case PeriodType.QUARTERLY:
            first_month = 3 * ((day.month - 1) // 3) + 1
            return date(day.year, first_month, 1), _last_of_month(day.year, first_month + 2)
        case PeriodType.YEARLY:
            return date(day.year, 1, 1), date(day.year, 12, 31)
        case _:
            assert_never(period)


@dataclass(frozen=True, slots=True)
class Window:
    """A closed date interval `[start, end]` that is exactly one calendar period of type `period`.

    Raises `ValueError` when the bounds are not one whole period (e.g. a "monthly" window of 07-01 … 08-31),
    so a malformed window can never reach aggregation or storage.
    """

    period: PeriodType
    start: date
    end: date

    def __post_init__(self) -> None:
        if (self.start, self.end) != _bounds(PeriodType(self.period), self.start):
            raise ValueError(f"{self.start}…{self.end} is not one {self.period} period")

    @property
    def days(self) -> int:
        """Number of days in the window, both bounds included."""
        return (self.end - self.start).days + 1

    def contains(self, d: date) -> bool:
        """True when `start ≤ d ≤ end`."""
        return self.start <= d <= self.end


def period_window(period: PeriodType, day: date) -> Window:
    """The window of type `period` containing `day`."""
    start, end = _bounds(period, day)
    return Window(period, start, end)


def last_complete_window(period: PeriodType, today: date) -> Window:
    """The latest window of type `period` that ended before `today` (the one scheduled aggregation computes)."""
    return period_window(period, period_window(period, today).start - _ONE_DAY)


def previous_window(window: Window) -> Window:
    """The full calendar period of the same type just before `window` (a previous quarter is three months)."""
    return period_window(window.period, window.start - _ONE_DAY)


def is_partial(window: Window, today: date) -> bool:
    """True when the window has not ended before `today` (it contains today or lies in the future)."""
    return window.end >= today


def iter_windows(period: PeriodType, first: date, last: date) -> Iterator[Window]:
    """Every window of type `period` intersecting `[first, last]`, in chronological order.

    Raises `ValueError` when `first > last` (a reversed backfill range is a caller mistake, not an empty one).
    """
    if first > last:
        raise ValueError(f"first ({first}) is after last ({last})")
    window = period_window(period, first)
    while True:
        yield window
        if window.end >= last:
            return
        window = period_window(period, window.end + _ONE_DAY)
