"""HTTP routes of api.md §3.8 and the account-sync actions: envelopes, statuses, codes and wire shapes."""

from __future__ import annotations

from datetime import timedelta

from tests.fakes.account_sync import FakePgServer
from tests.fakes.sessions import RecordingTaskQueue
from tests.support.http_client import Api, data_of, error_of
from tests.unit.application.accounts.harness import T0, SyncHarness
from whalefall.adapters.persistence.engine import Database
from whalefall.domain.identity.roles import Role

T1, T2 = T0 + timedelta(hours=1), T0 + timedelta(hours=2)


async def seeded(api: Api) -> tuple[SyncHarness, int]:
    ledger = SyncHarness(await api.container.get(Database))
    instance = await ledger.add_instance()
    pg = FakePgServer(instance)
    pg.add_role("app_ro")
    pg.grant("app_ro", "SELECT", "orders")
    pg.add_role("alice", login=True)
    pg.grant_role("app_ro", "alice")
    await ledger.sync(instance, lambda: pg.rows(T1))
    pg.grant("alice", "UPDATE", "t2", option=True)
    await ledger.sync(instance, lambda: pg.rows(T2))
    return ledger, instance


async def test_account_routes(accounts_api: Api) -> None:
    api = accounts_api
    _, instance = await seeded(accounts_api)
    error_of(await api.client.get("/api/v1/accounts", headers=await api.headers(Role.VIEWER)), 403,
             "PERMISSION_DENIED")
    headers = await api.headers(Role.AUDITOR)
    listed = data_of(await api.client.get("/api/v1/accounts", params={"instance_id": instance, "q": "ali"},
                                          headers=headers))
    assert listed["total"] == 1
    alice = listed["items"][0]
    assert alice["kind"] == "role" and alice["key"] == "alice" and alice["roles"] == ["app_ro"]
    assert alice["instance"]["db_type"] == "postgresql" and alice["classifications"] == []
    account = f"/api/v1/accounts/{alice['id']}"

    permissions = data_of(await api.client.get(f"{account}/permissions", headers=headers))
    assert [(g["privilege"], g["object_path"], g["grant_option"]) for g in permissions["grants"]] == [
        ("UPDATE", "app.public.t2", True)]
    assert permissions["memberships"][0]["role"] == {"kind": "role", "namespace": "", "key": "app_ro"}

    effective = data_of(await api.client.get(f"{account}/effective-privileges", params={"privilege": "SELECT"},
                                             headers=headers))
    assert effective["items"][0]["paths"][0]["source"] == "role:app_ro"

    state = data_of(await api.client.get(f"{account}/state", params={"at": T1.isoformat()}, headers=headers))
    assert state["status"] == "known" and state["grants"] == []

    diff = data_of(await api.client.get(f"{account}/diff", params={"from": T1.isoformat(), "to": T2.isoformat()},
                                        headers=headers))
    assert diff["granted"][0]["grant_option"] == {"before": None, "after": True}
    assert set(diff) >= {"from", "to", "status_from", "status_to", "memberships_added", "attributes"}

    changes = data_of(await api.client.get(f"{account}/changes", headers=headers))
    assert [c["type"] for c in changes["items"]] == ["privileges_granted", "added"]  # default -observed_at
    change = changes["items"][0]
    assert set(change) == {"id", "instance_id", "account_id", "type", "observed_at", "record_id", "session_id",
                           "diff_version", "diff", "summary"}
    detail = data_of(await api.client.get(f"/api/v1/account-changes/{change['id']}", headers=headers))
    assert detail == change

    timeline = data_of(await api.client.get(f"{account}/timeline", headers=headers))
    assert len(timeline["items"]) == 2

    holders = data_of(await api.client.get("/api/v1/accounts/holders", params={
        "privilege": "select", "scope": "table", "object_path": "app.public.orders", "effective": "true"},
        headers=headers))
    assert "alice" in {h["account"]["key"] for h in holders["items"]}


