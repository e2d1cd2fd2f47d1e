"""Property (capacity.md §6): random sample sets through the SQL aggregation equal the pure `aggregate`, field by
field, on both dialects (SQLite: sizes below 2^48)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.capacity.helpers import (
    add_instance,
    aggregate,
    clear_capacity,
    insert_samples,
    stored_databases,
    stored_instances,
)
from whalefall.adapters.persistence.engine import Database
from whalefall.domain.capacity import (
    AggregationPolicy,
    DatabasePeriodStats,
    DatabaseSample,
    InstancePeriodStats,
    InstanceSample,
    PeriodType,
    period_window,
    previous_window,
)
from whalefall.domain.capacity import aggregate as pure_aggregate

ZONES = [ZoneInfo("UTC"), ZoneInfo("Asia/Shanghai"), ZoneInfo("America/Los_Angeles")]
NAMES = ["shop", "Shop", "销售", "my-db", "a b"]
MAX_PERCENT = Decimal("9999999999.99")


def _sizes(limit: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 3), st.integers(0, 2**20), st.integers(0, limit))


def _optional(strategy: st.SearchStrategy[int]) -> st.SearchStrategy[int | None]:
    return st.one_of(st.none(), strategy)


def _clamped(percent: Decimal | None) -> Decimal | None:
    """The store keeps NULL when a percent does not fit NUMERIC(12,2) (documented deviation)."""
    return None if percent is None or abs(percent) > MAX_PERCENT else percent


def _expected_databases(rows: tuple[DatabasePeriodStats, ...]) -> list[DatabasePeriodStats]:
    import dataclasses
    return [dataclasses.replace(r, change_percent=_clamped(r.change_percent)) for r in rows]


def _expected_instances(rows: tuple[InstancePeriodStats, ...]) -> list[InstancePeriodStats]:
    import dataclasses
    return [dataclasses.replace(r, change_percent=_clamped(r.change_percent)) for r in rows]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_sql_aggregation_equals_the_pure_reference(database: Database, data: st.DataObject) -> None:
    await clear_capacity(database)
    limit = 2**48 - 1 if database.is_sqlite else 2**62
    period = data.draw(st.sampled_from(list(PeriodType)), label="period")
    anchor = data.draw(st.dates(date(2027, 1, 1), date(2027, 12, 31)), label="anchor")
    window = period_window(period, anchor)
    previous = previous_window(window)
    today = data.draw(st.dates(window.start - timedelta(days=3), window.end + timedelta(days=40)), label="today")
    zone = data.draw(st.sampled_from(ZONES), label="zone")
    threshold = data.draw(st.sampled_from([Decimal("5.00"), Decimal("0"), Decimal("2.5"), Decimal("100")]))
    days = [previous.start + timedelta(days=k) for k in range((window.end - previous.start).days + 1)]
    instance_count = data.draw(st.integers(1, 3), label="instances")
    starts: dict[int, date] = {}
    db_samples: list[DatabaseSample] = []
    inst_samples: list[InstanceSample] = []
    for k in range(instance_count):
        created = data.draw(st.datetimes(datetime(2026, 9, 1), datetime(2029, 1, 1), timezones=st.just(UTC)))
        instance = await add_instance(database, f"inst-{k}",
                                      created_at=created)
        starts[instance] = created.astimezone(zone).date()
        sample_days = data.draw(st.lists(st.sampled_from(days), unique=True, max_size=12), label="db days")
        for name in data.draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=3), label="names"):
            for day in data.draw(st.lists(st.sampled_from(days), unique=True, max_size=10)) + sample_days[:2]:
                if any(s.instance_id == instance and s.database_name == name and s.collected_on == day
                       for s in db_samples):
                    continue
                db_samples.append(DatabaseSample(
                    instance, name, day, data.draw(_sizes(limit)), data.draw(_optional(_sizes(limit))),
                    data.draw(_optional(_sizes(limit))), data.draw(st.booleans())))
        for day in sample_days:
            inst_samples.append(InstanceSample(
                instance, day, data.draw(_sizes(limit)), data.draw(st.integers(0, 400)),
                data.draw(st.sampled_from([0, 0, 0, 1, 3])), data.draw(_optional(_sizes(limit))),
                data.draw(_optional(_sizes(limit)))))
    await insert_samples(database, db_samples, inst_samples)
    policy = AggregationPolicy(threshold)
    # Sometimes the previous window is aggregated in the same statement (its average then comes from its own group).
    windows = [previous, window] if data.draw(st.booleans(), label="with previous") else [window]
    await aggregate(database, windows, today=today, zone=zone, policy=policy)
    expected_db: list[DatabasePeriodStats] = []
    expected_inst: list[InstancePeriodStats] = []
    for w in windows:
        result = pure_aggregate(w, db_samples, inst_samples, today=today, previous_database_samples=db_samples,
                                previous_instance_samples=inst_samples, tracking_start=starts, policy=policy)
        expected_db += _expected_databases(result.databases)
        expected_inst += _expected_instances(result.instances)
    assert await stored_databases(database) == expected_db
    assert await stored_instances(database) == expected_inst
