"""CSV exports of the database ledger and of capacity aggregations (api.md §3.10, §3.11, §5.2)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.capacity import (
    AggregationQuery,
    CapacityReader,
    DatabaseAggregationView,
    DatabaseLedgerReader,
    DatabaseQuery,
    DatabaseView,
    InstanceAggregationView,
)
from whalefall.application.ports.instances import InstanceQuery, InstanceRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.csv_codec import CellValue
from whalefall.application.shared.exports import DEFAULT_MAX_ROWS, check_export_size
from whalefall.application.shared.paging import Page, PageRequest, SortKey
from whalefall.domain.identity.roles import Permission

#: Rows fetched per read while exporting (the list routes cap pages at 200; an export is not a list route).
BATCH: Final = 1000
T = TypeVar("T")

DATABASE_COLUMNS: Final = ("instance_name", "db_type", "name", "status", "is_system", "is_excluded",
                           "first_seen_on", "last_seen_on", "gone_since", "last_size_bytes", "last_collected_on",
                           "instance_tags")
DATABASE_AGGREGATION_COLUMNS: Final = (
    "instance_name", "db_type", "database_name", "database_status", "period_type", "period_start", "period_end",
    "sample_count", "avg_bytes", "min_bytes", "max_bytes", "last_bytes", "avg_data_bytes", "avg_log_bytes",
    "prev_avg_bytes", "change_bytes", "change_percent", "trend", "is_partial", "is_complete", "expected_days",
    "covered_days")
INSTANCE_AGGREGATION_COLUMNS: Final = (
    "instance_name", "db_type", "period_type", "period_start", "period_end", "sample_count", "avg_total_bytes",
    "min_total_bytes", "max_total_bytes", "last_total_bytes", "avg_data_bytes", "avg_log_bytes",
    "avg_database_count", "last_database_count", "prev_avg_total_bytes", "change_bytes", "change_percent", "trend",
    "database_count_delta", "is_partial", "is_complete", "expected_days", "covered_days")


def database_row(view: DatabaseView, tags: Sequence[str]) -> list[CellValue]:
    return [view.instance.name, view.instance.db_type.value, view.name, view.status, view.is_system,
            view.is_excluded, view.first_seen_on, view.last_seen_on, view.gone_since, view.last_size_bytes,
            view.last_collected_on, ";".join(tags) or None]


def database_aggregation_row(view: DatabaseAggregationView) -> list[CellValue]:
    s = view.stats
    return [view.instance.name, view.instance.db_type.value, s.database_name, view.database_status,
            s.period_type.value, s.period_start, s.period_end, s.sample_count, s.avg_bytes, s.min_bytes, s.max_bytes,
            s.last_bytes, s.avg_data_bytes, s.avg_log_bytes, s.prev_avg_bytes, s.change_bytes,
            None if s.change_percent is None else f"{s.change_percent:.2f}", s.trend.value, s.is_partial,
            s.is_complete, s.expected_days, s.covered_days]


def instance_aggregation_row(view: InstanceAggregationView) -> list[CellValue]:
    s = view.stats
    return [view.instance.name, view.instance.db_type.value, s.period_type.value, s.period_start, s.period_end,
            s.sample_count, s.avg_total_bytes, s.min_total_bytes, s.max_total_bytes, s.last_total_bytes,
            s.avg_data_bytes, s.avg_log_bytes, f"{s.avg_database_count:.2f}", s.last_database_count,
            s.prev_avg_total_bytes, s.change_bytes, None if s.change_percent is None else f"{s.change_percent:.2f}",
            s.trend.value, s.database_count_delta, s.is_partial, s.is_complete, s.expected_days, s.covered_days]


async def _all(fetch: Callable[[PageRequest], Awaitable[Page[T]]], sort: tuple[SortKey, ...],
               max_rows: int) -> list[T]:
    """Every matching row in the list route's order; the count is checked against the cap before any row is read."""
    total = (await fetch(PageRequest(page=1, limit=1, sort=sort))).total
    check_export_size(total, max_rows)
    rows: list[T] = []
    page = 1
    while len(rows) < total:
        batch = await fetch(PageRequest(page=page, limit=BATCH, sort=sort))
        if not batch.items:
            break
        rows.extend(batch.items)
        page += 1
    return rows


@dataclass(frozen=True, slots=True)
class ExportDatabases:
    """`GET /databases/exports` (instances:read and exports:run): the ledger rows matching the list filters, in the
    list order, with the §5.2 columns (`instance_tags` `;`-separated). More than `max_rows` (`export.max_rows`,
    default 200 000) → 422
    EXPORT_TOO_LARGE before any row is read; otherwise one audited `export.download` event."""

    ledger: DatabaseLedgerReader
    instances: InstanceRepository
    audit: AuditLog
    uow: UnitOfWork
    max_rows: int = DEFAULT_MAX_ROWS

    async def execute(self, actor: Actor, query: DatabaseQuery, sort: tuple[SortKey, ...]) -> list[list[CellValue]]:
        actor.require(Permission.INSTANCES_READ)
        actor.require(Permission.EXPORTS_RUN)
        views = await _all(lambda page: self.ledger.list_page(query, page), sort, self.max_rows)
        tags = {int(i.id): [t.name for t in i.tags] for i in await self.instances.all_for_export(InstanceQuery())}
        await self.audit.record(AuditEntry.export_download(actor, "databases", len(views), {}))
        await self.uow.commit()
        return [database_row(v, tags.get(v.instance.id, ())) for v in views]


@dataclass(frozen=True, slots=True)
class ExportCapacityAggregations:
    """`GET /capacity/{databases,instances}/exports` (capacity:read and exports:run): the aggregation rows matching
    the list filters, in the list order, with the §5.2 columns; percentages as 2-decimal text. Cap and audit as
    every export."""

    reader: CapacityReader
    audit: AuditLog
    uow: UnitOfWork
    max_rows: int = DEFAULT_MAX_ROWS

    async def execute(self, actor: Actor, query: AggregationQuery, sort: tuple[SortKey, ...], *,
                      level: Literal["databases", "instances"]) -> list[list[CellValue]]:
        actor.require(Permission.CAPACITY_READ)
        actor.require(Permission.EXPORTS_RUN)
        rows: list[list[CellValue]]
        if level == "databases":
            found = await _all(lambda page: self.reader.database_rows(query, page), sort, self.max_rows)
            rows = [database_aggregation_row(v) for v in found]
        else:
            instances = await _all(lambda page: self.reader.instance_rows(query, page), sort, self.max_rows)
            rows = [instance_aggregation_row(v) for v in instances]
        await self.audit.record(AuditEntry.export_download(actor, f"capacity_{level}", len(rows),
                                                           {"period_type": query.period_type.value}))
        await self.uow.commit()
        return rows
