"""POST /instances/actions/test-connections end to end (api.md §3.5, §4.11; capacity.md §2.4; operations §1.1):
a `connection_test` session run by the embedded worker, one record per instance, inactive instances tested, a
target outside WHALEFALL_OUTBOUND_ALLOW failed with CONFIG_ERROR and never contacted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dishka.integrations.litestar import LitestarProvider
from dishka.integrations.taskiq import TaskiqProvider
from litestar.testing import AsyncTestClient

from tests.integration.connectors.conftest import pg_server
from tests.support.http_client import Api, data_of, error_of, make_settings
from tests.support.listeners import Listener, counting_listener
from tests.support.stores import Store
from whalefall.application.ports.clock import Clock
from whalefall.domain.identity.roles import Role
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.http.app import create_app
from whalefall.entrypoints.http.auth import HttpAuthProvider
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker

PATH = "/api/v1/instances/actions/test-connections"


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    """A loopback listener on 127.0.0.2 (outside the allow-list below) that counts what it accepts."""
    async with counting_listener("127.0.0.2") as state:
        yield state


@pytest.fixture
async def served(store: Store, tmp_path: Path) -> AsyncIterator[Api]:
    """The app and the embedded worker in one container, as `whalefall serve` runs them, on each store kind."""
    settings = make_settings(tmp_path / "data", store.url, WHALEFALL_CONNECTOR_CONNECT_TIMEOUT_S="5",
                             WHALEFALL_OUTBOUND_ALLOW=f"127.0.0.1/32, {pg_server().host}")
    container = make_container(settings, HttpAuthProvider(), LitestarProvider(), WorkerProvider(),
                               TaskiqProvider())
    try:
        app = create_app(container, settings, await container.get(Clock))
        async with embedded_worker(container), AsyncTestClient(app, raise_server_exceptions=False) as client:
            yield Api(app=app, container=container, client=client, settings=settings)
    finally:
        await container.close()


async def register(api: Api, name: str, host: str, port: int, *, credential_id: int | None) -> int:
    body: dict[str, Any] = {"name": name, "db_type": "postgresql", "host": host, "port": port,
                            "database_name": "postgres", "is_active": False}
    if credential_id is not None:
        body["credential_id"] = credential_id
    return int(data_of(await api.client.post("/api/v1/instances", headers=await api.headers(Role.ADMIN),
                                             json=body))["id"])


async def finished(api: Api, session_id: str) -> dict[str, Any]:
    headers = await api.headers(Role.OPERATOR)
    async with asyncio.timeout(30):
        while True:
            session: dict[str, Any] = data_of(await api.client.get(f"/api/v1/sync-sessions/{session_id}",
                                                                   headers=headers))
            if session["status"] != "running":
                return session
            await asyncio.sleep(0.1)


@pytest.mark.postgres
async def test_a_batch_runs_one_record_per_instance_and_refuses_denied_targets(served: Api,
                                                                               listener: Listener) -> None:
    server = pg_server()
    credential = data_of(await served.client.post("/api/v1/credentials", headers=await served.headers(Role.ADMIN),
                                                  json={"name": "pg-cred", "username": server.user,
                                                        "secret": server.password or "unused-secret-1",
                                                        "db_type": "postgresql"}))["id"]
    reachable = await register(served, "pg-inactive", server.host, server.port, credential_id=credential)
    denied = await register(served, "outside", "127.0.0.2", listener.port, credential_id=credential)
    bare = await register(served, "no-credential", "127.0.0.1", 1, credential_id=None)

    response = await served.client.post(PATH, headers=await served.headers(Role.OPERATOR),
                                        json={"instance_ids": [reachable, denied, bare, reachable]})
    assert response.status_code == 202, response.text
    receipt = data_of(response)
    assert (receipt["kind"], receipt["scope"], receipt["record_count"]) == ("connection_test", "targeted", 3)
    assert response.headers["location"] == receipt["status_url"] == f"/api/v1/sync-sessions/{receipt['session_id']}"

    session = await finished(served, receipt["session_id"])
    counters = session["counters"]
    assert (session["status"], counters["succeeded"], counters["failed"]) == ("partial", 1, 2)
    records = data_of(await served.client.get(f"/api/v1/sync-sessions/{receipt['session_id']}/records",
                                              headers=await served.headers(Role.OPERATOR)))["items"]
    by_instance = {r["instance"]["id"]: r for r in records}
    ok = by_instance[reachable]
    assert (ok["status"], ok["details"]["ok"], ok["details"]["server"]["flavor"]) == ("completed", True,
                                                                                        "postgresql")
    outside = by_instance[denied]
    assert (outside["status"], outside["error_class"], outside["error_code"]) == ("failed", "CONFIG_ERROR",
                                                                                  "OUTBOUND_NOT_ALLOWED")
    assert listener.accepted == [], "a denied target must never be contacted"
    missing = by_instance[bare]
    assert (missing["status"], missing["error_class"], missing["error_code"]) == ("failed", "CONFIG_ERROR",
                                                                                  "CREDENTIAL_MISSING")

    stored = {row["id"]: row for row in await served.rows(
        "SELECT id, is_active, version, last_contact_ok, last_contact_error_code FROM instances")}
    assert stored[reachable]["is_active"] in (False, 0) and stored[reachable]["version"]
    assert stored[denied]["last_contact_error_code"] == "OUTBOUND_NOT_ALLOWED"
    assert stored[denied]["last_contact_ok"] in (False, 0) and stored[denied]["version"] is None
    [event] = await served.rows("SELECT target_id, outcome FROM audit_events WHERE action = 'session.start'")
    assert (event["target_id"], event["outcome"]) == (receipt["session_id"], "success")


async def test_the_request_is_validated_before_anything_is_queued(served: Api) -> None:
    operator = await served.headers(Role.OPERATOR)
    one = await register(served, "one", "127.0.0.1", 1, credential_id=None)
    await served.client.delete(f"/api/v1/instances/{one}", headers=await served.headers(Role.ADMIN))
    unknown = error_of(await served.client.post(PATH, headers=operator, json={"instance_ids": [one, 999_999]}),
                       422, "INVALID_REFERENCE")
    assert [(d["field"], d["code"]) for d in unknown["details"]] == [("body.instance_ids[0]", "not_found"),
                                                                     ("body.instance_ids[1]", "not_found")]
    too_many = error_of(await served.client.post(PATH, headers=operator, json={"instance_ids": list(range(1, 102))}),
                        400, "VALIDATION_ERROR")
    assert too_many["details"][0]["field"] == "body.instance_ids"
    error_of(await served.client.post(PATH, headers=operator, json={"instance_ids": []}), 400, "VALIDATION_ERROR")
    smuggled = error_of(await served.client.post(PATH, headers=operator,
                                                 json={"instance_ids": [one], "host": "evil.example"}),
                        400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in smuggled["details"]] == [("body.host", "unknown_field")]
    error_of(await served.client.post(PATH, headers=await served.headers(Role.VIEWER), json={"instance_ids": [one]}),
             403, "PERMISSION_DENIED")
    assert await served.rows("SELECT id FROM sync_sessions") == []


async def test_the_synchronous_route_answers_config_error_for_a_denied_target(served: Api, listener: Listener) -> None:
    credential = data_of(await served.client.post("/api/v1/credentials", headers=await served.headers(Role.ADMIN),
                                                  json={"name": "c", "username": "u", "secret": "Never-Sent-9",
                                                        "db_type": "postgresql"}))["id"]
    denied = await register(served, "outside", "127.0.0.2", listener.port, credential_id=credential)
    response = await served.client.post(f"/api/v1/instances/{denied}/actions/test-connection",
                                        headers=await served.headers(Role.OPERATOR))
    result = data_of(response)
    assert response.status_code == 200 and result["ok"] is False and result["server"] is None
    assert (result["error"]["class"], result["error"]["code"], result["error"]["retryable"]) == (
        "CONFIG_ERROR", "OUTBOUND_NOT_ALLOWED", False)
    assert listener.accepted == [] and "Never-Sent-9" not in response.text



async def test_refused_test_requests_never_reach_the_endpoint(served: Api) -> None:
    """api.md §6 defect 3: viewers and auditors are refused on both routes and a body naming another endpoint is
    400 — the listener (an allowed address) sees no connection until an operator runs a valid test."""
    async with counting_listener("127.0.0.1") as endpoint:
        credential = data_of(await served.client.post(
            "/api/v1/credentials", headers=await served.headers(Role.ADMIN),
            json={"name": "c", "username": "u", "secret": "Never-Sent-9", "db_type": "postgresql"}))["id"]
        instance = await register(served, "listener", "127.0.0.1", endpoint.port, credential_id=credential)
        single = f"/api/v1/instances/{instance}/actions/test-connection"
        for role in (Role.VIEWER, Role.AUDITOR):
            headers = await served.headers(role)
            error_of(await served.client.post(single, headers=headers), 403, "PERMISSION_DENIED")
            error_of(await served.client.post(PATH, headers=headers, json={"instance_ids": [instance]}), 403,
                     "PERMISSION_DENIED")
        operator = await served.headers(Role.OPERATOR)
        for field in ({"host": "127.0.0.1"}, {"port": endpoint.port}, {"credential_id": credential}):
            error_of(await served.client.post(single, headers=operator, json=field), 400, "VALIDATION_ERROR")
        await asyncio.sleep(0.05)
        assert endpoint.accepted == []
        result = data_of(await served.client.post(single, headers=operator))
        assert result["ok"] is False and result["error"]["code"] != "OUTBOUND_NOT_ALLOWED", result
        assert endpoint.accepted, ("the control: a valid test does reach the listener", result["error"])
