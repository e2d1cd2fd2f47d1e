"""Cron parsing, fire times across DST (O7), day-of-week numbering (defect 15) and misfires (O8, defect 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whalefall.domain.errors import UnprocessableError
from whalefall.domain.pipelines import (
    DueAction,
    InvalidCronError,
    due_fire,
    next_fire,
    next_fires,
    parse_cron,
    previous_fire,
)
from whalefall.domain.pipelines.cron import cron_problems, timezone_problems

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_parses_lists_ranges_steps_and_names() -> None:
    cron = parse_cron("0,15-20/5 */6 1,15 jan-mar,DEC MON-FRI")
    assert cron.minutes == (0, 15, 20)
    assert cron.hours == (0, 6, 12, 18)
    assert cron.days_of_month == {1, 15}
    assert cron.months == {1, 2, 3, 12}
    assert cron.days_of_week == {1, 2, 3, 4, 5}
    assert cron.dom_restricted and cron.dow_restricted


@pytest.mark.parametrize(("field", "expected"), [("0", {0}), ("7", {0}), ("SUN", {0}), ("5-7", {5, 6, 0}),
                                                 ("sat,sun", {6, 0}), ("*", set(range(7)))])
def test_day_of_week_0_and_7_are_sunday(field: str, expected: set[int]) -> None:
    assert parse_cron(f"0 0 * * {field}").days_of_week == expected


def test_monday_cron_fires_on_mondays_only() -> None:
    fires = next_fires("0 0 * * 1", utc(2027, 5, 19), UTC_ZONE, 6)
    assert [f.isoweekday() for f in fires] == [1] * 6
    assert fires[0] == utc(2027, 5, 24)
    assert [b - a for a, b in pairwise(fires)] == [timedelta(days=7)] * 5


@pytest.mark.parametrize("sunday", ["0", "7", "SUN"])
def test_sunday_spellings_fire_on_sundays(sunday: str) -> None:
    fires = next_fires(f"30 6 * * {sunday}", utc(2027, 5, 19), UTC_ZONE, 3)
    assert fires == [utc(2027, 5, 23, 6, 30), utc(2027, 5, 30, 6, 30), utc(2027, 6, 6, 6, 30)]


def test_both_day_fields_restricted_fire_on_either() -> None:
    fires = next_fires("0 0 1 * 0", utc(2027, 1, 1), UTC_ZONE, 6)
    assert fires == [utc(2027, 1, 3), utc(2027, 1, 10), utc(2027, 1, 17), utc(2027, 1, 24), utc(2027, 1, 31),
                     utc(2027, 2, 1)]
    assert all(f.day == 1 or f.isoweekday() == 7 for f in next_fires("0 0 1 * 0", utc(2027, 1, 1), UTC_ZONE, 40))


def test_star_step_day_field_counts_as_unrestricted() -> None:
    # Vixie cron: `*/2` is star-prefixed, so both day fields must match (odd days that are Mondays).
    fires = next_fires("0 0 */2 * 1", utc(2027, 5, 1), UTC_ZONE, 4)
    assert all(f.day % 2 == 1 and f.isoweekday() == 1 for f in fires)
    assert fires[0] == utc(2027, 5, 3)


@pytest.mark.parametrize("text", ["0 3 * * * *", "0 3 * * * * 2027", "0 3 * *", "", "@daily"])
def test_wrong_field_count_is_rejected_at_the_whole_expression(text: str) -> None:
    with pytest.raises(InvalidCronError) as caught:
        parse_cron(text)
    assert caught.value.code == "INVALID_CRON"
    assert isinstance(caught.value, UnprocessableError)
    assert [p.field for p in caught.value.problems] == ["cron"]


@pytest.mark.parametrize(("text", "field", "code"), [
    ("0 0 L * *", "cron.day_of_month", "invalid_format"),
    ("0 0 15W * *", "cron.day_of_month", "invalid_format"),
    ("0 0 * * 5#3", "cron.day_of_week", "invalid_format"),
    ("0 0 ? * 1", "cron.day_of_month", "invalid_format"),
    ("60 0 * * *", "cron.minute", "too_large"),
    ("0 24 * * *", "cron.hour", "too_large"),
    ("0 0 0 * *", "cron.day_of_month", "too_small"),
    ("0 0 * 13 *", "cron.month", "too_large"),
    ("0 0 * * 8", "cron.day_of_week", "too_large"),
    ("0 0 * FOO *", "cron.month", "invalid_format"),
    ("0 0 * * MON-FOO", "cron.day_of_week", "invalid_format"),
    ("JAN 0 * * *", "cron.minute", "invalid_format"),
    ("*/0 0 * * *", "cron.minute", "invalid_format"),
    ("5-1 0 * * *", "cron.minute", "invalid_range"),
    ("1,,2 0 * * *", "cron.minute", "invalid_format"),
    ("*-5 0 * * *", "cron.minute", "invalid_format"),
    ("0 0 30 2 *", "cron.day_of_month", "invalid_range"),
    ("0 0 31 4,6,9,11 *", "cron.day_of_month", "invalid_range"),
])
def test_invalid_fields_point_at_the_field(text: str, field: str, code: str) -> None:
    with pytest.raises(InvalidCronError) as caught:
        parse_cron(text)
    assert [(p.field, p.code) for p in caught.value.problems] == [(field, code)]


def test_every_bad_field_gets_its_own_problem() -> None:
    with pytest.raises(InvalidCronError) as caught:
        parse_cron("61 L * FOO 8")
    assert [p.field for p in caught.value.problems] == ["cron.minute", "cron.hour", "cron.month", "cron.day_of_week"]


def test_cron_and_timezone_problems_are_rerooted() -> None:
    assert [p.field for p in cron_problems("0 25 * * *", "schedule.cron")] == ["schedule.cron.hour"]
    assert cron_problems("0 1 * * *") == []
    assert [p.code for p in timezone_problems("Mars/Olympus")] == ["invalid_choice"]
    assert timezone_problems("Europe/Berlin") == []


def test_skipped_local_time_fires_at_the_end_of_the_gap() -> None:
    assert next_fire("30 2 * * *", utc(2027, 3, 27, 12), BERLIN) == utc(2027, 3, 28, 1)
    assert next_fires("30 2 * * *", utc(2027, 3, 27, 12), BERLIN, 2)[1] == utc(2027, 3, 29, 0, 30)


def test_several_skipped_times_collapse_onto_one_fire() -> None:
    fires = next_fires("*/20 2 * * *", utc(2027, 3, 27, 23), BERLIN, 2)
    assert fires == [utc(2027, 3, 28, 1), utc(2027, 3, 29, 0)]


def test_repeated_local_time_fires_once_at_its_first_occurrence() -> None:
    fires = next_fires("30 2 * * *", utc(2027, 10, 30, 12), BERLIN, 2)
    assert fires == [utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30)]
    # Asking from inside the repeated hour does not fire the second 02:30.
    assert next_fire("30 2 * * *", utc(2027, 10, 31, 1, 0), BERLIN) == utc(2027, 11, 1, 1, 30)


def test_half_hourly_cron_is_silent_during_the_repeated_hour() -> None:
    fires = next_fires("*/30 * * * *", utc(2027, 10, 30, 23, 45), BERLIN, 3)
    assert fires == [utc(2027, 10, 31, 0), utc(2027, 10, 31, 0, 30), utc(2027, 10, 31, 2)]


def test_next_fire_is_strictly_after_and_requires_aware_input() -> None:
    assert next_fire("0 1 * * *", utc(2027, 5, 19, 1), UTC_ZONE) == utc(2027, 5, 20, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire("0 1 * * *", datetime(2027, 5, 19), UTC_ZONE)


def test_feb_29_fires_in_the_next_leap_year() -> None:
    assert next_fire("0 0 29 2 *", utc(2027, 1, 1), UTC_ZONE) == utc(2028, 2, 29)


def test_previous_fire_respects_its_lower_bound() -> None:
    assert previous_fire("0 3 * * *", utc(2027, 5, 19, 4), UTC_ZONE) == utc(2027, 5, 19, 3)
    assert previous_fire("0 3 * * *", utc(2027, 5, 19, 4), UTC_ZONE, not_before=utc(2027, 5, 19, 3)) is None


@pytest.mark.parametrize(("cron", "last_fire_at", "action", "scheduled_for", "next_at"), [
    ("0 3 * * *", utc(2027, 5, 18, 3), DueAction.MISFIRE_SKIPPED, utc(2027, 5, 19, 3), utc(2027, 5, 20, 3)),
    ("0 4 * * *", utc(2027, 5, 18, 4), DueAction.FIRE, utc(2027, 5, 19, 4), utc(2027, 5, 20, 4)),
    ("0 5 * * *", utc(2027, 5, 18, 5), DueAction.NOTHING_DUE, None, utc(2027, 5, 19, 5)),
])
def test_o8_misfire_after_downtime(cron: str, last_fire_at: datetime, action: DueAction,
                                   scheduled_for: datetime | None, next_at: datetime) -> None:
    # Scheduler down 02:50–04:20 UTC; the leader restarts at 04:20.
    decision = due_fire(cron, UTC_ZONE, last_fire_at=last_fire_at, schedule_changed_at=utc(2027, 1, 1),
                        now=utc(2027, 5, 19, 4, 20), misfire_grace_s=3600)
    assert decision.action is action
    assert decision.scheduled_for == scheduled_for
    assert decision.next_fire_at == next_at


def test_several_missed_instants_coalesce_into_the_most_recent() -> None:
    decision = due_fire("*/10 * * * *", UTC_ZONE, last_fire_at=utc(2027, 5, 16), schedule_changed_at=utc(2027, 1, 1),
                        now=utc(2027, 5, 19, 4, 25))
    assert decision.action is DueAction.FIRE
    assert decision.scheduled_for == utc(2027, 5, 19, 4, 20)
    assert decision.lag_s == 300


def test_instants_missed_while_paused_are_not_misfires() -> None:
    resumed_at = utc(2027, 5, 19, 3, 30)
    decision = due_fire("0 3 * * *", UTC_ZONE, last_fire_at=utc(2027, 5, 1, 3), schedule_changed_at=resumed_at,
                        now=utc(2027, 5, 19, 4))
    assert decision.action is DueAction.NOTHING_DUE
    assert decision.scheduled_for is None


def test_on_time_fire_has_zero_lag_and_grace_boundary_is_inclusive() -> None:
    on_time = due_fire("0 3 * * *", UTC_ZONE, last_fire_at=None, schedule_changed_at=utc(2027, 1, 1),
                       now=utc(2027, 5, 19, 3))
    assert (on_time.action, on_time.lag_s) == (DueAction.FIRE, 0)
    edge = due_fire("0 3 * * *", UTC_ZONE, last_fire_at=None, schedule_changed_at=utc(2027, 1, 1),
                    now=utc(2027, 5, 19, 4), misfire_grace_s=3600)
    assert edge.action is DueAction.FIRE
    late = due_fire("0 3 * * *", UTC_ZONE, last_fire_at=None, schedule_changed_at=utc(2027, 1, 1),
                    now=utc(2027, 5, 19, 4, 0, 1), misfire_grace_s=3600)
    assert late.action is DueAction.MISFIRE_SKIPPED


def test_already_fired_instant_is_not_due_again() -> None:
    decision = due_fire("0 3 * * *", UTC_ZONE, last_fire_at=utc(2027, 5, 19, 3), schedule_changed_at=utc(2027, 1, 1),
                        now=utc(2027, 5, 19, 3, 0, 5))
    assert decision.action is DueAction.NOTHING_DUE
    assert decision.next_fire_at == utc(2027, 5, 20, 3)


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high)
    return st.one_of(
        st.just("*"),
        st.builds(lambda n: f"*/{n}", st.integers(1, high)),
        st.lists(value, min_size=1, max_size=4, unique=True).map(lambda vs: ",".join(map(str, vs))),
        st.tuples(value, value).map(lambda ab: f"{min(ab)}-{max(ab)}"),
    )


_CRONS = st.tuples(_field(0, 59), _field(0, 23), _field(1, 28), _field(1, 12), _field(0, 7)).map(" ".join)
_ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
_AFTER = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(_CRONS, _ZONES, _AFTER)
def test_next_fire_is_after_and_matches_outside_gaps(text: str, zone: str, after: datetime) -> None:
    tz = ZoneInfo(zone)
    cron = parse_cron(text)
    fire = next_fire(cron, after, tz)
    assert fire > after
    assert fire.utcoffset() == timedelta(0)
    assert fire.second == 0
    local = fire.astimezone(tz)
    if not cron.matches_local(local):
        # Only a fire moved out of a DST gap may differ: it sits exactly on an offset change.
        assert (fire - timedelta(minutes=1)).astimezone(tz).utcoffset() != local.utcoffset()
    previous = previous_fire(cron, fire - timedelta(seconds=1), tz)
    assert previous is None or previous <= after


_DAILY_CRONS = st.tuples(_field(0, 59), _field(0, 23)).map(lambda mh: f"{mh[0]} {mh[1]} * * *")


@settings(max_examples=100, deadline=None)
@given(_DAILY_CRONS, st.sampled_from(["UTC", "Asia/Kolkata"]), _AFTER)
def test_next_fire_equals_a_minute_by_minute_search_without_dst(text: str, zone: str, after: datetime) -> None:
    tz = ZoneInfo(zone)
    cron = parse_cron(text)
    candidate = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while not cron.matches_local(candidate.astimezone(tz)):
        candidate += timedelta(minutes=1)
    assert next_fire(cron, after, tz) == candidate
