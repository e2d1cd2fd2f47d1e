"""SqlAlchemyAggregationStore: period statistics written by one set-based upsert per level (capacity.md §6).

The statements mirror `whalefall.domain.capacity.aggregate` (the reference semantics; a property test holds them
equal): windows arrive as a small derived table `w`, samples join it by `collected_on BETWEEN`, the previous
window's raw samples give the baseline (falling back to the stored non-partial row of that window), instance
samples give coverage, and last values are joins — never a per-row loop.

Performance (bench/capacity_aggregation_bench.py, 5,000 databases × 365 days): on PostgreSQL the previous window's
average, when that window is in the same statement, is read with `lag()` over the groups (one sort) instead of a
self-join of the grouped rows (two sorts of every group, spilling to disk), the per-row expressions are fenced so
each is computed once, and the statements run without JIT and, for many windows, group by sorting (`aggregate`);
SQLite keeps the self-join, which its planner indexes automatically. On both, the stored-row fallback is a
primary-key lookup evaluated only for the groups that have no raw baseline.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import (
    CTE,
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    Insert,
    Numeric,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import Label

from whalefall.adapters.persistence.capacity._dialect import (
    POSTGRESQL,
    date_literal,
    days_between,
    greatest,
    idiv,
    last_value,
    number,
    text_literal,
    typed,
)
from whalefall.adapters.persistence.tables.capacity import (
    database_size_aggregations,
    database_size_samples,
    instance_size_aggregations,
    instance_size_samples,
)
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.capacity import AggregationCounts, AggregationRun, AggregationStore
from whalefall.domain.capacity import Window, is_partial, previous_window

#: NUMERIC(12,2) holds |percent| < 10^10; a larger change (a database growing from a few bytes) is stored as NULL
#: rather than failing the whole statement. The trend still uses the exact value.
MAX_PERCENT_HUNDREDTHS: Final = 999_999_999_999
WORK_MEM: Final = "256MB"
#: Above this many windows in one run PostgreSQL groups by sorting (see `aggregate`).
HASH_AGGREGATION_MAX_WINDOWS: Final = 64
_ONE_DAY: Final = timedelta(days=1)


def _windows(dialect: str, windows: tuple[Window, ...], today: Any) -> CTE:
    """`w(period_type, period_start, period_end, prev_start, prev_end, prev_in_set, is_partial, expected_end)`;
    `prev_in_set` marks windows whose previous window is aggregated in the same statement (its raw average is then
    taken from that window's own group instead of scanning the samples twice)."""
    rows: list[Select[Any]] = []
    given = set(windows)
    for window in windows:
        previous = previous_window(window)
        partial = is_partial(window, today)
        rows.append(select(
            text_literal(dialect, window.period.value).label("period_type"),
            date_literal(dialect, window.start).label("period_start"),
            date_literal(dialect, window.end).label("period_end"),
            date_literal(dialect, previous.start).label("prev_start"),
            date_literal(dialect, previous.end).label("prev_end"),
            typed(dialect, previous in given, Boolean()).label("prev_in_set"),
            typed(dialect, partial, Boolean()).label("is_partial"),
            date_literal(dialect, today - _ONE_DAY if partial else window.end).label("expected_end"),
        ))
    return (rows[0] if len(rows) == 1 else union_all(*rows)).cte("w")


def _tracking_starts(dialect: str, starts: dict[int, Any]) -> CTE:
    """`ts(instance_id, tracking_start)` for instances created inside the aggregated range; others start earlier,
    so the window start applies (a missing row means exactly that)."""
    if not starts:
        return select(cast(null(), BigInteger).label("instance_id"),
                      cast(null(), Date).label("tracking_start")).where(false()).cte("ts")
    rows = [select(typed(dialect, instance_id, BigInteger()).label("instance_id"),
                   date_literal(dialect, start).label("tracking_start"))
            for instance_id, start in sorted(starts.items())]
    return (rows[0] if len(rows) == 1 else union_all(*rows)).cte("ts")


def _r1(dialect: str, total: ColumnElement[Any], count: ColumnElement[Any]) -> ColumnElement[Any]:
    """R1 `(2·Σv + n) div (2·n)`; NULL when n = 0."""
    return idiv(dialect, number("2") * total + count, func.nullif(number("2") * count, 0))


def _fenced(dialect: str, query: Select[Any]) -> Select[Any]:
    """PostgreSQL: `query` with `OFFSET 0`, an optimisation fence that keeps it a subquery, so its columns are
    computed once per row. Inlined, every reference to a column re-evaluated its whole expression (the baseline's
    COALESCE, numeric divisions) — ~15 copies per row in the change columns, a third of the database-level
    statement's time. SQLite: unchanged; there a subquery with LIMIT becomes a co-routine whose joins to `prev` and
    `cov` get no automatic index (full scans per group: quadratic), while the flattened query gets them."""
    return query.offset(literal_column("0")) if dialect == POSTGRESQL else query


def _delta_columns(dialect: str, avg: ColumnElement[Any], baseline: ColumnElement[Any]
                   ) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """change_bytes and the signed R2 change in integer hundredths of a percent (NULL without a baseline)."""
    delta = avg - baseline
    magnitude = idiv(dialect, number("20000") * func.abs(delta) + baseline,
                     func.nullif(number("2") * baseline, 0))
    return delta, case((delta < 0, -magnitude), else_=magnitude)


def _percent_and_trend(dialect: str, baseline: ColumnElement[Any], delta: ColumnElement[Any],
                       hundredths: ColumnElement[Any], threshold: int) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """change_percent (R2, 2 decimals) and trend (§5.4) from the columns of `_delta_columns`.
    `threshold` is ⌊T·100⌋: for integer hundredths h, h > T·100 ⇔ h > ⌊T·100⌋."""
    scaled = hundredths / number("100.0") if dialect != POSTGRESQL else hundredths / literal(100, Numeric())
    stored: ColumnElement[Any] = case(
        (and_(baseline > 0, func.abs(hundredths) <= MAX_PERCENT_HUNDREDTHS), scaled))
    if dialect == POSTGRESQL:
        stored = cast(stored, Numeric(12, 2))
    trend = case(
        (baseline.is_(None), "unknown"),
        (baseline == 0, case((delta > 0, "growing"), else_="stable")),
        (hundredths > threshold, "growing"),
        (hundredths < -threshold, "shrinking"),
        else_="stable",
    )
    return stored, trend


def _with_changes(dialect: str, base: CTE, avg: str, baseline: str, threshold: int
                  ) -> tuple[Any, ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    """`(source, change_bytes, change_percent, trend)`: the selectable the final SELECT reads `base`'s columns from,
    and the change columns over it. PostgreSQL: a fenced layer computes change_bytes and hundredths once per row.
    SQLite: computed inline over `base` (an extra layer there would be flattened, its columns expanded into every
    reference: the hundredths expression, which holds the baseline's, ~4× per row)."""
    delta, hundredths = _delta_columns(dialect, base.c[avg], base.c[baseline])
    if dialect != POSTGRESQL:
        percent, trend = _percent_and_trend(dialect, base.c[baseline], delta, hundredths, threshold)
        return base, delta, percent, trend
    chg = _fenced(dialect, select(*base.c, delta.label("change_bytes"), hundredths.label("hundredths"))).cte("chg")
    percent, trend = _percent_and_trend(dialect, chg.c[baseline], chg.c.change_bytes, chg.c.hundredths, threshold)
    return chg, chg.c.change_bytes, percent, trend


def _completeness(dialect: str, cur: Any, ts: CTE, cov: CTE) -> list[ColumnElement[Any]]:
    """is_partial, is_complete, expected_days, covered_days of §5.5 (the instance's values); `cur` carries the
    window's columns."""
    first = greatest(dialect, cur.c.period_start, func.coalesce(ts.c.tracking_start, cur.c.period_start))
    expected = greatest(dialect, number("0"), days_between(dialect, cur.c.expected_end, first) + 1)
    covered = func.coalesce(cov.c.covered, 0)
    return [cur.c.is_partial.label("is_partial"), (covered == expected).label("is_complete"),
            expected.label("expected_days"), covered.label("covered_days")]


def _coverage(w: CTE, ts: CTE) -> CTE:
    i = instance_size_samples
    return (select(i.c.instance_id, w.c.period_type, w.c.period_start, func.count().label("covered"))
            .select_from(i.join(w, i.c.collected_on.between(w.c.period_start, w.c.expected_end))
                         .outerjoin(ts, ts.c.instance_id == i.c.instance_id))
            .where(i.c.missing_database_count == 0,
                   or_(ts.c.tracking_start.is_(None), i.c.collected_on >= ts.c.tracking_start))
            .group_by(i.c.instance_id, w.c.period_type, w.c.period_start).cte("cov"))


def _stored(table: Any, cur: CTE, column: str) -> ColumnElement[Any]:
    """`column` of the stored non-partial row of the group's previous window: the §5.3 fallback when that window has
    no raw samples left. A primary-key lookup correlated to `cur`; it sits last in a COALESCE, so both dialects
    evaluate it only for the groups that have no raw baseline (typically the first window of a new database)."""
    keys = [c for c in ("instance_id", "database_name") if c in table.c]
    return (select(table.c[column])
            .where(*(table.c[k] == cur.c[k] for k in keys), table.c.period_type == cur.c.period_type,
                   table.c.period_start == cur.c.prev_start, table.c.is_partial.is_(false()))
            .scalar_subquery())


def _grouped(dialect: str, group: CTE, previous: dict[str, str], partition: tuple[str, ...]
             ) -> tuple[Any, Any, dict[str, ColumnElement[Any]]]:
    """`(cur, from, lag)`: the groups, the FROM clause the final joins start from, and per name of `previous` the
    value of that `group` column in the group of the same `partition` (instance, database, period type) for the
    previous window, plus `lag_start` — NULL unless that group exists (`lag_start = prev_start` then holds).

    PostgreSQL: `lag()` over the groups in window order; the group just before is the previous window's when it
    exists (windows of one type do not overlap). One sort, where a self-join of the groups sorted (and spilled)
    every group twice. SQLite: a self-join on `prev_start`, kept flat in the final query; there a CTE computed with
    a window function is under-estimated, so the joins to `prev` and `cov` got no automatic index (quadratic)."""
    if dialect != POSTGRESQL:
        same = group.alias("cur_prev")
        on = and_(*(same.c[k] == group.c[k] for k in partition), same.c.period_start == group.c.prev_start)
        lag_sqlite: dict[str, ColumnElement[Any]] = {"lag_start": same.c.period_start,
                                                    **{name: same.c[column] for name, column in previous.items()}}
        return group, group.outerjoin(same, on), lag_sqlite

    def lag(value: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.lag(value).over(partition_by=[group.c[k] for k in partition], order_by=group.c.period_start)

    cur = select(*group.c, lag(group.c.period_start).label("lag_start"),
                 *(lag(group.c[column]).label(name) for name, column in previous.items())).cte("cur")
    return cur, cur, {name: cur.c[name] for name in ("lag_start", *previous)}


def _same_window(a: Any, b: Any) -> ColumnElement[bool]:
    return and_(a.c.period_type == b.c.period_type, a.c.period_start == b.c.period_start)


def _upsert(dialect: str, table: Any, query: Select[Any]) -> Insert:
    columns = [c.name for c in query.selected_columns]
    keys = [c.name for c in table.primary_key.columns]
    insert = (postgresql.insert if dialect == POSTGRESQL else sqlite.insert)(table)
    statement = insert.from_select(columns, query)
    return statement.on_conflict_do_update(
        index_elements=keys, set_={name: statement.excluded[name] for name in columns if name not in keys}
    ).execution_options(preserve_rowcount=True)


class SqlAlchemyAggregationStore(AggregationStore):
    """Three statements per run whatever the fleet size: tracking starts, database level, instance level."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def aggregate(self, run: AggregationRun) -> AggregationCounts:
        if not run.windows:
            return AggregationCounts(0, 0)
        connection = await self._uow.connection()
        dialect = connection.dialect.name
        windows = tuple(sorted(set(run.windows), key=lambda w: (w.period, w.start)))
        if dialect == POSTGRESQL:
            # For this transaction only (measured on the 5,000 × 365 bench, daily windows):
            # - work_mem: the grouping sorts every sample of the windows; keep that sort in memory.
            # - no JIT: the BETWEEN joins are estimated ~40× above their real size, so every statement crossed the
            #   JIT thresholds and spent ~6 s compiling expressions that run in microseconds.
            # - many windows (a daily backfill: one group per database and day): no hash aggregation. Grouping by
            #   sorting the joined samples leaves the groups in the order `lag()` needs (one sort instead of a
            #   spilling hash table plus a sort of the groups): ~20 % less CPU. Few windows (every nightly run,
            #   weekly and longer backfills): the groups fit a hash table, cheaper than sorting every sample.
            hashagg = "off" if len(windows) > HASH_AGGREGATION_MAX_WINDOWS else "on"
            await connection.execute(text("SELECT set_config('work_mem', :mem, true), set_config('jit', 'off', true),"
                                          " set_config('enable_hashagg', :hashagg, true)"),
                                     {"mem": WORK_MEM, "hashagg": hashagg})
        first_start = min(w.start for w in windows)
        # Only instances created on or after the earliest window can start tracking inside one; two days of margin
        # cover any UTC offset. Their business creation date needs the time zone, which SQLite lacks.
        since = datetime.combine(first_start - 2 * _ONE_DAY, time(), UTC)
        rows = await connection.execute(select(instances.c.id, instances.c.created_at)
                                        .where(instances.c.created_at >= since))
        starts = {int(i): created.astimezone(run.business_zone).date() for i, created in rows}
        starts = {i: d for i, d in starts.items() if d > first_start}
        w = _windows(dialect, windows, run.today)
        ts = _tracking_starts(dialect, starts)
        threshold = int(run.policy.trend_threshold_percent * 100)
        stamp = [typed(dialect, run.computed_at, database_size_aggregations.c.computed_at.type).label("computed_at"),
                 typed(dialect, run.session_id, String()).label("session_id")]
        database_rows = await self._written(connection, _upsert(
            dialect, database_size_aggregations, self._database_query(dialect, w, ts, threshold, stamp)))
        instance_rows = await self._written(connection, _upsert(
            dialect, instance_size_aggregations, self._instance_query(dialect, w, ts, threshold, stamp)))
        return AggregationCounts(database_rows, instance_rows)

    @staticmethod
    async def _written(connection: AsyncConnection, statement: Insert) -> int:
        """Rows inserted or updated. pysqlite reports no rowcount for a statement that starts with WITH, so SQLite
        asks `changes()` (one more constant statement)."""
        result = await connection.execute(statement)
        if connection.dialect.name == POSTGRESQL:
            return max(result.rowcount, 0)
        return int((await connection.execute(text("SELECT changes()"))).scalar_one())

    @staticmethod
    def _database_query(dialect: str, w: CTE, ts: CTE, threshold: int, stamp: list[Label[Any]]) -> Select[Any]:
        s = database_size_samples
        keys = (s.c.instance_id, s.c.database_name, w.c.period_type, w.c.period_start)
        # The window's own columns ride along in the grouping (no join back to `w`, whose estimate would be poor).
        window = (w.c.period_end, w.c.prev_start, w.c.is_partial, w.c.expected_end)
        day = s.c.collected_on
        group = (select(*keys, *window, func.count().label("n"), func.sum(s.c.size_bytes).label("total"),
                        func.min(s.c.size_bytes).label("min_bytes"), func.max(s.c.size_bytes).label("max_bytes"),
                        func.min(day).label("first_on"), func.max(day).label("last_on"),
                        last_value(dialect, day, s.c.size_bytes).label("last_bytes"),
                        last_value(dialect, day, case((s.c.is_system, 1), else_=0)).label("last_system"),
                        func.count(s.c.data_bytes).label("n_data"), func.sum(s.c.data_bytes).label("sum_data"),
                        last_value(dialect, day, s.c.data_bytes).label("last_data"),
                        func.count(s.c.log_bytes).label("n_log"), func.sum(s.c.log_bytes).label("sum_log"),
                        last_value(dialect, day, s.c.log_bytes).label("last_log"))
                 .select_from(s.join(w, day.between(w.c.period_start, w.c.period_end)))
                 .group_by(*keys, *window).cte("grp"))
        cur, joined, lag = _grouped(dialect, group, {"lag_total": "total", "lag_n": "n"},
                                    ("instance_id", "database_name", "period_type"))
        prev = (select(*keys, _r1(dialect, func.sum(s.c.size_bytes), func.count()).label("avg_bytes"))
                .select_from(s.join(w, day.between(w.c.prev_start, w.c.prev_end)))
                .where(w.c.prev_in_set.is_(false())).group_by(*keys).cte("prev"))
        cov = _coverage(w, ts)
        avg = _r1(dialect, cur.c.total, cur.c.n)
        in_set = case((lag["lag_start"] == cur.c.prev_start, _r1(dialect, lag["lag_total"], lag["lag_n"])))
        baseline = func.coalesce(prev.c.avg_bytes, in_set, _stored(database_size_aggregations, cur, "avg_bytes"))
        query = (select(
            cur.c.instance_id, cur.c.database_name, cur.c.period_type, cur.c.period_start,
            cur.c.period_end, cur.c.n.label("sample_count"), cur.c.first_on.label("first_sample_on"),
            cur.c.last_on.label("last_sample_on"), avg.label("avg_bytes"), cur.c.min_bytes, cur.c.max_bytes,
            cur.c.last_bytes, _r1(dialect, cur.c.sum_data, cur.c.n_data).label("avg_data_bytes"),
            cur.c.last_data.label("last_data_bytes"), _r1(dialect, cur.c.sum_log, cur.c.n_log).label("avg_log_bytes"),
            cur.c.last_log.label("last_log_bytes"), (cur.c.last_system == 1).label("is_system"),
            baseline.label("prev_avg_bytes"), *_completeness(dialect, cur, ts, cov))
            .select_from(
                joined.outerjoin(prev, and_(prev.c.instance_id == cur.c.instance_id,
                                            prev.c.database_name == cur.c.database_name, _same_window(prev, cur)))
                .outerjoin(ts, ts.c.instance_id == cur.c.instance_id)
                .outerjoin(cov, and_(cov.c.instance_id == cur.c.instance_id, _same_window(cov, cur)))))
        base = _fenced(dialect, query).cte("base")
        chg, change, percent, trend = _with_changes(dialect, base, "avg_bytes", "prev_avg_bytes", threshold)
        passthrough = [chg.c[c.name] for c in base.c if c.name not in ("is_partial", "is_complete", "expected_days",
                                                                       "covered_days")]
        return select(*passthrough, change.label("change_bytes"), percent.label("change_percent"),
                      trend.label("trend"), chg.c.is_partial, chg.c.is_complete, chg.c.expected_days,
                      chg.c.covered_days, *stamp).where(true())

    @staticmethod
    def _instance_query(dialect: str, w: CTE, ts: CTE, threshold: int, stamp: list[Label[Any]]) -> Select[Any]:
        i = instance_size_samples
        keys = (i.c.instance_id, w.c.period_type, w.c.period_start)
        window = (w.c.period_end, w.c.prev_start, w.c.is_partial, w.c.expected_end)
        day = i.c.collected_on
        group = (select(*keys, *window, func.count().label("n"), func.sum(i.c.total_bytes).label("total"),
                        func.min(i.c.total_bytes).label("min_total"), func.max(i.c.total_bytes).label("max_total"),
                        func.min(day).label("first_on"), func.max(day).label("last_on"),
                        last_value(dialect, day, i.c.total_bytes).label("last_total"),
                        func.count(i.c.data_bytes).label("n_data"), func.sum(i.c.data_bytes).label("sum_data"),
                        func.count(i.c.log_bytes).label("n_log"), func.sum(i.c.log_bytes).label("sum_log"),
                        func.sum(i.c.database_count).label("sum_count"),
                        func.min(i.c.database_count).label("min_count"),
                        func.max(i.c.database_count).label("max_count"),
                        last_value(dialect, day, i.c.database_count).label("last_count"))
                 .select_from(i.join(w, day.between(w.c.period_start, w.c.period_end)))
                 .group_by(*keys, *window).cte("grp"))
        cur, joined, lag = _grouped(dialect, group, {"lag_total": "total", "lag_n": "n", "lag_count": "last_count"},
                                    ("instance_id", "period_type"))
        prev = (select(*keys, _r1(dialect, func.sum(i.c.total_bytes), func.count()).label("avg_total"),
                       last_value(dialect, day, i.c.database_count).label("last_count"))
                .select_from(i.join(w, day.between(w.c.prev_start, w.c.prev_end)))
                .where(w.c.prev_in_set.is_(false())).group_by(*keys).cte("prev"))
        cov = _coverage(w, ts)
        avg = _r1(dialect, cur.c.total, cur.c.n)
        r3 = idiv(dialect, number("200") * cur.c.sum_count + cur.c.n, number("2") * cur.c.n)
        avg_count: ColumnElement[Any] = (r3 / literal(100, Numeric()) if dialect == POSTGRESQL
                                         else r3 / number("100.0"))
        if dialect == POSTGRESQL:
            avg_count = cast(avg_count, Numeric(12, 2))
        in_set = lag["lag_start"] == cur.c.prev_start
        query = (select(
            cur.c.instance_id, cur.c.period_type, cur.c.period_start, cur.c.period_end,
            cur.c.n.label("sample_count"), cur.c.first_on.label("first_sample_on"),
            cur.c.last_on.label("last_sample_on"), avg.label("avg_total_bytes"),
            cur.c.min_total.label("min_total_bytes"), cur.c.max_total.label("max_total_bytes"),
            cur.c.last_total.label("last_total_bytes"),
            _r1(dialect, cur.c.sum_data, cur.c.n_data).label("avg_data_bytes"),
            _r1(dialect, cur.c.sum_log, cur.c.n_log).label("avg_log_bytes"),
            avg_count.label("avg_database_count"), cur.c.min_count.label("min_database_count"),
            cur.c.max_count.label("max_database_count"), cur.c.last_count.label("last_database_count"),
            func.coalesce(prev.c.avg_total, case((in_set, _r1(dialect, lag["lag_total"], lag["lag_n"]))),
                          _stored(instance_size_aggregations, cur, "avg_total_bytes")).label("prev_avg_total_bytes"),
            func.coalesce(prev.c.last_count, case((in_set, lag["lag_count"])),
                          _stored(instance_size_aggregations, cur, "last_database_count"),
                          ).label("prev_last_database_count"),
            *_completeness(dialect, cur, ts, cov))
            .select_from(
                joined.outerjoin(prev, and_(prev.c.instance_id == cur.c.instance_id, _same_window(prev, cur)))
                .outerjoin(ts, ts.c.instance_id == cur.c.instance_id)
                .outerjoin(cov, and_(cov.c.instance_id == cur.c.instance_id, _same_window(cov, cur)))))
        base = _fenced(dialect, query).cte("base")
        chg, change, percent, trend = _with_changes(dialect, base, "avg_total_bytes", "prev_avg_total_bytes",
                                                    threshold)
        passthrough = [chg.c[c.name] for c in base.c if c.name not in (
            "prev_last_database_count", "is_partial", "is_complete", "expected_days", "covered_days")]
        return select(*passthrough, change.label("change_bytes"), percent.label("change_percent"),
                      trend.label("trend"), chg.c.prev_last_database_count,
                      (chg.c.last_database_count - chg.c.prev_last_database_count).label("database_count_delta"),
                      chg.c.is_partial, chg.c.is_complete, chg.c.expected_days, chg.c.covered_days,
                      *stamp).where(true())
