"""Least-squares capacity forecast of an instance or one of its databases (capacity.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from whalefall.application.capacity.config import CapacityConfig
from whalefall.application.ports.capacity import CapacityReader, InstanceRef
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.domain.capacity import Forecast, forecast
from whalefall.domain.errors import NotFoundError, UnprocessableError
from whalefall.domain.identity.roles import Permission


@dataclass(frozen=True, slots=True, kw_only=True)
class ForecastCapacityInput:
    actor: Actor
    instance_id: int
    database_name: str | None = None
    window_days: int | None = None
    threshold_bytes: int | None = None
    horizons: tuple[int, ...] = (30, 90)


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityForecast:
    instance: InstanceRef
    database_name: str | None
    forecast: Forecast


@dataclass(frozen=True, slots=True)
class ForecastCapacity:
    """Forecast as of the business today over the trailing `window_days` (default `forecast.window_days`).
    A database series uses that database's samples; an instance series only days with
    `missing_database_count = 0`, and its threshold defaults to the instance's `capacity_limit_bytes`. Unknown
    instance → 404; parameters the forecast rejects (window 7–730, horizons 1–3650) → 422. Requires
    `capacity:read`."""

    reader: CapacityReader
    clock: Clock
    config: CapacityConfig

    async def execute(self, data: ForecastCapacityInput) -> CapacityForecast:
        data.actor.require(Permission.CAPACITY_READ)
        instance = await self.reader.instance(data.instance_id)
        if instance is None:
            raise NotFoundError("instance", data.instance_id)
        as_of = self.config.today(self.clock)
        window_days = data.window_days or self.config.forecast_window_days
        threshold = data.threshold_bytes
        if threshold is None and data.database_name is None:
            threshold = instance.capacity_limit_bytes
        points = await self.reader.size_series(instance.id, data.database_name,
                                               start_on=as_of - timedelta(days=max(window_days, 1) - 1),
                                               end_on=as_of)
        try:
            result = forecast(points, as_of=as_of, window_days=window_days, horizons=data.horizons,
                              threshold_bytes=threshold, min_samples=self.config.forecast_min_samples)
        except ValueError as exc:
            raise UnprocessableError(str(exc)) from exc
        return CapacityForecast(instance=instance, database_name=data.database_name, forecast=result)
