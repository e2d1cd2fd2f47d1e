"""Daily counts and period points from assignment history stretches (api.md §3.9 trend)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from whalefall.domain.classification.trend import Span, daily_counts, trend_points
from whalefall.domain.periods import PeriodType


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 5, day, hour, tzinfo=UTC)


def test_an_account_counts_on_every_day_its_stretches_overlap_and_only_once() -> None:
    spans = [Span(account_id=1, valid_from=at(2, 10), valid_to=at(4)),      # days 2 and 3 (end exclusive)
             Span(account_id=1, valid_from=at(3, 5), valid_to=at(5, 1)),    # overlaps: still one account
             Span(account_id=2, valid_from=at(4, 23), valid_to=None),       # open from day 4
             Span(account_id=3, valid_from=at(6, 1), valid_to=at(6, 1))]    # empty stretch: never counted
    assert daily_counts(spans, date(2026, 5, 1), date(2026, 5, 7)) == [0, 1, 1, 2, 2, 1, 1]


def test_a_gap_of_a_whole_day_is_not_bridged() -> None:
    spans = [Span(account_id=1, valid_from=at(1), valid_to=at(2)), Span(account_id=1, valid_from=at(3), valid_to=at(4))]
    assert daily_counts(spans, date(2026, 5, 1), date(2026, 5, 4)) == [1, 0, 1, 0]


def test_weekly_points_cover_whole_weeks_and_only_expected_and_tracked_days() -> None:
    spans = [Span(account_id=1, valid_from=at(6), valid_to=None), Span(account_id=2, valid_from=at(8), valid_to=None)]
    points = trend_points(spans, PeriodType.WEEKLY, date(2026, 5, 6), date(2026, 5, 12), today=date(2026, 5, 12),
                          tracking_start=date(2026, 5, 6))
    first, second = points
    assert (first.period_start, first.period_end) == (date(2026, 5, 4), date(2026, 5, 10))
    assert (first.expected_days, first.covered_days) == (7, 5), "tracking starts on Wednesday the 6th"
    assert (first.min_count, first.max_count, first.avg_count) == (1, 2, 1.6)
    assert (second.expected_days, second.covered_days, second.max_count) == (2, 2, 2), "today is Tuesday the 12th"


def test_without_tracking_nothing_is_covered() -> None:
    (point,) = trend_points([], PeriodType.MONTHLY, date(2026, 5, 1), date(2026, 5, 31), today=date(2026, 6, 1),
                            tracking_start=None)
    assert (point.expected_days, point.covered_days, point.avg_count, point.max_count) == (31, 0, None, None)
