"""Standard 5-field cron: parsing, fire times in a time zone across DST, and the misfire/coalescing rule."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from whalefall.domain.errors import Problem, UnprocessableError

_FIELD_NAMES: Final = ("minute", "hour", "day_of_month", "month", "day_of_week")
_BOUNDS: Final = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MONTH_NAMES: Final = {n: i + 1 for i, n in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
_DAY_NAMES: Final = {n: i for i, n in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_ATOM: Final = re.compile(r"^(?:\*|[0-9]+|[A-Za-z]{3})$")
# Longest run of days without a fire for an accepted expression: Feb 29 on a given weekday can be 40 years away.
_MAX_SCAN_DAYS: Final = 366 * 41
_MAX_DAYS_IN_MONTH: Final = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MINUTE: Final = timedelta(minutes=1)


class InvalidCronError(UnprocessableError):
    """The cron expression is not a supported standard 5-field expression; one problem per bad field."""

    code = "INVALID_CRON"
    default_message = "The cron expression is invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class CronExpression:
    """A parsed expression. Day of week uses 0 = Sunday … 6 = Saturday (7 is folded into 0).

    `dom_restricted` / `dow_restricted` follow Vixie cron: a day field whose text starts with `*` (`*`, `*/2`)
    is unrestricted. Only when both day fields are restricted does a day matching either one fire; otherwise
    a day must match both (an unrestricted `*` always matches).
    """

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_restricted: bool
    dow_restricted: bool

    def matches_day(self, day: date) -> bool:
        """True when the calendar day (in the job's time zone) is a firing day."""
        if day.month not in self.months:
            return False
        dom_ok = day.day in self.days_of_month
        dow_ok = day.isoweekday() % 7 in self.days_of_week
        if self.dom_restricted and self.dow_restricted:
            return dom_ok or dow_ok
        return dom_ok and dow_ok

    def matches_local(self, local: datetime) -> bool:
        """True when a local wall-clock time (seconds ignored) matches every field."""
        return local.minute in self.minutes and local.hour in self.hours and self.matches_day(local.date())


def parse_cron(text: str) -> CronExpression:
    """Parse `minute hour day-of-month month day-of-week`.

    Supports lists, ranges, steps (`*/n`, `a-b/n`, and `a/n` meaning `a-max/n`), `JAN–DEC`, `SUN–SAT` (any case),
    day of week 0 and 7 = Sunday. Rejects 6/7-field forms, `@` macros, `L W # ?`, reversed ranges and
    day-of-month/month combinations that never occur (`0 0 30 2 *`), raising `InvalidCronError` whose
    problems point at `cron` or `cron.<field>`.
    """
    fields = text.split()
    if len(fields) != 5:
        raise InvalidCronError(
            f"expected 5 fields, got {len(fields)}",
            problems=[Problem("cron", "invalid_format",
                              f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}")],
        )
    problems: list[Problem] = []
    values: list[frozenset[int]] = []
    for index, raw in enumerate(fields):
        parsed = _parse_field(raw, index)
        if isinstance(parsed, Problem):
            problems.append(parsed)
            values.append(frozenset())
        else:
            values.append(parsed)
    if not problems:
        dom, months = values[2], values[3]
        dom_restricted, dow_restricted = not fields[2].startswith("*"), not fields[4].startswith("*")
        if not (dom_restricted and dow_restricted) and not any(
            day <= _MAX_DAYS_IN_MONTH[month - 1] for day in dom for month in months
        ):
            problems.append(Problem("cron.day_of_month", "invalid_range",
                                    f"day of month {fields[2]!r} never occurs in month {fields[3]!r}"))
    if problems:
        raise InvalidCronError(problems=problems)
    return CronExpression(
        text=" ".join(fields),
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days_of_month=values[2],
        months=values[3],
        days_of_week=frozenset(v % 7 for v in values[4]),
        dom_restricted=not fields[2].startswith("*"),
        dow_restricted=not fields[4].startswith("*"),
    )


def _parse_field(raw: str, index: int) -> frozenset[int] | Problem:
    """One field → its set of values, or the Problem describing the first thing wrong with it."""
    path = f"cron.{_FIELD_NAMES[index]}"
    low, high = _BOUNDS[index]
    names = _MONTH_NAMES if index == 3 else _DAY_NAMES if index == 4 else {}
    if any(c in raw for c in "LW#?"):
        return Problem(path, "invalid_format", f"{raw!r}: L, W, # and ? are not supported")
    result: set[int] = set()
    for part in raw.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                return Problem(path, "invalid_format", f"{part!r}: the step must be a positive integer")
            step = int(step_text)
        first_text, dash, last_text = base.partition("-")
        if not _ATOM.match(first_text) or (dash and not _ATOM.match(last_text)) or (first_text == "*" and dash):
            return Problem(path, "invalid_format", f"{part!r} is not a value, range or step")
        if first_text == "*":
            first, last = low, high
        else:
            first_value = _value(first_text, names)
            last_value = _value(last_text, names) if dash else (high if slash else first_value)
            if first_value is None or last_value is None:
                return Problem(path, "invalid_format", f"{part!r}: unknown name")
            first, last = first_value, last_value
        for value in (first, last):
            if value < low:
                return Problem(path, "too_small", f"{part!r}: values start at {low}")
            if value > high:
                return Problem(path, "too_large", f"{part!r}: values end at {high}")
        if first > last:
            return Problem(path, "invalid_range", f"{part!r}: the range start is after its end")
        result.update(range(first, last + 1, step))
    return frozenset(result)


def _value(text: str, names: dict[str, int]) -> int | None:
    if text.isdigit():
        return int(text)
    return names.get(text.upper())


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant a local wall-clock time fires at (§3.3).

    A repeated local time is its first occurrence (fold=0). A skipped local time fires at the first valid minute
    after the gap: the earliest whole UTC minute whose local time is not before the skipped one.
    """
    local = datetime.combine(day, at)
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    # In a gap fold=1 reads the time with the later offset (earlier instant): the transition lies in between.
    low = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low_min, high_min = int(low.timestamp()) // 60, -(-int(first.timestamp()) // 60)
    while low_min < high_min:
        mid = (low_min + high_min) // 2
        if datetime.fromtimestamp(mid * 60, tz).replace(tzinfo=None) >= local:
            high_min = mid
        else:
            low_min = mid + 1
    return datetime.fromtimestamp(low_min * 60, UTC)


def _as_cron(cron: CronExpression | str) -> CronExpression:
    return parse_cron(cron) if isinstance(cron, str) else cron


def next_fire(cron: CronExpression | str, after: datetime, tz: ZoneInfo) -> datetime:
    """The first fire instant strictly after `after` (aware), as an aware UTC datetime.

    Local fire times map monotonically to instants (gaps collapse onto the transition, repeats take the first
    occurrence), so each day is searched with a bisection.
    """
    expression = _as_cron(cron)
    _require_aware(after, "after")
    times = [time(h, m) for h in expression.hours for m in expression.minutes]
    day = after.astimezone(tz).date()
    for _ in range(_MAX_SCAN_DAYS):
        if expression.matches_day(day):
            index = bisect_right(times, after, key=_key(day, tz))
            if index < len(times):
                return _instant(day, times[index], tz)
        day += timedelta(days=1)
    raise InvalidCronError(problems=[Problem("cron", "invalid_range", f"{expression.text!r} never fires")])


def previous_fire(cron: CronExpression | str, at_or_before: datetime, tz: ZoneInfo,
                  not_before: datetime | None = None) -> datetime | None:
    """The last fire instant ≤ `at_or_before`; None when there is none after `not_before` (exclusive)."""
    expression = _as_cron(cron)
    _require_aware(at_or_before, "at_or_before")
    times = [time(h, m) for h in expression.hours for m in expression.minutes]
    day = at_or_before.astimezone(tz).date()
    stop = (not_before.astimezone(tz).date() - timedelta(days=1)) if not_before else day - timedelta(_MAX_SCAN_DAYS)
    while day >= stop:
        if expression.matches_day(day):
            index = bisect_right(times, at_or_before, key=_key(day, tz))
            if index > 0:
                found = _instant(day, times[index - 1], tz)
                return found if not_before is None or found > not_before else None
        day -= timedelta(days=1)
    return None


def _key(day: date, tz: ZoneInfo) -> Callable[[time], datetime]:
    return lambda at: _instant(day, at, tz)


def next_fires(cron: CronExpression | str, after: datetime, tz: ZoneInfo, n: int) -> list[datetime]:
    """The next `n` fire instants strictly after `after`, ascending (the job API shows 3)."""
    expression = _as_cron(cron)
    fires: list[datetime] = []
    moment = after
    for _ in range(n):
        moment = next_fire(expression, moment, tz)
        fires.append(moment)
    return fires


class DueAction(StrEnum):
    """What the scheduler does about a job now; the two acting values are `job_fires.outcome` values."""

    NOTHING_DUE = "nothing_due"
    FIRE = "fired"
    MISFIRE_SKIPPED = "misfire_skipped"


@dataclass(frozen=True, slots=True, kw_only=True)
class MisfireDecision:
    """`scheduled_for` is the coalesced missed instant acted on (None when nothing is due); `next_fire_at` is
    the first instant strictly after `now`."""

    action: DueAction
    scheduled_for: datetime | None
    lag_s: float | None
    next_fire_at: datetime


def due_fire(cron: CronExpression | str, tz: ZoneInfo, *, last_fire_at: datetime | None,
             schedule_changed_at: datetime, now: datetime, misfire_grace_s: float = 3600) -> MisfireDecision:
    """The misfire/coalescing rule of operations §3.3.

    Only instants after the later of `last_fire_at` and `schedule_changed_at` count (instants missed while
    paused are not misfires). Of those at or before `now`, only the most recent matters: several are coalesced
    into one. It fires when `now − instant ≤ misfire_grace_s` (an on-time fire has lag 0), else it is written
    as a `misfire_skipped` fire. All datetimes must be aware.
    """
    expression = _as_cron(cron)
    for value, name in ((schedule_changed_at, "schedule_changed_at"), (now, "now")):
        _require_aware(value, name)
    anchor = schedule_changed_at if last_fire_at is None else max(last_fire_at, schedule_changed_at)
    missed = previous_fire(expression, now, tz, not_before=anchor)
    upcoming = next_fire(expression, now, tz)
    if missed is None:
        return MisfireDecision(action=DueAction.NOTHING_DUE, scheduled_for=None, lag_s=None, next_fire_at=upcoming)
    lag = (now - missed).total_seconds()
    action = DueAction.FIRE if lag <= misfire_grace_s else DueAction.MISFIRE_SKIPPED
    return MisfireDecision(action=action, scheduled_for=missed, lag_s=lag, next_fire_at=upcoming)


def cron_problems(text: str, path: str = "cron") -> Sequence[Problem]:
    """The problems of an expression re-rooted at `path` (e.g. `schedule.cron`); empty when valid."""
    try:
        parse_cron(text)
    except InvalidCronError as exc:
        return [Problem(path + (p.field or "cron")[len("cron"):], p.code, p.message, p.context) for p in exc.problems]
    return []


def timezone_problems(name: str, path: str = "timezone") -> Sequence[Problem]:
    """One `invalid_choice` problem at `path` unless `name` is a known IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [Problem(path, "invalid_choice", f"unknown time zone {name!r}")]
    return []
