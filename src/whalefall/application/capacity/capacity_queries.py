"""Read queries of the capacity API: aggregation rows, one-period summaries, raw samples, ledger, table sizes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from whalefall.application.capacity.config import CapacityConfig
from whalefall.application.ports.capacity import (
    AggregationQuery,
    CapacityReader,
    DatabaseAggregationView,
    DatabaseLedgerReader,
    DatabaseQuery,
    DatabaseSampleView,
    DatabaseView,
    InstanceAggregationView,
    InstanceSampleView,
    SampleQuery,
    SummaryTotals,
    TableSizeView,
)
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.capacity import PeriodType, Window, is_partial, last_complete_window, period_window
from whalefall.domain.capacity.aggregate import r2_percent
from whalefall.domain.errors import NotFoundError, Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission

MAX_SAMPLE_RANGE_DAYS = 731


@dataclass(frozen=True, slots=True)
class ListDatabaseAggregations:
    """Database period rows of one period type. Rows are shown whatever the ledger status (a database gone
    mid-period keeps its row, `database_status = gone`); partial rows only with `include_partial`."""

    reader: CapacityReader

    async def execute(self, actor: Actor, query: AggregationQuery,
                      page: PageRequest) -> Page[DatabaseAggregationView]:
        actor.require(Permission.CAPACITY_READ)
        return await self.reader.database_rows(query, page)


@dataclass(frozen=True, slots=True)
class ListInstanceAggregations:
    """Instance period rows of one period type; partial rows only with `include_partial`."""

    reader: CapacityReader

    async def execute(self, actor: Actor, query: AggregationQuery,
                      page: PageRequest) -> Page[InstanceAggregationView]:
        actor.require(Permission.CAPACITY_READ)
        return await self.reader.instance_rows(query, page)


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacitySummary:
    window: Window
    is_partial: bool
    totals: SummaryTotals
    change_percent: Decimal | None


def summary_window(period: PeriodType, period_start: date | None, today: date) -> Window:
    """The pinned window (default: the last complete one); a date that does not start a period → 400."""
    if period_start is None:
        return last_complete_window(period, today)
    window = period_window(period, period_start)
    if window.start != period_start:
        raise ValidationProblemsError([Problem("query.period_start", "invalid_format",
                                               f"{period_start} does not start a {period} period",
                                               {"expected": window.start.isoformat()})])
    return window


@dataclass(frozen=True, slots=True)
class SummarizeCapacity:
    """Totals of exactly one period type and one `period_start` (default: the last complete window) over the rows
    matching the filters: plain sums of the rows' averages and last values; previous/change sums only over rows
    with a baseline, their percent by R2 (null without any baseline). Never mixes period types."""

    reader: CapacityReader
    clock: Clock
    config: CapacityConfig

    async def execute(self, actor: Actor, query: AggregationQuery, *, level: str) -> CapacitySummary:
        actor.require(Permission.CAPACITY_READ)
        today = self.config.today(self.clock)
        window = summary_window(query.period_type, query.period_start, today)
        pinned = replace(query, period_start=window.start, start_on=None, end_on=None)
        totals = await (self.reader.database_totals(pinned) if level == "databases"
                        else self.reader.instance_totals(pinned))
        percent = None
        if totals.total_prev_avg_bytes is not None and totals.total_change_bytes is not None:
            percent = r2_percent(totals.total_change_bytes, totals.total_prev_avg_bytes)
        return CapacitySummary(window=window, is_partial=is_partial(window, today), totals=totals,
                               change_percent=percent)


def _check_range(start_on: date, end_on: date) -> None:
    if start_on > end_on:
        raise ValidationProblemsError([Problem("query.start_on", "invalid_range", "start_on is after end_on")])
    if (end_on - start_on).days + 1 > MAX_SAMPLE_RANGE_DAYS:
        raise ValidationProblemsError([Problem("query.end_on", "window_too_large", "at most 2 years",
                                               {"max_days": MAX_SAMPLE_RANGE_DAYS})])


@dataclass(frozen=True, slots=True)
class ListCapacitySamples:
    """Raw daily samples of one instance (and database) over at most two years; default: the last 90 days."""

    reader: CapacityReader
    clock: Clock
    config: CapacityConfig

    def _query(self, instance_id: int, database_name: str | None, start_on: date | None,
               end_on: date | None) -> SampleQuery:
        end = end_on or self.config.today(self.clock)
        if start_on is None and end.toordinal() <= 89:
            # The default 90-day window cannot start before 0001-01-01.
            raise ValidationProblemsError([Problem("query.end_on", "too_small", "must be after 0001-03-31")])
        start = start_on or end - timedelta(days=89)
        _check_range(start, end)
        return SampleQuery(instance_id=instance_id, start_on=start, end_on=end, database_name=database_name)

    async def databases(self, actor: Actor, instance_id: int, database_name: str | None, start_on: date | None,
                        end_on: date | None, page: PageRequest) -> Page[DatabaseSampleView]:
        actor.require(Permission.CAPACITY_READ)
        return await self.reader.database_samples(self._query(instance_id, database_name, start_on, end_on), page)

    async def instances(self, actor: Actor, instance_id: int, start_on: date | None, end_on: date | None,
                        page: PageRequest) -> Page[InstanceSampleView]:
        actor.require(Permission.CAPACITY_READ)
        return await self.reader.instance_samples(self._query(instance_id, None, start_on, end_on), page)


@dataclass(frozen=True, slots=True)
class ListDatabases:
    """The database ledger; freshness from `last_collected_on` against the business today."""

    ledger: DatabaseLedgerReader

    async def execute(self, actor: Actor, query: DatabaseQuery, page: PageRequest) -> Page[DatabaseView]:
        actor.require(Permission.INSTANCES_READ)
        return await self.ledger.list_page(query, page)


@dataclass(frozen=True, slots=True)
class GetDatabase:
    """One ledger row (404 when unknown)."""

    ledger: DatabaseLedgerReader
    clock: Clock
    config: CapacityConfig

    async def execute(self, actor: Actor, database_id: int) -> DatabaseView:
        actor.require(Permission.INSTANCES_READ)
        view = await self.ledger.get(database_id, today=self.config.today(self.clock))
        if view is None:
            raise NotFoundError("database", database_id)
        return view


@dataclass(frozen=True, slots=True)
class ListDatabaseTables:
    """Latest table sizes of one ledger database (404 when unknown); the view says whether the set was truncated."""

    ledger: DatabaseLedgerReader
    clock: Clock
    config: CapacityConfig

    async def execute(self, actor: Actor, database_id: int, *, schema: str | None, q: str | None,
                      page: PageRequest) -> tuple[DatabaseView, Page[TableSizeView]]:
        actor.require(Permission.CAPACITY_READ)
        view = await self.ledger.get(database_id, today=self.config.today(self.clock))
        if view is None:
            raise NotFoundError("database", database_id)
        return view, await self.ledger.tables_page(database_id, schema=schema, q=q, page=page)
