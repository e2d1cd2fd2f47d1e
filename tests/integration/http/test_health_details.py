"""`GET /health/details` (operations.md §8, api.md §3.1): `system:read` only; every component with status, latency
and detail; scheduler and worker heartbeats, the oldest running session and the migration revisions."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from tests.support.http_client import Api, data_of, error_of, make_settings, running_api
from tests.support.stores import Store
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.migrations.runner import head_revision
from whalefall.adapters.persistence.tables.operations import process_heartbeats
from whalefall.adapters.persistence.tables.sessions import sync_sessions
from whalefall.application.ports.clock import Clock
from whalefall.domain.identity.roles import Role

DETAILS = "/api/v1/health/details"
COMPONENTS = ["metadata_store", "migrations", "credential_keys", "signing_keys", "process", "cache", "broker",
              "scheduler", "workers", "partitions", "sessions", "logs"]


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in data["components"]}


async def beat(api: Api, process_id: str, kind: str, *, age_s: float, leader: bool = False, tasks: int = 0) -> None:
    now = (await api.container.get(Clock)).now()
    seen = now - timedelta(seconds=age_s)
    database = await api.container.get(Database)
    async with database.engine.begin() as connection:
        await connection.execute(insert(process_heartbeats).values(
            process_id=process_id, kind=kind, host="wf-h7-host", pid=7, version="test", started_at=seen,
            last_seen_at=seen, running_tasks=tasks, is_leader=leader, leader_since=seen if leader else None))


async def test_only_system_read_may_see_the_details(api: Api) -> None:
    error_of(await api.client.get(DETAILS), 401, "AUTHENTICATION_REQUIRED")
    for role in (Role.VIEWER, Role.OPERATOR):
        response = await api.client.get(DETAILS, headers=await api.headers(role))
        assert response.status_code == 403, (role, response.text)
    for role in (Role.ADMIN, Role.AUDITOR):
        data = data_of(await api.client.get(DETAILS, headers=await api.headers(role)))
        assert [c["name"] for c in data["components"]] == COMPONENTS


async def test_every_component_reports_status_latency_and_detail(api: Api) -> None:
    data = data_of(await api.client.get(DETAILS, headers=await api.headers(Role.ADMIN)))
    components = by_name(data)
    for name in ("metadata_store", "migrations", "credential_keys", "signing_keys", "process"):
        assert (components[name]["status"], components[name]["required"]) == ("ok", True), components[name]
    assert all(c["latency_ms"] >= 0 for c in data["components"])
    migrations = components["migrations"]["detail"]
    assert migrations["current_revision"] == migrations["head_revision"] == head_revision()
    assert components["credential_keys"]["detail"]["unknown_key_ids"] == []
    # Embedded (no Redis): the in-process broker, cache and worker are always ok.
    assert (components["broker"]["status"], components["cache"]["status"]) == ("ok", "ok")
    assert components["workers"]["status"] == "ok"
    # No scheduler heartbeat at all → degraded, which makes the whole report degraded (still 200).
    assert components["scheduler"]["status"] == "degraded"
    assert components["scheduler"]["detail"]["leader"] is None
    assert data["status"] == "degraded"
    assert components["logs"]["detail"]["dropped"].keys() >= {"queue_full", "db_error", "shutdown"}


async def test_heartbeats_and_the_oldest_running_session(api: Api) -> None:
    headers = await api.headers(Role.AUDITOR)
    await beat(api, "wf-h7-leader", "scheduler", age_s=5, leader=True)
    await beat(api, "wf-h7-stale-leader", "scheduler", age_s=31, leader=True)
    await beat(api, "wf-h7-worker", "worker", age_s=10, tasks=3)
    await beat(api, "wf-h7-dead-worker", "worker", age_s=46)
    session_id = str(uuid.uuid4())
    now = (await api.container.get(Clock)).now()
    database = await api.container.get(Database)
    async with database.engine.begin() as connection:
        await connection.execute(insert(sync_sessions).values(
            id=session_id, kind="connection_test", scope="targeted", trigger="manual", status="running",
            created_at=now - timedelta(minutes=7), params={}, summary={}))
    components = by_name(data_of(await api.client.get(DETAILS, headers=headers)))
    scheduler = components["scheduler"]
    assert scheduler["status"] == "ok"
    assert scheduler["detail"]["leader"]["process_id"] == "wf-h7-leader"
    workers = components["workers"]["detail"]
    assert (workers["live"], workers["running_tasks"]) == (1, 3), "a beat older than 45 s is not live"
    assert [w["process_id"] for w in workers["workers"]] == ["wf-h7-worker"]
    sessions = components["sessions"]["detail"]
    assert sessions["oldest_running_session_id"] == session_id and sessions["running"] == 1
    assert sessions["oldest_running_age_s"] >= 7 * 60


async def test_ready_is_ok_with_a_live_leader_and_names_only(api: Api) -> None:
    await beat(api, "wf-h7-leader", "scheduler", age_s=5, leader=True)
    data = data_of(await api.client.get("/api/v1/health/ready"))
    assert data["status"] == "ok"
    assert {c["name"] for c in data["components"]} == {
        "metadata_store", "migrations", "credential_keys", "signing_keys", "process", "cache", "broker",
        "scheduler", "workers"}
    assert all(set(c) == {"name", "status"} and c["status"] == "ok" for c in data["components"])
    head = await api.client.head("/api/v1/health/ready")
    assert head.status_code == 200


async def test_ready_stays_200_but_degraded_when_redis_is_down(store: Store, tmp_path: Path) -> None:
    """Production wiring with an unreachable Redis: cache and broker degrade, and no worker heartbeat → workers
    degrade; none of them is required (api.md §3.1)."""
    settings = make_settings(tmp_path / "data", store.url, WHALEFALL_REDIS_URL="redis://127.0.0.1:1/0")
    async with running_api(settings, reuse_app=False) as api:
        data = data_of(await api.client.get("/api/v1/health/ready"))
    statuses = {c["name"]: c["status"] for c in data["components"]}
    assert data["status"] == "degraded"
    assert (statuses["cache"], statuses["broker"], statuses["workers"]) == ("degraded", "degraded", "degraded")
    assert statuses["metadata_store"] == statuses["migrations"] == "ok"
