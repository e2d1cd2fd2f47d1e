"""API legacy defect 28 (api.md §6): a queued action answers 202 with a receipt and `Location` and runs nothing in
the request; a second fleet sync while the first runs → 409 JOB_RUNNING; the same request with the same
`Idempotency-Key` → the first receipt, replayed with `Idempotent-Replayed: true`."""

from __future__ import annotations

from tests.fakes.sessions import RecordingTaskQueue
from tests.support.http_client import Api, data_of, error_of
from tests.unit.application.accounts.harness import SyncHarness
from whalefall.adapters.persistence.engine import Database
from whalefall.domain.identity.roles import Role

FLEET_SYNC = "/api/v1/instances/actions/sync-accounts"


async def test_a_double_clicked_fleet_sync_gets_the_first_receipt(accounts_api: Api,
                                                                  queue: RecordingTaskQueue) -> None:
    api = accounts_api
    harness = SyncHarness(await api.container.get(Database))
    await harness.add_instance("alpha")
    await harness.add_instance("beta")
    headers = {**await api.headers(Role.OPERATOR), "Idempotency-Key": "fleet-sync-2027-03-01"}
    first = await api.client.post(FLEET_SYNC, json={}, headers=headers)
    assert first.status_code == 202, first.text
    receipt = data_of(first)
    assert set(receipt) == {"session_id", "kind", "scope", "status", "record_count", "status_url"}
    assert (receipt["kind"], receipt["scope"], receipt["record_count"]) == ("accounts_sync", "fleet", 2)
    assert first.headers["location"] == receipt["status_url"]
    records = await api.rows("SELECT status FROM sync_records")
    assert [r["status"] for r in records] == ["pending", "pending"]  # nothing ran inside the request
    assert len(queue.enqueued) == 2

    replay = await api.client.post(FLEET_SYNC, json={}, headers=headers)
    assert replay.status_code == 202 and replay.headers["idempotent-replayed"] == "true"
    assert data_of(replay) == receipt and replay.headers["location"] == first.headers["location"]
    assert len(queue.enqueued) == 2
    assert len(await api.rows("SELECT id FROM sync_sessions")) == 1

    without_key = {k: v for k, v in headers.items() if k != "Idempotency-Key"}
    conflict = error_of(await api.client.post(FLEET_SYNC, json={}, headers=without_key), 409, "JOB_RUNNING")
    assert conflict["details"][0]["context"]["session_id"] == receipt["session_id"]
    other_key = {**without_key, "Idempotency-Key": "fleet-sync-again"}
    error_of(await api.client.post(FLEET_SYNC, json={}, headers=other_key), 409, "JOB_RUNNING")
    # The 409 is stored too (a 4xx other than 401/403/429): the same retry gets the same answer.
    again = await api.client.post(FLEET_SYNC, json={}, headers=other_key)
    assert again.status_code == 409 and again.headers["idempotent-replayed"] == "true"
