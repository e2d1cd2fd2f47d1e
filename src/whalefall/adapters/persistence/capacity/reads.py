"""Read side of capacity: aggregation rows and totals, raw samples, forecast series, the ledger and table sizes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, distinct, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence._sql import contains_ci, make_page, order_by
from whalefall.adapters.persistence.tables.capacity import (
    database_size_aggregations,
    database_size_samples,
    instance_databases,
    instance_size_aggregations,
    instance_size_samples,
    table_size_snapshots,
)
from whalefall.adapters.persistence.tables.instances import instance_tags, instances, tags
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.capacity import (
    AggregationQuery,
    CapacityReader,
    DatabaseAggregationView,
    DatabaseLedgerReader,
    DatabaseQuery,
    DatabaseSampleView,
    DatabaseView,
    Freshness,
    InstanceAggregationView,
    InstanceRef,
    InstanceSampleView,
    SampleQuery,
    SummaryTotals,
    TableSizeView,
)
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.capacity import DatabasePeriodStats, InstancePeriodStats, PeriodType, Trend, period_window
from whalefall.domain.instances import DbEngine

T = TypeVar("T")
_DB_AGG_SORT = {"period_start": database_size_aggregations.c.period_start,
                "avg_bytes": database_size_aggregations.c.avg_bytes,
                "change_bytes": database_size_aggregations.c.change_bytes,
                "change_percent": database_size_aggregations.c.change_percent}
_INST_AGG_SORT = {"period_start": instance_size_aggregations.c.period_start,
                  "avg_total_bytes": instance_size_aggregations.c.avg_total_bytes,
                  "change_bytes": instance_size_aggregations.c.change_bytes,
                  "change_percent": instance_size_aggregations.c.change_percent}
_LEDGER_SORT = {"name": instance_databases.c.name, "instance_name": instances.c.name,
                "last_size_bytes": instance_databases.c.last_size_bytes,
                "last_seen_on": instance_databases.c.last_seen_on}
_TABLE_SORT = {"total_bytes": table_size_snapshots.c.total_bytes, "table_name": table_size_snapshots.c.table_name}
_WINDOW_FIELDS = ("period_type", "period_start", "period_end")


def _decimal(value: Any) -> Decimal | None:
    """NUMERIC(12,2) as a 2-place Decimal on both dialects (SQLite hands back floats)."""
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))


def database_stats(row: Mapping[Any, Any]) -> DatabasePeriodStats:
    """A stored database aggregation row as the domain's `DatabasePeriodStats`."""
    fields = {k: row[k] for k in DatabasePeriodStats.__dataclass_fields__ if k in row and k != "window"}
    return DatabasePeriodStats(**{**fields, "window": period_window(PeriodType(row["period_type"]),
                                                                     row["period_start"]),
                                  "change_percent": _decimal(row["change_percent"]), "trend": Trend(row["trend"])})


def instance_stats(row: Mapping[Any, Any]) -> InstancePeriodStats:
    """A stored instance aggregation row as the domain's `InstancePeriodStats`."""
    fields = {k: row[k] for k in InstancePeriodStats.__dataclass_fields__ if k in row and k != "window"}
    return InstancePeriodStats(**{**fields, "window": period_window(PeriodType(row["period_type"]),
                                                                     row["period_start"]),
                                  "change_percent": _decimal(row["change_percent"]),
                                  "avg_database_count": _decimal(row["avg_database_count"]),
                                  "trend": Trend(row["trend"])})


def _instance_ref(row: Mapping[str, Any]) -> InstanceRef:
    return InstanceRef(int(row["instance_id"]), row["instance_name"], DbEngine(row["instance_db_type"]))


def _has_tag(names: frozenset[str], instance_id: ColumnElement[Any]) -> ColumnElement[bool]:
    linked = instance_tags.join(tags, tags.c.id == instance_tags.c.tag_id)
    return exists(select(literal(1)).select_from(linked).where(
        instance_tags.c.instance_id == instance_id, func.lower(tags.c.name).in_(sorted(n.lower() for n in names))))


