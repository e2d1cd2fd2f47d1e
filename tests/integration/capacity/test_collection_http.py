"""Queued capacity actions, CSV exports and partition status over HTTP on both stores (api.md §3.5, §3.10–3.12,
§5.2; capacity defect 13)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dishka.integrations.litestar import LitestarProvider
from litestar.testing import AsyncTestClient
from sqlalchemy import insert

from tests.fakes.account_sync import PlainSecretCipher
from tests.fakes.sessions import RecordingQueueProvider, RecordingTaskQueue
from tests.integration.capacity.helpers import add_instance, insert_samples
from tests.support.http_client import Api, data_of, error_of, make_settings
from tests.support.stores import Store
from tests.unit.application.accounts.harness import SyncHarness
from whalefall.adapters.persistence.capacity.writes import SqlAlchemyCapacityWriter
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.sessions import sync_sessions
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.capacity.aggregate_capacity import AggregateCapacity, AggregateCapacityInput
from whalefall.application.ports.capacity import LedgerEntry
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.domain.capacity import DatabaseSample, InstanceSample, PeriodType, last_complete_window
from whalefall.domain.identity.roles import Role
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.http.app import create_app
from whalefall.entrypoints.http.auth import HttpAuthProvider

COLLECT = "/api/v1/capacity/actions/collect"


@pytest.fixture
def queue() -> RecordingTaskQueue:
    return RecordingTaskQueue()


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {}


@pytest.fixture
async def api(store: Store, tmp_path: Path, queue: RecordingTaskQueue,
              extra_settings: dict[str, str]) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path / "data", store.url, **extra_settings)
    container = make_container(settings, HttpAuthProvider(), LitestarProvider(), RecordingQueueProvider(queue))
    try:
        app = create_app(container, settings, await container.get(Clock))
        async with AsyncTestClient(app, raise_server_exceptions=False) as client:
            yield Api(app=app, container=container, client=client, settings=settings)
    finally:
        await container.close()


async def _instances(api: Api) -> tuple[int, int, int]:
    harness = SyncHarness(await api.container.get(Database), cipher=PlainSecretCipher())
    return (await harness.add_instance("alpha"), await harness.add_instance("beta"),
            await harness.add_instance("sleepy", is_active=False))


async def _today(api: Api) -> date:
    today: date = (await api.container.get(Clock)).now().date()
    return today


async def test_collect_queues_one_record_per_active_instance(api: Api, queue: RecordingTaskQueue) -> None:
    alpha, beta, sleepy = await _instances(api)
    operator = await api.headers(Role.OPERATOR)
    error_of(await api.client.post(COLLECT, json={}, headers=await api.headers(Role.VIEWER)), 403,
             "PERMISSION_DENIED")
    body = error_of(await api.client.post(COLLECT, json={"include_tables": "yes"}, headers=operator), 400,
                    "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "body.include_tables"
    response = await api.client.post(COLLECT, json={"include_tables": True}, headers=operator)
    receipt = data_of(response)
    assert response.status_code == 202 and response.headers["Location"] == receipt["status_url"]
    assert (receipt["kind"], receipt["scope"], receipt["record_count"]) == ("capacity_collection", "fleet", 2)
    records = await api.rows("SELECT instance_id FROM sync_records ORDER BY instance_id")
    assert [r["instance_id"] for r in records] == [alpha, beta]
    assert len(queue.enqueued) == 2
    error_of(await api.client.post(COLLECT, json={}, headers=operator), 409, "JOB_RUNNING")
    body = error_of(await api.client.post(COLLECT, json={"instance_ids": [alpha, sleepy, 987654]},
                                          headers=operator), 422, "INVALID_REFERENCE")
    assert [(d["field"], d["code"]) for d in body["details"]] == [
        ("body.instance_ids[1]", "inactive"), ("body.instance_ids[2]", "not_found")]
    targeted = data_of(await api.client.post(COLLECT, json={"instance_ids": [beta]}, headers=operator))
    assert (targeted["scope"], targeted["record_count"]) == ("targeted", 1)
    sessions = await api.rows("SELECT params FROM sync_sessions WHERE kind = 'capacity_collection' "
                              "ORDER BY created_at")
    params = sessions[0]["params"]
    assert (params if isinstance(params, dict) else json.loads(params)) == {"include_tables": True}


async def test_sync_capacity_refuses_inactive_and_unknown_instances(api: Api) -> None:
    """Defect 13: an inactive instance → 409 INSTANCE_INACTIVE; a deleted or unknown one → 404."""
    alpha, _beta, sleepy = await _instances(api)
    operator = await api.headers(Role.OPERATOR)
    path = "/api/v1/instances/{}/actions/sync-capacity"
    response = await api.client.post(path.format(alpha), headers=operator)
    receipt = data_of(response)
    assert response.status_code == 202
    assert (receipt["kind"], receipt["scope"], receipt["record_count"]) == ("capacity_collection", "targeted", 1)
    data_of(await api.client.post(path.format(alpha), json={"include_tables": True}, headers=operator))
    error_of(await api.client.post(path.format(sleepy), headers=operator), 409, "INSTANCE_INACTIVE")
    error_of(await api.client.post(path.format(987654), headers=operator), 404, "RESOURCE_NOT_FOUND")
    data_of(await api.client.delete(f"/api/v1/instances/{alpha}", headers=operator))
    error_of(await api.client.post(path.format(alpha), headers=operator), 404, "RESOURCE_NOT_FOUND")
    error_of(await api.client.post(path.format(alpha), headers=await api.headers(Role.AUDITOR)), 403,
             "PERMISSION_DENIED")


async def _ledger(api: Api, instance: int, today: date) -> dict[str, int]:
    database = await api.container.get(Database)
    uow = SqlAlchemyUnitOfWork(database)
    try:
        await SqlAlchemyCapacityWriter(uow).save_ledger(instance, [
            LedgerEntry(name="shop", is_system=False, is_excluded=False, status="active", first_seen_on=today,
                        last_seen_on=today),
            LedgerEntry(name="=old", is_system=False, is_excluded=True, status="gone", first_seen_on=today,
                        last_seen_on=today, gone_since=today)])
        await uow.commit()
    finally:
        await uow.close()
    rows = await api.rows("SELECT id, name FROM instance_databases WHERE instance_id = :i", i=instance)
    return {r["name"]: r["id"] for r in rows}


async def test_refresh_table_sizes_is_a_queued_table_sizes_session(api: Api) -> None:
    alpha, _beta, _sleepy = await _instances(api)
    ids = await _ledger(api, alpha, await _today(api))
    operator = await api.headers(Role.OPERATOR)
    path = "/api/v1/databases/{}/actions/refresh-table-sizes"
    response = await api.client.post(path.format(ids["shop"]), headers=operator)
    receipt = data_of(response)
    assert response.status_code == 202
    assert (receipt["kind"], receipt["scope"], receipt["record_count"]) == ("table_sizes", "targeted", 1)
    records = await api.rows("SELECT item_type, item_key, instance_id FROM sync_records")
    assert records == [{"item_type": "database", "item_key": str(ids["shop"]), "instance_id": alpha}]
    error_of(await api.client.post(path.format(ids["=old"]), headers=operator), 409, "DATABASE_GONE")
    error_of(await api.client.post(path.format(987654), headers=operator), 404, "RESOURCE_NOT_FOUND")
    error_of(await api.client.post(path.format(ids["shop"]), headers=await api.headers(Role.VIEWER)), 403,
             "PERMISSION_DENIED")


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


async def test_database_ledger_export(api: Api) -> None:
    alpha, _beta, _sleepy = await _instances(api)
    today = await _today(api)
    await _ledger(api, alpha, today)
    error_of(await api.client.get("/api/v1/databases/exports", headers=await api.headers(Role.VIEWER)), 403,
             "PERMISSION_DENIED")
    response = await api.client.get("/api/v1/databases/exports", params={"bom": "true", "sort": "name"},
                                    headers=await api.headers(Role.AUDITOR))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text.startswith("\ufeff")
    header, *rows = _csv(response.text)
    assert header == ["instance_name", "db_type", "name", "status", "is_system", "is_excluded", "first_seen_on",
                      "last_seen_on", "gone_since", "last_size_bytes", "last_collected_on", "instance_tags"]
    assert [r[:6] for r in rows] == [["alpha", "postgresql", "'=old", "gone", "false", "true"],
                                     ["alpha", "postgresql", "shop", "active", "false", "false"]]
    filtered = _csv((await api.client.get("/api/v1/databases/exports", params={"status": "active"},
                                          headers=await api.headers(Role.OPERATOR))).text)
    assert [r[2] for r in filtered[1:]] == ["shop"]
    audit = await api.rows("SELECT details FROM audit_events WHERE action = 'export.download'")
    assert len(audit) == 2


async def test_capacity_aggregation_exports(api: Api) -> None:
    database = await api.container.get(Database)
    today = await _today(api)
    week = last_complete_window(PeriodType.WEEKLY, today)
    instance = await add_instance(database, "billing")
    days = [week.start + timedelta(days=k) for k in range(7)]
    await insert_samples(database, [DatabaseSample(instance, "shop", d, 1000 + k) for k, d in enumerate(days)],
                         [InstanceSample(instance, d, 1000 + k, 1) for k, d in enumerate(days)])
    async with api.container() as scope:
        await (await scope.get(AggregateCapacity)).execute(AggregateCapacityInput(
            actor=Actor.system("test"), period_type=PeriodType.WEEKLY, windows=(week,)))
    auditor = await api.headers(Role.AUDITOR)
    db_csv = _csv((await api.client.get("/api/v1/capacity/databases/exports",
                                        params={"period_type": "weekly"}, headers=auditor)).text)
    assert db_csv[0][:4] == ["instance_name", "db_type", "database_name", "database_status"]
    row = dict(zip(db_csv[0], db_csv[1], strict=True))
    assert (row["database_name"], row["period_start"], row["sample_count"], row["avg_bytes"], row["max_bytes"]) == (
        "shop", week.start.isoformat(), "7", "1003", "1006")
    inst_csv = _csv((await api.client.get("/api/v1/capacity/instances/exports",
                                          params={"period_type": "weekly"}, headers=auditor)).text)
    row = dict(zip(inst_csv[0], inst_csv[1], strict=True))
    assert (row["instance_name"], row["avg_total_bytes"], row["avg_database_count"], row["covered_days"]) == (
        "billing", "1003", "1.00", "7")
    assert len(inst_csv) == 2
    error_of(await api.client.get("/api/v1/capacity/instances/exports", headers=auditor), 400, "VALIDATION_ERROR")
    error_of(await api.client.get("/api/v1/capacity/instances/exports", params={"period_type": "weekly"},
                                  headers=await api.headers(Role.VIEWER)), 403, "PERMISSION_DENIED")


async def test_partition_status_names_the_last_finished_maintenance(api: Api) -> None:
    viewer = await api.headers(Role.AUDITOR)
    status = data_of(await api.client.get("/api/v1/partitions/status", headers=viewer))
    assert status["last_maintenance"] is None
    database = await api.container.get(Database)
    base = datetime(2027, 5, 1, 0, 30, tzinfo=UTC)
    rows = [(str(uuid.uuid4()), status_, base + timedelta(days=k), finished)
            for k, (status_, finished) in enumerate([("completed", True), ("failed", True), ("running", False)])]
    async with database.connect() as connection:
        await connection.execute(insert(sync_sessions), [
            {"id": sid, "kind": "partition_maintenance", "scope": "fleet", "trigger": "scheduled", "status": st,
             "created_at": at, "started_at": at, "finished_at": at + timedelta(minutes=1) if done else None,
             "params": {}, "summary": {}} for sid, st, at, done in rows])
        await connection.commit()
    status = data_of(await api.client.get("/api/v1/partitions/status", headers=viewer))
    assert status["last_maintenance"] == {"session_id": rows[1][0], "status": "failed",
                                          "finished_at": "2027-05-02T00:31:00Z"}


@pytest.mark.parametrize("extra_settings", [{"WHALEFALL_EXPORT_MAX_ROWS": "1"}])
async def test_exports_over_the_row_cap_send_nothing(api: Api) -> None:
    alpha, _beta, _sleepy = await _instances(api)
    await _ledger(api, alpha, await _today(api))
    body = error_of(await api.client.get("/api/v1/databases/exports", headers=await api.headers(Role.AUDITOR)),
                    422, "EXPORT_TOO_LARGE")
    assert body["details"][0]["context"] == {"max": 1, "rows": 2}
    assert await api.rows("SELECT id FROM audit_events WHERE action = 'export.download'") == []
