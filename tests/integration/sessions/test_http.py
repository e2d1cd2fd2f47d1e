"""The four sync-session routes (api.md §3.15): shapes, filters, paging, permissions and 409 SESSION_FINISHED."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.sessions.harness import Harness
from tests.support.http_client import Api, data_of, error_of
from whalefall.adapters.persistence.engine import Database
from whalefall.application.ports.sessions import RecordFinish
from whalefall.domain.identity.roles import Role
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope

BASE = "/api/v1/sync-sessions"


@pytest.fixture
async def sessions(api: Api) -> AsyncIterator[Harness]:
    database = Database(api.settings.effective_database_url)
    try:
        yield Harness(database)
    finally:
        await database.dispose()


async def test_list_detail_records_and_cancel(api: Api, sessions: Harness) -> None:
    viewer = await api.headers(Role.VIEWER)
    operator = await api.headers(Role.OPERATOR)
    instance = await sessions.add_instance("alpha")
    fleet = await sessions.open(SessionKind.ACCOUNTS_SYNC, instance_ids=[instance], items=2,
                                scope=SessionScope.FLEET)
    other = await sessions.open(SessionKind.CONNECTION_TEST, items=1)
    first, *_ = await sessions.records(fleet.id)
    async with sessions.unit() as (store, uow):
        await store.claim(first.id, worker_id="w", lease_ttl_s=60, now=sessions.clock.now())
        await store.finish(first.id, RecordFinish(status=RecordStatus.FAILED, error_code="UNREACHABLE",
                                                  error_class="UNREACHABLE"), now=sessions.clock.now())
        await uow.commit()

    listed = data_of(await api.client.get(BASE, headers=viewer))
    assert (listed["total"], listed["pages"]) == (2, 1)
    by_kind = data_of(await api.client.get(BASE, params={"kind": "accounts_sync"}, headers=viewer))
    assert [s["id"] for s in by_kind["items"]] == [fleet.id]
    by_instance = data_of(await api.client.get(BASE, params={"instance_id": instance}, headers=viewer))
    assert [s["id"] for s in by_instance["items"]] == [fleet.id]
    window = data_of(await api.client.get(BASE, params={"since": "2027-03-01T02:00:00Z",
                                                        "until": "2027-03-01T03:00:00Z"}, headers=viewer))
    assert window["total"] == 0

    detail = data_of(await api.client.get(f"{BASE}/{fleet.id}", headers=viewer))
    assert detail["counters"] == {"total": 3, "pending": 2, "running": 0, "succeeded": 0, "failed": 1,
                                  "skipped": 0, "cancelled": 0}
    assert detail["progress_percent"] == 33 and detail["duration_ms"] is None
    assert detail["records"][0]["status"] == "failed" and detail["records_total"] == 3
    assert detail["records"][0]["instance"] == {"id": instance, "name": f"i{instance}"}

    records = data_of(await api.client.get(f"{BASE}/{fleet.id}/records", params={"status": "pending"},
                                           headers=viewer))
    assert records["total"] == 2
    failed = data_of(await api.client.get(f"{BASE}/{fleet.id}/records", params={"error_class": "UNREACHABLE"},
                                          headers=viewer))
    assert [r["id"] for r in failed["items"]] == [first.id]

    error_of(await api.client.post(f"{BASE}/{fleet.id}/actions/cancel", headers=viewer), 403, "PERMISSION_DENIED")
    response = await api.client.post(f"{BASE}/{fleet.id}/actions/cancel", headers=operator)
    assert response.status_code == 202 and response.headers["location"] == f"{BASE}/{fleet.id}"
    cancelled = data_of(response)
    assert cancelled["status"] == "cancelled" and cancelled["counters"]["cancelled"] == 2
    assert cancelled["cancel_requested_at"] is not None
    body = error_of(await api.client.post(f"{BASE}/{fleet.id}/actions/cancel", headers=operator), 409,
                    "SESSION_FINISHED")
    assert body["details"] == [] or body["details"][0]["code"]
    assert other.id != fleet.id


async def test_unknown_sessions_and_bad_queries(api: Api) -> None:
    viewer = await api.headers(Role.VIEWER)
    operator = await api.headers(Role.OPERATOR)
    missing = "0b7c6a52-8f0e-4c9a-9d43-3f1a2b3c4d5e"
    error_of(await api.client.get(f"{BASE}/{missing}", headers=viewer), 404, "RESOURCE_NOT_FOUND")
    error_of(await api.client.get(f"{BASE}/not-a-uuid/records", headers=viewer), 404, "RESOURCE_NOT_FOUND")
    error_of(await api.client.post(f"{BASE}/{missing}/actions/cancel", headers=operator), 404, "RESOURCE_NOT_FOUND")
    naive = error_of(await api.client.get(BASE, params={"since": "2027-03-01T00:00:00"}, headers=viewer), 400,
                     "VALIDATION_ERROR")
    assert naive["details"][0]["code"] == "naive_datetime"
    bad = error_of(await api.client.get(BASE, params={"kind": "everything", "sort": "name", "colour": "red"},
                                        headers=viewer), 400, "VALIDATION_ERROR")
    assert {d["code"] for d in bad["details"]} >= {"invalid_choice", "unknown_parameter"}
    backwards = error_of(await api.client.get(BASE, params={"since": "2027-03-02T00:00:00Z",
                                                            "until": "2027-03-01T00:00:00Z"}, headers=viewer),
                         400, "VALIDATION_ERROR")
    assert backwards["details"][0]["code"] == "invalid_range"
