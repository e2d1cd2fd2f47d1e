"""Aggregate capacity samples into period rows for one period type (capacity.md §4–§6)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from whalefall.application.capacity.config import AGGREGATION_TABLES, CapacityConfig
from whalefall.application.ports.capacity import AggregationRun, AggregationStore
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.capacity import (
    PeriodType,
    Window,
    is_partial,
    iter_windows,
    last_complete_window,
    period_window,
)
from whalefall.domain.errors import Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission


def resolve_window(period: PeriodType, spec: object, today: date) -> Window:
    """The window a request names: `"last_complete"` (the scheduled default), `"current"` (stored partial) or
    `{"start": "YYYY-MM-DD"}` (the window containing that day). Raises ValidationProblemsError otherwise."""
    if spec in (None, "last_complete"):
        return last_complete_window(period, today)
    if spec == "current":
        return period_window(period, today)
    if isinstance(spec, Mapping) and isinstance(spec.get("start"), str):
        try:
            return period_window(period, date.fromisoformat(spec["start"]))
        except ValueError:
            pass
    raise ValidationProblemsError([Problem("window", "invalid_choice",
                                           'must be "last_complete", "current" or {"start": date}')])


def backfill_windows(period: PeriodType, first: date, last: date) -> tuple[Window, ...]:
    """Every window of `period` intersecting `[first, last]`, chronological (capacity.md §6 backfill)."""
    return tuple(iter_windows(period, first, last))


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregateCapacityInput:
    actor: Actor
    period_type: PeriodType
    windows: tuple[Window, ...]
    session_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregationOutcome:
    period_type: PeriodType
    window_count: int
    first_start: date
    last_end: date
    partial_windows: int
    database_rows: int
    instance_rows: int

    @property
    def counters(self) -> dict[str, object]:
        return {"windows": self.window_count, "database_rows": self.database_rows,
                "instance_rows": self.instance_rows, "partial_windows": self.partial_windows}


@dataclass(frozen=True, slots=True)
class AggregateCapacity(RecordWork):
    """Recompute every given window of one period type for all instances and databases with set-based SQL: a
    constant number of statements, no "already aggregated" skip, idempotent rows. A window containing today is
    stored `is_partial = true` (only explicit requests name one). Window starts outside
    `[retention cutoff, write horizon)` of the aggregation tables → 422 PARTITION_KEY_OUT_OF_RANGE. Requires
    `sync:run`. As session work (kind `capacity_aggregation`) the record's item key is the period type and the
    session params carry `window`."""

    store: AggregationStore
    clock: Clock
    uow: UnitOfWork
    config: CapacityConfig

    async def execute(self, data: AggregateCapacityInput) -> AggregationOutcome:
        data.actor.require(Permission.SYNC_RUN)
        return await self._aggregate(data.period_type, data.windows, data.session_id, None)

    async def run(self, context: RecordContext) -> RecordResult:
        period = PeriodType(context.record.item_key)
        window = resolve_window(period, context.session.params.get("window"), self.config.today(self.clock))
        await context.check_cancel()
        outcome = await self._aggregate(period, (window,), context.session.id, context)
        return RecordResult(counters=outcome.counters, details={
            "period_type": period.value, "period_start": window.start.isoformat(),
            "period_end": window.end.isoformat(), "is_partial": outcome.partial_windows > 0})

    async def _aggregate(self, period: PeriodType, windows: tuple[Window, ...], session_id: str | None,
                         context: RecordContext | None) -> AggregationOutcome:
        if not windows:
            raise ValidationProblemsError([Problem("windows", "too_few_items", "give at least one window")])
        if any(w.period is not period for w in windows):
            raise ValidationProblemsError([Problem("windows", "invalid_choice", f"every window must be {period}")])
        today = self.config.today(self.clock)
        self.config.check_keys((w.start for w in windows), AGGREGATION_TABLES, today=today, field_path="window")
        if context is not None:
            await context.fence()
        counts = await self.store.aggregate(AggregationRun(
            windows=windows, today=today, business_zone=self.config.zone, policy=self.config.aggregation,
            computed_at=self.clock.now(), session_id=session_id))
        if context is not None:
            await context.check_cancel()
        await self.uow.commit()
        return AggregationOutcome(
            period_type=period, window_count=len(windows), first_start=min(w.start for w in windows),
            last_end=max(w.end for w in windows), partial_windows=sum(is_partial(w, today) for w in windows),
            database_rows=counts.database_rows, instance_rows=counts.instance_rows)
