"""Capacity, ledger and partition read routes over HTTP on both stores (api.md §3.10–3.12; defects 3, 4, 17)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.integration.capacity.helpers import add_instance, insert_samples
from tests.support.http_client import Api, data_of, error_of
from whalefall.adapters.persistence.capacity.writes import SqlAlchemyCapacityWriter
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.capacity.aggregate_capacity import (
    AggregateCapacity,
    AggregateCapacityInput,
    resolve_window,
)
from whalefall.application.ports.capacity import LedgerEntry, TableSize
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.domain.capacity import DatabaseSample, InstanceSample, PeriodType, Window, last_complete_window
from whalefall.domain.identity.roles import Role


async def _today(api: Api) -> date:
    clock = await api.container.get(Clock)
    today: date = clock.now().date()  # the test settings use UTC as the business time zone
    return today


async def _aggregate(api: Api, period: PeriodType, windows: tuple[Window, ...]) -> None:
    async with api.container() as scope:
        use_case = await scope.get(AggregateCapacity)
        await use_case.execute(AggregateCapacityInput(actor=Actor.system("test"), period_type=period,
                                                      windows=windows))


async def _ledger(database: Database, instance: int, entries: list[LedgerEntry],
                  tables: dict[str, list[TableSize]] | None = None) -> None:
    uow = SqlAlchemyUnitOfWork(database)
    try:
        writer = SqlAlchemyCapacityWriter(uow)
        await writer.save_ledger(instance, entries)
        for name, rows in (tables or {}).items():
            await writer.replace_table_sizes(instance, name, rows, collected_at=datetime(2027, 1, 1, tzinfo=UTC),
                                             truncated=True)
        await uow.commit()
    finally:
        await uow.close()


async def _fleet(api: Api) -> tuple[int, Window, date]:
    """One instance with `shop` (active) and `old` (gone mid-week) sampled over the last complete week and the week
    before; both weeks aggregated."""
    database = await api.container.get(Database)
    today = await _today(api)
    week = last_complete_window(PeriodType.WEEKLY, today)
    instance = await add_instance(database, "billing")
    days = [week.start - timedelta(days=7) + timedelta(days=k) for k in range(14)]
    await insert_samples(
        database,
        [DatabaseSample(instance, "shop", d, 1000 + 10 * k) for k, d in enumerate(days)]
        + [DatabaseSample(instance, "old", d, 500) for d in days[:10]],
        [InstanceSample(instance, d, 1500 + 10 * k, 2) for k, d in enumerate(days)])
    await _ledger(database, instance, [
        LedgerEntry(name="shop", is_system=False, is_excluded=False, status="active", first_seen_on=days[0],
                    last_seen_on=today),
        LedgerEntry(name="old", is_system=False, is_excluded=False, status="gone", first_seen_on=days[0],
                    last_seen_on=days[9], gone_since=days[10])],
        {"shop": [TableSize(schema_name="public", table_name=f"t{k}", total_bytes=100 * k) for k in range(5)]})
    previous = resolve_window(PeriodType.WEEKLY, {"start": (week.start - timedelta(days=7)).isoformat()}, today)
    await _aggregate(api, PeriodType.WEEKLY, (previous, week))
    return instance, week, today


async def _get(api: Api, path: str, role: Role = Role.VIEWER, **params: Any) -> Any:
    response = await api.client.get(path, params=params, headers=await api.headers(role))
    return data_of(response)


async def test_gone_database_keeps_its_rows_and_reads_say_gone(api: Api) -> None:
    """Defect 4."""
    instance, week, _ = await _fleet(api)
    page = await _get(api, "/api/v1/capacity/databases", period_type="weekly", start_on=week.start.isoformat())
    rows = {r["database_name"]: r for r in page["items"]}
    assert page["total"] == 2 and set(rows) == {"shop", "old"}
    assert rows["old"]["database_status"] == "gone" and rows["shop"]["database_status"] == "active"
    assert rows["old"]["sample_count"] == 3 and rows["old"]["instance"]["id"] == instance
    assert rows["shop"]["prev_avg_bytes"] is not None and rows["shop"]["trend"] in ("growing", "stable")


async def test_partial_rows_are_hidden_unless_requested(api: Api) -> None:
    """Defect 3: an explicit current request stores is_partial = true; reads hide it by default; the scheduled
    window is always complete."""
    _, _, today = await _fleet(api)
    database = await api.container.get(Database)
    ids = await api.rows("SELECT id FROM instances")
    await insert_samples(database, [DatabaseSample(ids[0]["id"], "shop", today, 7777)], [])
    current = resolve_window(PeriodType.DAILY, "current", today)
    assert resolve_window(PeriodType.DAILY, "last_complete", today).end < today
    await _aggregate(api, PeriodType.DAILY, (current,))
    stored = await api.rows("SELECT is_partial FROM database_size_aggregations WHERE period_type = 'daily'")
    assert [bool(r["is_partial"]) for r in stored] == [True]
    hidden = await _get(api, "/api/v1/capacity/databases", period_type="daily")
    assert hidden["total"] == 0
    shown = await _get(api, "/api/v1/capacity/databases", period_type="daily", include_partial="true")
    assert shown["total"] == 1 and shown["items"][0]["is_partial"] is True


async def test_summary_needs_one_period_type_and_sums_its_rows(api: Api) -> None:
    """Defect 17."""
    _, week, _ = await _fleet(api)
    headers = await api.headers(Role.VIEWER)
    error_of(await api.client.get("/api/v1/capacity/databases/summary", headers=headers), 400, "VALIDATION_ERROR")
    summary = await _get(api, "/api/v1/capacity/databases/summary", period_type="weekly")
    rows = (await _get(api, "/api/v1/capacity/databases", period_type="weekly",
                       start_on=week.start.isoformat(), end_on=week.start.isoformat()))["items"]
    assert summary["period_start"] == week.start.isoformat() and summary["period_type"] == "weekly"
    assert summary["row_count"] == len(rows) == 2
    assert summary["total_avg_bytes"] == sum(r["avg_bytes"] for r in rows)
    assert summary["total_last_bytes"] == sum(r["last_bytes"] for r in rows)
    with_baseline = [r for r in rows if r["prev_avg_bytes"] is not None]
    assert summary["total_prev_avg_bytes"] == sum(r["prev_avg_bytes"] for r in with_baseline)
    assert summary["total_change_bytes"] == sum(r["change_bytes"] for r in with_baseline)
    assert sum(summary["trend_counts"].values()) == 2
    instances = await _get(api, "/api/v1/capacity/instances/summary", period_type="weekly")
    assert instances["row_count"] == 1 and instances["instance_count"] == 1


async def test_list_paging_and_validation(api: Api) -> None:
    await _fleet(api)
    headers = await api.headers(Role.VIEWER)
    page = await _get(api, "/api/v1/capacity/databases", period_type="weekly", limit=1, page=2)
    assert (page["total"], page["page"], page["limit"], page["pages"], len(page["items"])) == (4, 2, 1, 4, 1)
    body = error_of(await api.client.get("/api/v1/capacity/instances", headers=headers), 400, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "query.period_type"
    error_of(await api.client.get("/api/v1/capacity/databases", params={"period_type": "hourly"},
                                  headers=headers), 400, "VALIDATION_ERROR")
    instances = await _get(api, "/api/v1/capacity/instances", period_type="weekly", sort="-avg_total_bytes")
    assert instances["total"] == 2 and instances["items"][0]["avg_database_count"] == "2.00"


async def test_forecast_and_samples(api: Api) -> None:
    instance, _, _ = await _fleet(api)
    headers = await api.headers(Role.VIEWER)
    for days in ("6", "731"):
        body = error_of(await api.client.get("/api/v1/capacity/forecast", headers=headers,
                                             params={"instance_id": instance, "window_days": days}),
                        400, "VALIDATION_ERROR")
        assert body["details"][0]["field"] == "query.window_days"
    result = await _get(api, "/api/v1/capacity/forecast", instance_id=instance, database_name="shop",
                        window_days=30)
    assert result["status"] == "ok" and result["sample_count"] == 14 and result["slope_bytes_per_day"] == "10.00"
    error_of(await api.client.get("/api/v1/capacity/forecast", params={"instance_id": 999_999}, headers=headers),
             404, "RESOURCE_NOT_FOUND")
    samples = await _get(api, "/api/v1/capacity/samples/databases", instance_id=instance, database_name="old")
    assert samples["total"] == 10
    inst = await _get(api, "/api/v1/capacity/samples/instances", instance_id=instance, limit=200)
    assert inst["total"] == 14 and inst["items"][0]["collected_on"] < inst["items"][-1]["collected_on"]
    # Found by Schemathesis: a default window before year 1 overflowed into a 500.
    early = error_of(await api.client.get("/api/v1/capacity/samples/databases", headers=headers,
                                          params={"instance_id": instance, "end_on": "0001-01-01"}),
                     400, "VALIDATION_ERROR")
    assert early["details"][0]["field"] == "query.end_on"


async def test_database_ledger_routes(api: Api) -> None:
    instance, _, _ = await _fleet(api)
    listing = await _get(api, "/api/v1/databases", sort="name")
    assert [d["name"] for d in listing["items"]] == ["old", "shop"]
    assert {d["freshness"] for d in listing["items"]} == {"never"}
    gone = await _get(api, "/api/v1/databases", status="gone")
    assert [d["name"] for d in gone["items"]] == ["old"]
    shop = next(d for d in listing["items"] if d["name"] == "shop")
    assert (await _get(api, f"/api/v1/databases/{shop['id']}"))["instance"]["id"] == instance
    response = await api.client.get(f"/api/v1/databases/{shop['id']}/tables", params={"limit": 2},
                                    headers=await api.headers(Role.VIEWER))
    tables = data_of(response)
    assert [t["table_name"] for t in tables["items"]] == ["t4", "t3"] and tables["total"] == 5
    assert response.json()["meta"]["warnings"][0]["code"] == "TABLE_SIZES_TRUNCATED"
    error_of(await api.client.get("/api/v1/databases/999999", headers=await api.headers(Role.VIEWER)),
             404, "RESOURCE_NOT_FOUND")
    detail = await _get(api, f"/api/v1/instances/{instance}")
    assert detail["database_count"] == 1


async def test_partition_routes(api: Api) -> None:
    supported = api.settings.database_url is not None and not api.settings.database_url.startswith("sqlite")
    plan = await _get(api, "/api/v1/partitions/plan", Role.AUDITOR)
    assert plan["supported"] is supported
    info = await _get(api, "/api/v1/partitions/info", Role.AUDITOR)
    status = await _get(api, "/api/v1/partitions/status", Role.AUDITOR)
    listing = await _get(api, "/api/v1/partitions", Role.AUDITOR, state="default")
    if supported:
        assert {t["table"] for t in info["tables"]} == {"database_size_samples", "instance_size_samples",
                                                        "database_size_aggregations", "instance_size_aggregations"}
        assert status["status"] in ("ok", "warning", "critical") and listing["total"] == 4
    else:
        assert info["supported"] is False and info["reason"] == "metadata store is SQLite"
        assert status["status"] == "not_applicable" and listing["total"] == 0
        response = await api.client.post("/api/v1/partitions/actions/apply", headers=await api.headers(Role.ADMIN))
        assert response.status_code == 200 and data_of(response) == {"supported": False,
                                                                     "reason": "metadata store is SQLite"}
    error_of(await api.client.get("/api/v1/partitions/plan", headers=await api.headers(Role.VIEWER)),
             403, "PERMISSION_DENIED")
