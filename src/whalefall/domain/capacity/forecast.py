"""Linear capacity forecast (capacity.md §7): exact least squares over a trailing window of daily sizes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

MIN_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 730
MIN_HORIZON_DAYS = 1
MAX_HORIZON_DAYS = 3650


@dataclass(frozen=True, slots=True)
class Projection:
    """Projected size `horizon_days` after `as_of` (on date `on`), never below 0."""

    horizon_days: int
    on: date
    projected_bytes: int


@dataclass(frozen=True, slots=True)
class Forecast:
    """Outcome of `forecast`. With `insufficient_data` every computed number is None and `projections` is empty;
    `threshold_bytes` echoes the input either way.
    """

    status: Literal["ok", "insufficient_data"]
    as_of: date
    window_start: date
    sample_count: int
    slope_bytes_per_day: Decimal | None
    fitted_bytes: int | None
    r_squared: Decimal | None
    projections: tuple[Projection, ...]
    threshold_bytes: int | None
    days_until_threshold: int | None
    threshold_on: date | None


def _round_half_away(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero (Python's `round` would go to even)."""
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return -magnitude if value < 0 else magnitude


def _decimal(value: Fraction, places: int) -> Decimal:
    """`value` rounded half away from zero to `places` decimals, built exactly from its digits."""
    sign, digits, _ = Decimal(_round_half_away(value * 10**places)).as_tuple()
    return Decimal((sign, digits, -places))


def _date_after(as_of: date, days: int | None) -> date | None:
    """`as_of + days`, or None when there is no crossing or it lies beyond the calendar (a near-flat slope)."""
    if days is None:
        return None
    try:
        return as_of + timedelta(days=days)
    except OverflowError:
        return None


def _validate(points: list[tuple[date, int]], window_days: int, horizons: Sequence[int],
              threshold_bytes: int | None, min_samples: int) -> None:
    if not MIN_WINDOW_DAYS <= window_days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be within {MIN_WINDOW_DAYS}–{MAX_WINDOW_DAYS}")
    if any(not MIN_HORIZON_DAYS <= h <= MAX_HORIZON_DAYS for h in horizons):
        raise ValueError(f"horizons must be within {MIN_HORIZON_DAYS}–{MAX_HORIZON_DAYS} days")
    if min_samples < 2:
        raise ValueError("min_samples must be at least 2")
    if threshold_bytes is not None and threshold_bytes < 0:
        raise ValueError("threshold_bytes must not be negative")
    if any(size < 0 for _, size in points):
        raise ValueError("sizes must not be negative")
    if len({d for d, _ in points}) != len(points):
        raise ValueError("duplicate dates in the series")


def forecast(
    points: Iterable[tuple[date, int]],
    *,
    as_of: date,
    window_days: int = 90,
    horizons: Sequence[int] = (30, 90),
    threshold_bytes: int | None = None,
    min_samples: int = 7,
) -> Forecast:
    """Fit `size = a + b·x` with `x = (date − as_of).days` over the points dated `[as_of − window_days + 1, as_of]`.

    All arithmetic is exact (`Fraction`); only the outputs are rounded: slope half away from zero to 2 decimals,
    `fitted_bytes` (= a, the fitted size at `as_of`) and projections to integers, r² to 4 decimals (None when
    every y is equal). `days_until_threshold` is 0 when a ≥ threshold, `ceil((threshold − a)/b)` when b > 0, else
    None. Fewer than `min_samples` points or fewer than two dates in the window → `insufficient_data`.
    Projections follow the order of `horizons`. Every supplied point is validated, even outside the window:
    window 7–730 days, horizons 1–3650, `min_samples ≥ 2`, threshold ≥ 0, no negative size, no duplicate date;
    anything else raises `ValueError`.
    """
    series = list(points)
    _validate(series, window_days, horizons, threshold_bytes, min_samples)
    window_start = as_of - timedelta(days=window_days - 1)
    kept = sorted((d, size) for d, size in series if window_start <= d <= as_of)
    n = len(kept)
    if n < min_samples or len({d for d, _ in kept}) < 2:
        return Forecast("insufficient_data", as_of, window_start, n, None, None, None, (), threshold_bytes, None, None)

    xs = [Fraction((d - as_of).days) for d, _ in kept]
    ys = [Fraction(size) for _, size in kept]
    x_mean = sum(xs, Fraction(0)) / n
    y_mean = sum(ys, Fraction(0)) / n
    sxx = sum(((x - x_mean) ** 2 for x in xs), Fraction(0))
    sxy = sum(((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)), Fraction(0))
    slope = sxy / sxx  # sxx > 0: at least two distinct dates
    intercept = y_mean - slope * x_mean
    sst = sum(((y - y_mean) ** 2 for y in ys), Fraction(0))
    ssr = sum(((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True)), Fraction(0))
    r_squared = None if sst == 0 else _decimal(1 - ssr / sst, 4)

    projections = tuple(
        Projection(h, as_of + timedelta(days=h), max(0, _round_half_away(intercept + slope * h))) for h in horizons
    )
    days: int | None = None
    if threshold_bytes is not None:
        if intercept >= threshold_bytes:
            days = 0
        elif slope > 0:
            days = math.ceil((threshold_bytes - intercept) / slope)
    return Forecast(
        "ok", as_of, window_start, n, _decimal(slope, 2), _round_half_away(intercept), r_squared, projections,
        threshold_bytes, days, _date_after(as_of, days),
    )
