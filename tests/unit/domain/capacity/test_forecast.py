"""Capacity forecast (capacity.md §7): E8, E9, validation and exact rounding."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalefall.domain.capacity import Forecast, Projection, forecast
from whalefall.domain.capacity.forecast import _round_half_away

D = date
E8_SIZES = [200_600_000_000, 202_300_000_000, 204_500_000_000, 206_800_000_000,
            208_400_000_000, 210_500_000_000, 212_700_000_000, 214_400_000_000]
E8_POINTS = [(D(2027, 6, 2) + timedelta(days=4 * i), size) for i, size in enumerate(E8_SIZES)]
E9_FALLING = [(D(2027, 6, 1) + timedelta(days=i), 5_000_000_000 - 10_000_000 * i) for i in range(10)]


def test_e8_forecast_to_the_digit() -> None:
    result = forecast(E8_POINTS, as_of=D(2027, 6, 30), window_days=30, threshold_bytes=250_000_000_000)
    assert result == Forecast(
        status="ok", as_of=D(2027, 6, 30), window_start=D(2027, 6, 1), sample_count=8,
        slope_bytes_per_day=Decimal("500595238.10"), fitted_bytes=214_533_333_333, r_squared=Decimal("0.9988"),
        projections=(Projection(30, D(2027, 7, 30), 229_551_190_476), Projection(90, D(2027, 9, 28), 259_586_904_762)),
        threshold_bytes=250_000_000_000, days_until_threshold=71, threshold_on=D(2027, 9, 9),
    )
    assert str(result.slope_bytes_per_day) == "500595238.10"
    assert str(result.r_squared) == "0.9988"


def test_e9_too_few_points_is_insufficient_data() -> None:
    result = forecast(E8_POINTS[:5], as_of=D(2027, 6, 30), window_days=30, threshold_bytes=250_000_000_000)
    assert result == Forecast("insufficient_data", D(2027, 6, 30), D(2027, 6, 1), 5, None, None, None, (),
                              250_000_000_000, None, None)


@pytest.mark.parametrize(
    ("threshold", "days", "on"),
    [(None, None, None), (6_000_000_000, None, None), (4_000_000_000, 0, D(2027, 6, 10))],
)
def test_e9_falling_series(threshold: int | None, days: int | None, on: date | None) -> None:
    result = forecast(E9_FALLING, as_of=D(2027, 6, 10), window_days=30, threshold_bytes=threshold)
    assert result.status == "ok"
    assert result.slope_bytes_per_day == Decimal("-10000000.00")
    assert str(result.slope_bytes_per_day) == "-10000000.00"
    assert result.fitted_bytes == 4_910_000_000
    assert str(result.r_squared) == "1.0000"
    assert [p.projected_bytes for p in result.projections] == [4_610_000_000, 4_010_000_000]
    assert (result.days_until_threshold, result.threshold_on) == (days, on)


def test_points_outside_the_window_are_ignored() -> None:
    early = [(D(2027, 5, 31), 1), (D(2027, 7, 1), 10**15)]
    with_noise = forecast([*E8_POINTS, *early], as_of=D(2027, 6, 30), window_days=30)
    assert with_noise == forecast(E8_POINTS, as_of=D(2027, 6, 30), window_days=30)
    assert with_noise.sample_count == 8


def test_single_date_is_insufficient_even_with_min_samples_met() -> None:
    result = forecast([(D(2027, 6, 30), 5)], as_of=D(2027, 6, 30), min_samples=2)
    assert (result.status, result.sample_count, result.slope_bytes_per_day) == ("insufficient_data", 1, None)


def test_flat_series_has_no_r_squared_and_never_reaches_a_higher_threshold() -> None:
    points = [(D(2027, 6, 1) + timedelta(days=i), 1_000) for i in range(7)]
    result = forecast(points, as_of=D(2027, 6, 7), threshold_bytes=2_000)
    assert (result.slope_bytes_per_day, result.fitted_bytes, result.r_squared) == (Decimal("0.00"), 1_000, None)
    assert result.days_until_threshold is None


def test_projection_is_clamped_at_zero_and_follows_horizon_order() -> None:
    points = [(D(2027, 6, 1) + timedelta(days=i), 1_000 - 100 * i) for i in range(7)]
    result = forecast(points, as_of=D(2027, 6, 7), horizons=(365, 1))
    assert [(p.horizon_days, p.projected_bytes) for p in result.projections] == [(365, 0), (1, 300)]


def test_fit_between_integers() -> None:
    # x = −2, −1, 0 and y = 0, 0, 1: b = 1/2 exactly, a = 5/6, a + b·1 = 4/3.
    points = [(D(2027, 6, 1), 0), (D(2027, 6, 2), 0), (D(2027, 6, 3), 1)]
    result = forecast(points, as_of=D(2027, 6, 3), window_days=7, min_samples=3, horizons=(1,))
    assert str(result.slope_bytes_per_day) == "0.50"
    assert result.fitted_bytes == 1
    assert result.projections == (Projection(1, D(2027, 6, 4), 1),)
    assert result.r_squared == Decimal("0.7500")


@pytest.mark.parametrize(("first", "last", "slope"), [(0, 1, "0.01"), (1, 0, "-0.01"), (0, 3, "0.02")])
def test_slope_halves_round_away_from_zero(first: int, last: int, slope: str) -> None:
    # Two points 200 days apart: b = ±1/200 = ±0.005 → ±0.01; 3/200 = 0.015 → 0.02 (not banker's 0.02/0.01).
    points = [(D(2027, 1, 1), first), (D(2027, 1, 1) + timedelta(days=200), last)]
    result = forecast(points, as_of=D(2027, 1, 1) + timedelta(days=200), window_days=201, min_samples=2)
    assert str(result.slope_bytes_per_day) == slope


@pytest.mark.parametrize(("value", "rounded"), [(Fraction(5, 2), 3), (Fraction(-5, 2), -3), (Fraction(7, 3), 2),
                                                (Fraction(-1, 2), -1), (Fraction(1, 2), 1), (Fraction(0), 0)])
def test_round_half_away_from_zero(value: Fraction, rounded: int) -> None:
    assert _round_half_away(value) == rounded


def test_threshold_crossing_is_ceiled_from_the_exact_fit() -> None:
    points = [(D(2027, 6, 1) + timedelta(days=i), 3 * i) for i in range(7)]
    result = forecast(points, as_of=D(2027, 6, 7), threshold_bytes=19)
    # a = 18, b = 3: (19 − 18) / 3 → 1 day.
    assert (result.days_until_threshold, result.threshold_on) == (1, D(2027, 6, 8))
    assert forecast(points, as_of=D(2027, 6, 7), threshold_bytes=18).days_until_threshold == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_days": 6}, "window_days"),
        ({"window_days": 731}, "window_days"),
        ({"horizons": (0,)}, "horizons"),
        ({"horizons": (3651,)}, "horizons"),
        ({"min_samples": 1}, "min_samples"),
        ({"threshold_bytes": -1}, "threshold"),
    ],
)
def test_invalid_parameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        forecast(E8_POINTS, as_of=D(2027, 6, 30), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([(D(2027, 6, 1), -1)], "negative"),
        ([(D(2027, 6, 1), 1), (D(2027, 6, 1), 2)], "duplicate"),
        ([(D(2020, 1, 1), 1), (D(2020, 1, 1), 1)], "duplicate"),
    ],
)
def test_invalid_points(points: list[tuple[date, int]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        forecast(points, as_of=D(2027, 6, 30))


@given(
    start=st.integers(0, 10**15), slope=st.integers(-(10**9), 10**9),
    days=st.lists(st.integers(0, 89), min_size=7, max_size=30, unique=True),
)
def test_exact_lines_are_recovered(start: int, slope: int, days: list[int]) -> None:
    as_of = D(2027, 6, 30)
    points = [(as_of - timedelta(days=d), start + slope * (89 - d)) for d in days]
    if any(size < 0 for _, size in points):
        return
    result = forecast(points, as_of=as_of)
    assert result.slope_bytes_per_day == Decimal(slope)
    assert result.fitted_bytes == start + slope * 89
    assert result.r_squared == (None if slope == 0 else Decimal("1.0000"))
    for projection in result.projections:
        assert projection.projected_bytes == max(0, start + slope * (89 + projection.horizon_days))