async def test_fleet_change_log_window(accounts_api: Api) -> None:
    api = accounts_api
    await seeded(accounts_api)
    headers = await api.headers(Role.AUDITOR)
    window = {"from": T0.isoformat(), "to": T2.isoformat()}
    page = data_of(await api.client.get("/api/v1/account-changes", params={**window, "type": "added"},
                                        headers=headers))
    assert page["total"] >= 3 and {c["type"] for c in page["items"]} == {"added"}
    too_wide = {"from": (T0 - timedelta(days=400)).isoformat(), "to": T2.isoformat()}
    body = error_of(await api.client.get("/api/v1/account-changes", params=too_wide, headers=headers), 400,
                    "VALIDATION_ERROR")
    assert body["details"][0]["code"] == "window_too_large"
    inverted = {"from": T2.isoformat(), "to": T1.isoformat()}
    body = error_of(await api.client.get("/api/v1/account-changes", params=inverted, headers=headers), 400,
                    "VALIDATION_ERROR")
    assert body["details"][0]["code"] == "invalid_range"
    error_of(await api.client.get("/api/v1/account-changes/999999", headers=headers), 404, "RESOURCE_NOT_FOUND")
    error_of(await api.client.get("/api/v1/accounts/999999", headers=headers), 404, "RESOURCE_NOT_FOUND")


async def test_state_requires_at_and_rejects_unknown_filters(accounts_api: Api) -> None:
    api = accounts_api
    _, _ = await seeded(accounts_api)
    headers = await api.headers(Role.AUDITOR)
    body = error_of(await api.client.get("/api/v1/accounts/1/state", headers=headers), 400, "VALIDATION_ERROR")
    assert body["details"][0]["code"] == "required"
    error_of(await api.client.get("/api/v1/accounts", params={"colour": "red"}, headers=headers), 400,
             "VALIDATION_ERROR")
    error_of(await api.client.get("/api/v1/accounts", params={"kind": "server_role"}, headers=headers), 400,
             "VALIDATION_ERROR")


async def test_sync_actions(accounts_api: Api, queue: RecordingTaskQueue) -> None:
    api = accounts_api
    ledger, instance = await seeded(accounts_api)
    inactive = await ledger.add_instance("sleepy", is_active=False)
    headers = await api.headers(Role.OPERATOR)
    viewer = await api.headers(Role.VIEWER)
    error_of(await api.client.post(f"/api/v1/instances/{instance}/actions/sync-accounts", headers=viewer), 403,
             "PERMISSION_DENIED")
    response = await api.client.post(f"/api/v1/instances/{instance}/actions/sync-accounts", headers=headers)
    receipt = data_of(response)
    assert response.status_code == 202
    assert receipt["kind"] == "accounts_sync" and receipt["scope"] == "targeted" and receipt["record_count"] == 1
    assert response.headers["Location"] == receipt["status_url"] == f"/api/v1/sync-sessions/{receipt['session_id']}"
    error_of(await api.client.post(f"/api/v1/instances/{inactive}/actions/sync-accounts", headers=headers), 409,
             "INSTANCE_INACTIVE")
    error_of(await api.client.post("/api/v1/instances/987654/actions/sync-accounts", headers=headers), 404,
             "RESOURCE_NOT_FOUND")
    body = error_of(await api.client.post("/api/v1/instances/actions/sync-accounts",
                                          json={"instance_ids": [instance, inactive, 987654]}, headers=headers),
                    422, "INVALID_REFERENCE")
    assert [(d["field"], d["code"]) for d in body["details"]] == [
        ("body.instance_ids[1]", "inactive"), ("body.instance_ids[2]", "not_found")]
    targeted = data_of(await api.client.post("/api/v1/instances/actions/sync-accounts",
                                             json={"instance_ids": [instance]}, headers=headers))
    assert targeted["scope"] == "targeted"
    assert len(queue.enqueued) == 2
    records = await api.rows("SELECT kind, scope FROM sync_sessions ORDER BY created_at")
    assert [(r["kind"], r["scope"]) for r in records] == [("accounts_sync", "targeted")] * 2
