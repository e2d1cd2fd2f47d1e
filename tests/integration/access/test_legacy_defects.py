"""API legacy defects of api.md §6 that had no test of their own: 3 (credential capture through connection tests by
a read-only user), 31 (scheduler routes worked only on the scheduler process) and 43 (writes without a
tamper-resistant trail)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.integration.access.conftest import AccessApi, AccessFactory
from tests.support.http_client import data_of, error_of
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.domain.identity.roles import Role


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP listener standing in for a database server, in its own thread (independent of the test's event loop);
    records every connection it receives."""
    connections: list[str] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                client, peer = server.accept()
            except TimeoutError:
                continue
            connections.append(str(peer))
            client.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1]), connections
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()


async def test_read_only_users_cannot_aim_a_stored_credential_at_a_host(
        access_api: AccessApi, listener: tuple[int, list[str]]) -> None:
    """Defect 3: a viewer and an auditor get 403 on the test route; any body (host, port, credential_id) is 400
    unknown_field; no route takes an endpoint to test; the listener receives no connection in any of these cases."""
    api = access_api
    port, connections = listener
    admin = await api.headers(Role.ADMIN)
    credential = data_of(await api.client.post("/api/v1/credentials", headers=admin, json={
        "name": "wf_h8_cred", "username": "dba", "secret": "Very-Secret-Value-1", "db_type": "postgresql"}))
    instance = data_of(await api.client.post("/api/v1/instances", headers=admin, json={
        "name": "wf_h8_target", "db_type": "postgresql", "host": "127.0.0.1", "port": port,
        "credential_id": credential["id"]}))
    single = f"/api/v1/instances/{instance['id']}/actions/test-connection"
    batch = "/api/v1/instances/actions/test-connections"
    for role in (Role.VIEWER, Role.AUDITOR):
        headers = await api.headers(role)
        error_of(await api.client.post(single, headers=headers), 403, "PERMISSION_DENIED")
        error_of(await api.client.post(batch, headers=headers, json={"instance_ids": [instance["id"]]}), 403,
                 "PERMISSION_DENIED")
    operator = await api.headers(Role.OPERATOR)
    for body in ({"host": "10.9.8.7"}, {"port": 1}, {"credential_id": credential["id"]}):
        refused = error_of(await api.client.post(single, headers=operator, json=body), 400, "VALIDATION_ERROR")
        assert {d["code"] for d in refused["details"]} == {"unknown_field"}
    schema = (await api.client.get("/api/v1/schema/openapi.json")).json()
    for path, item in schema["paths"].items():
        if "test" in path and "post" in item:
            content = (item["post"].get("requestBody") or {}).get("content", {})
            refs = str(content)
            assert "host" not in refs and "port" not in refs, path
    await asyncio.sleep(0.05)
    assert connections == []
    # Control: the operator's own test of the registered endpoint does reach the listener.
    result = data_of(await api.client.post(single, headers=operator))
    assert result["ok"] is False and len(connections) >= 1, result["error"]


async def test_a_job_paused_through_one_api_process_is_paused_in_another(access_factory: AccessFactory) -> None:
    """Defect 31: scheduler state lives in the metadata store, not in a process."""
    async with access_factory(fresh_app=True) as first, access_factory(fresh_app=True) as second:
        operator = await first.headers(Role.OPERATOR)
        paused = data_of(await first.client.post("/api/v1/scheduler/jobs/accounts_sync/actions/pause",
                                                 headers=operator))
        assert paused["enabled"] is False
        seen = data_of(await second.client.get("/api/v1/scheduler/jobs/accounts_sync", headers=operator))
        assert (seen["enabled"], seen["revision"]) == (False, paused["revision"])
        resumed = data_of(await second.client.post("/api/v1/scheduler/jobs/accounts_sync/actions/resume",
                                                   headers=operator))
        again = data_of(await first.client.get("/api/v1/scheduler/jobs/accounts_sync", headers=operator))
        assert again["enabled"] is True and again["revision"] == resumed["revision"]


async def _events(api: AccessApi) -> list[tuple[str, str]]:
    rows = await api.rows("SELECT action, outcome FROM audit_events "
                          "WHERE action NOT LIKE 'auth.%' AND action NOT LIKE 'user.%' ORDER BY id")
    return [(row["action"], row["outcome"]) for row in rows]


async def test_writes_are_audited_once_and_failed_writes_only_as_failures(
        access_api: AccessApi, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 43: a write produces exactly one audit event in its own transaction; a write that fails after its
    event was built (here: the commit fails) leaves no `success` event and no change, only the separate `failure`
    event; a 409 is a `failure` too; a 400 is not audited."""
    api = access_api
    operator = await api.headers(Role.OPERATOR)
    tag = {"name": "wf-h8-audited", "display_name": "audited", "category": "env"}
    data_of(await api.client.post("/api/v1/tags", headers=operator, json=tag))
    assert await _events(api) == [("tag.create", "success")]
    error_of(await api.client.post("/api/v1/tags", headers=operator, json=tag), 409, "ALREADY_EXISTS")
    error_of(await api.client.post("/api/v1/tags", headers=operator, json={"name": 5}), 400, "VALIDATION_ERROR")
    assert await _events(api) == [("tag.create", "success"), ("http.create_tag", "failure")]

    original = SqlAlchemyUnitOfWork.commit
    armed = [True]

    async def failing_commit(self: SqlAlchemyUnitOfWork) -> None:
        if armed[0]:
            armed[0] = False
            raise RuntimeError("disk full")
        await original(self)

    monkeypatch.setattr(SqlAlchemyUnitOfWork, "commit", failing_commit)
    other = {**tag, "name": "wf-h8-lost"}
    error_of(await api.client.post("/api/v1/tags", headers=operator, json=other), 500, "INTERNAL_ERROR")
    monkeypatch.undo()
    assert await api.rows("SELECT id FROM tags WHERE name = 'wf-h8-lost'") == []
    assert await _events(api) == [("tag.create", "success"), ("http.create_tag", "failure"),
                                  ("http.create_tag", "failure")]
