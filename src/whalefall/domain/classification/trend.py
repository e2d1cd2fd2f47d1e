"""Classification counts per period from assignment history stretches (classification.md §8.3, api.md §3.9 trend).

Decisions where the spec is silent:
- Days are UTC calendar days. An account counts on a day when one of its stretches overlaps that day (interval
  overlap, as the spec says for period statistics); an account with several overlapping stretches (auto and manual,
  or a gap and a return the same day) counts once.
- `expected_days` = days of the period up to `today` (future days are not expected); `covered_days` = expected days
  on or after the day history tracking started (the first stretch ever opened): before it, history cannot speak.
  avg/min/max are taken over covered days only; a period without covered days has them null.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from whalefall.domain.periods import PeriodType, iter_windows

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    """One account's stretch: `[valid_from, valid_to)`, `valid_to` None = open."""

    account_id: int
    valid_from: datetime
    valid_to: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendPoint:
    period_start: date
    period_end: date
    avg_count: float | None
    min_count: int | None
    max_count: int | None
    covered_days: int
    expected_days: int


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _last_day(instant: datetime) -> date:
    """The last UTC day an interval ending (exclusively) at `instant` touches."""
    utc = instant.astimezone(UTC)
    return utc.date() - _ONE_DAY if utc.time() == time() else utc.date()


def daily_counts(spans: Iterable[Span], first: date, last: date) -> list[int]:
    """Distinct accounts per day of `[first, last]` whose spans overlap the day."""
    size = (last - first).days + 1
    if size <= 0:
        return []
    days_of: dict[int, list[tuple[int, int]]] = {}
    for span in spans:
        if span.valid_to is not None and span.valid_to <= span.valid_from:
            continue
        lo = max((span.valid_from.astimezone(UTC).date() - first).days, 0)
        hi = min((_last_day(span.valid_to) - first).days if span.valid_to else size - 1, size - 1)
        if lo <= hi:
            days_of.setdefault(span.account_id, []).append((lo, hi))
    delta = [0] * (size + 1)
    for ranges in days_of.values():
        ranges.sort()
        start, end = ranges[0]
        for lo, hi in ranges[1:]:
            if lo <= end + 1:
                end = max(end, hi)
                continue
            delta[start] += 1
            delta[end + 1] -= 1
            start, end = lo, hi
        delta[start] += 1
        delta[end + 1] -= 1
    counts, running = [], 0
    for value in delta[:size]:
        running += value
        counts.append(running)
    return counts


def trend_points(spans: Sequence[Span], period: PeriodType, start_on: date, end_on: date, *, today: date,
                 tracking_start: date | None) -> list[TrendPoint]:
    """One point per `period` window intersecting `[start_on, end_on]` (whole windows, so a point always describes
    a full calendar period)."""
    windows = list(iter_windows(period, start_on, end_on))
    first, last = windows[0].start, windows[-1].end
    counts = daily_counts(spans, first, last)
    points = []
    for window in windows:
        expected_last = min(window.end, today)
        expected = max((expected_last - window.start).days + 1, 0)
        covered_first = max(window.start, tracking_start) if tracking_start is not None else None
        values = ([counts[(covered_first - first).days + i] for i in range((expected_last - covered_first).days + 1)]
                  if covered_first is not None and covered_first <= expected_last else [])
        points.append(TrendPoint(
            period_start=window.start, period_end=window.end,
            avg_count=round(sum(values) / len(values), 2) if values else None,
            min_count=min(values) if values else None, max_count=max(values) if values else None,
            covered_days=len(values), expected_days=expected))
    return points