async def _page(connection: AsyncConnection, statement: Select[Any], page: PageRequest,
                columns: Mapping[str, ColumnElement[Any]], keys: tuple[ColumnElement[Any], ...],
                convert: Callable[[Mapping[str, Any]], T]) -> Page[T]:
    """Exact total plus one page; composite keys break ties so pages are stable."""
    total = (await connection.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    ordered = order_by(statement, page, columns, keys[0]).order_by(*(k.asc() for k in keys[1:]))
    rows = (await connection.execute(ordered.limit(page.limit).offset(page.offset))).mappings().all()
    return make_page([convert(r) for r in rows], int(total), page)


class SqlAlchemyCapacityReader(CapacityReader):
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def instance(self, instance_id: int) -> InstanceRef | None:
        connection = await self._uow.connection()
        row = (await connection.execute(select(
            instances.c.id, instances.c.name, instances.c.db_type, instances.c.capacity_limit_bytes,
            instances.c.created_at).where(instances.c.id == instance_id))).first()
        return None if row is None else InstanceRef(int(row[0]), row[1], DbEngine(row[2]), row[3], row[4])

    @staticmethod
    def _filters(table: Any, query: AggregationQuery) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [table.c.period_type == query.period_type.value]
        if query.period_start is not None:
            conditions.append(table.c.period_start == query.period_start)
        if query.start_on is not None:
            conditions.append(table.c.period_start >= query.start_on)
        if query.end_on is not None:
            conditions.append(table.c.period_start <= query.end_on)
        if query.instance_ids:
            conditions.append(table.c.instance_id.in_(sorted(query.instance_ids)))
        if query.db_types:
            conditions.append(instances.c.db_type.in_(sorted(d.value for d in query.db_types)))
        if query.tags_any:
            conditions.append(_has_tag(query.tags_any, table.c.instance_id))
        if query.trends:
            conditions.append(table.c.trend.in_(sorted(t.value for t in query.trends)))
        if query.is_complete is not None:
            conditions.append(table.c.is_complete.is_(query.is_complete))
        if not query.include_partial:
            conditions.append(table.c.is_partial.is_(False))
        return conditions

    @staticmethod
    def _database_select(query: AggregationQuery) -> Select[Any]:
        a, ledger = database_size_aggregations, instance_databases
        statement = (select(a, instances.c.name.label("instance_name"), instances.c.db_type.label("instance_db_type"),
                            ledger.c.id.label("database_id"),
                            func.coalesce(ledger.c.status, "gone").label("database_status"))
                     .select_from(a.join(instances, instances.c.id == a.c.instance_id)
                                  .outerjoin(ledger, and_(ledger.c.instance_id == a.c.instance_id,
                                                          ledger.c.name == a.c.database_name)))
                     .where(*SqlAlchemyCapacityReader._filters(a, query)))
        if query.database_ids:
            statement = statement.where(ledger.c.id.in_(sorted(query.database_ids)))
        return statement

    async def database_rows(self, query: AggregationQuery, page: PageRequest) -> Page[DatabaseAggregationView]:
        a = database_size_aggregations
        return await _page(await self._uow.connection(), self._database_select(query), page, _DB_AGG_SORT,
                           (a.c.instance_id, a.c.database_name, a.c.period_start), lambda r: DatabaseAggregationView(
                               stats=database_stats(r), instance=_instance_ref(r), database_id=r["database_id"],
                               database_status=r["database_status"]))

    async def instance_rows(self, query: AggregationQuery, page: PageRequest) -> Page[InstanceAggregationView]:
        a = instance_size_aggregations
        statement = (select(a, instances.c.name.label("instance_name"),
                            instances.c.db_type.label("instance_db_type"))
                     .select_from(a.join(instances, instances.c.id == a.c.instance_id))
                     .where(*self._filters(a, query)))
        return await _page(await self._uow.connection(), statement, page, _INST_AGG_SORT,
                           (a.c.instance_id, a.c.period_start),
                           lambda r: InstanceAggregationView(stats=instance_stats(r), instance=_instance_ref(r)))

    async def database_totals(self, query: AggregationQuery) -> SummaryTotals:
        rows = self._database_select(query).subquery()
        return await self._totals(rows, rows.c.avg_bytes, rows.c.last_bytes, rows.c.prev_avg_bytes)

    async def instance_totals(self, query: AggregationQuery) -> SummaryTotals:
        a = instance_size_aggregations
        rows = (select(a).select_from(a.join(instances, instances.c.id == a.c.instance_id))
                .where(*self._filters(a, query))).subquery()
        return await self._totals(rows, rows.c.avg_total_bytes, rows.c.last_total_bytes, rows.c.prev_avg_total_bytes)

    async def _totals(self, rows: Any, avg: Any, last: Any, prev: Any) -> SummaryTotals:
        with_baseline = prev.is_not(None)
        statement = select(
            func.count(), func.count(distinct(rows.c.instance_id)),
            func.count(distinct(case((rows.c.is_complete.is_(False), rows.c.instance_id)))),
            func.coalesce(func.sum(avg), 0), func.coalesce(func.sum(last), 0),
            func.sum(case((with_baseline, prev))), func.sum(case((with_baseline, avg - prev))),
            *(func.sum(case((rows.c.trend == t.value, 1), else_=0)) for t in Trend))
        row = (await (await self._uow.connection()).execute(statement)).one()
        return SummaryTotals(
            row_count=int(row[0]), instance_count=int(row[1]), incomplete_instance_count=int(row[2]),
            total_avg_bytes=int(row[3]), total_last_bytes=int(row[4]),
            total_prev_avg_bytes=None if row[5] is None else int(row[5]),
            total_change_bytes=None if row[6] is None else int(row[6]),
            trend_counts={t.value: int(row[7 + k] or 0) for k, t in enumerate(Trend)})

    async def database_samples(self, query: SampleQuery, page: PageRequest) -> Page[DatabaseSampleView]:
        s = database_size_samples
        statement = select(s).where(s.c.instance_id == query.instance_id,
                                    s.c.collected_on.between(query.start_on, query.end_on))
        if query.database_name is not None:
            statement = statement.where(s.c.database_name == query.database_name)
        return await _page(await self._uow.connection(), statement, page, {"collected_on": s.c.collected_on},
                           (s.c.collected_on, s.c.database_name), lambda r: DatabaseSampleView(
                               **{k: r[k] for k in DatabaseSampleView.__dataclass_fields__}))

    async def instance_samples(self, query: SampleQuery, page: PageRequest) -> Page[InstanceSampleView]:
        s = instance_size_samples
        statement = select(s).where(s.c.instance_id == query.instance_id,
                                    s.c.collected_on.between(query.start_on, query.end_on))
        return await _page(await self._uow.connection(), statement, page, {"collected_on": s.c.collected_on},
                           (s.c.collected_on,), lambda r: InstanceSampleView(
                               **{k: r[k] for k in InstanceSampleView.__dataclass_fields__}))

    async def size_series(self, instance_id: int, database_name: str | None, *, start_on: date,
                          end_on: date) -> list[tuple[date, int]]:
        if database_name is None:
            i = instance_size_samples
            statement = select(i.c.collected_on, i.c.total_bytes).where(
                i.c.instance_id == instance_id, i.c.missing_database_count == 0,
                i.c.collected_on.between(start_on, end_on))
        else:
            s = database_size_samples
            statement = select(s.c.collected_on, s.c.size_bytes).where(
                s.c.instance_id == instance_id, s.c.database_name == database_name,
                s.c.collected_on.between(start_on, end_on))
        rows = await (await self._uow.connection()).execute(statement.order_by(statement.selected_columns[0]))
        return [(day, int(size)) for day, size in rows]


def _freshness(last_collected_on: date | None, today: date) -> Freshness:
    if last_collected_on is None:
        return "never"
    return "fresh" if last_collected_on >= today - timedelta(days=1) else "stale"


class SqlAlchemyDatabaseLedgerReader(DatabaseLedgerReader):
    """Reads only `instance_databases` (+ instances, tags): the latest size is the ledger's own copy."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    @staticmethod
    def _select() -> Select[Any]:
        d = instance_databases
        return select(d, instances.c.name.label("instance_name"), instances.c.db_type.label("instance_db_type")
                      ).select_from(d.join(instances, instances.c.id == d.c.instance_id))

    @staticmethod
    def _view(row: Mapping[str, Any], today: date) -> DatabaseView:
        return DatabaseView(
            id=int(row["id"]), instance=_instance_ref(row), name=row["name"], is_system=row["is_system"],
            is_excluded=row["is_excluded"], status=row["status"], first_seen_on=row["first_seen_on"],
            last_seen_on=row["last_seen_on"], gone_since=row["gone_since"], last_size_bytes=row["last_size_bytes"],
            last_collected_on=row["last_collected_on"], freshness=_freshness(row["last_collected_on"], today),
            tables_truncated=row["tables_truncated"])

    async def list_page(self, query: DatabaseQuery, page: PageRequest) -> Page[DatabaseView]:
        d = instance_databases
        conditions: list[ColumnElement[bool]] = [instances.c.deleted_at.is_(None)]
        if query.instance_ids:
            conditions.append(d.c.instance_id.in_(sorted(query.instance_ids)))
        if query.db_types:
            conditions.append(instances.c.db_type.in_(sorted(x.value for x in query.db_types)))
        if query.status is not None:
            conditions.append(d.c.status == query.status)
        if query.is_system is not None:
            conditions.append(d.c.is_system.is_(query.is_system))
        if query.is_excluded is not None:
            conditions.append(d.c.is_excluded.is_(query.is_excluded))
        fresh_from = query.today - timedelta(days=1)
        if query.freshness == "never":
            conditions.append(d.c.last_collected_on.is_(None))
        elif query.freshness == "fresh":
            conditions.append(d.c.last_collected_on >= fresh_from)
        elif query.freshness == "stale":
            conditions.append(d.c.last_collected_on < fresh_from)
        if query.q:
            conditions.append(contains_ci([d.c.name], query.q))
        if query.tags_any:
            conditions.append(_has_tag(query.tags_any, d.c.instance_id))
        return await _page(await self._uow.connection(), self._select().where(*conditions), page, _LEDGER_SORT,
                           (d.c.id,), lambda r: self._view(r, query.today))

    async def get(self, database_id: int, *, today: date) -> DatabaseView | None:
        row = (await (await self._uow.connection()).execute(
            self._select().where(instance_databases.c.id == database_id))).mappings().first()
        return None if row is None else self._view(row, today)

    async def tables_page(self, database_id: int, *, schema: str | None, q: str | None,
                          page: PageRequest) -> Page[TableSizeView]:
        t, d = table_size_snapshots, instance_databases
        statement = (select(t).select_from(t.join(d, and_(d.c.instance_id == t.c.instance_id,
                                                          d.c.name == t.c.database_name)))
                     .where(d.c.id == database_id))
        if schema is not None:
            statement = statement.where(t.c.schema_name == schema)
        if q:
            statement = statement.where(contains_ci([t.c.table_name], q))
        return await _page(await self._uow.connection(), statement, page, _TABLE_SORT,
                           (t.c.schema_name, t.c.table_name), lambda r: TableSizeView(
                               **{k: r[k] for k in TableSizeView.__dataclass_fields__}))
