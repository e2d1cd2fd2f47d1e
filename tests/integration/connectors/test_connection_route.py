"""POST /instances/{id}/actions/test-connection against the real monitored servers (api.md §3.5, capacity.md §2.4):
success persists version fields, failures persist contact fields only, a viewer gets 403, any body is 400."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.integration.connectors.conftest import mariadb_server, pg_server
from tests.support.http_client import Api, data_of, error_of, make_settings, running_api
from tests.support.stores import copy_sqlite, sqlite_url
from whalefall.domain.identity.roles import Role


@pytest.fixture
async def api(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Api]:
    """The app on a migrated SQLite store (the monitored servers are the real ones)."""
    store = tmp_path / "whalefall.db"
    copy_sqlite(sqlite_template, store)
    async with running_api(make_settings(tmp_path / "data", sqlite_url(store),
                                         WHALEFALL_CONNECTOR_CONNECT_TIMEOUT_S="5")) as running:
        yield running


@pytest.fixture
def pg_login(pg_admin: psycopg.Connection[tuple[Any, ...]], prefix: str) -> Iterator[str]:
    role = f"{prefix}_tester"
    pg_admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        yield role
    finally:
        pg_admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


async def register(api: Api, name: str, *, db_type: str, host: str, port: int, database: str | None,
                   username: str | None, secret: str = "any-secret-1") -> int:
    admin = await api.headers(Role.ADMIN)
    body: dict[str, Any] = {"name": name, "db_type": db_type, "host": host, "port": port, "is_active": False}
    if database is not None:
        body["database_name"] = database
    if username is not None:
        credential = data_of(await api.client.post("/api/v1/credentials", headers=admin, json={
            "name": f"{name}-cred", "username": username, "secret": secret, "db_type": db_type}))
        body["credential_id"] = credential["id"]
    return int(data_of(await api.client.post("/api/v1/instances", headers=admin, json=body))["id"])


async def request_test(api: Api, instance_id: int) -> dict[str, Any]:
    response = await api.client.post(f"/api/v1/instances/{instance_id}/actions/test-connection",
                                     headers=await api.headers(Role.OPERATOR))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = data_of(response)
    return result


async def instance(api: Api, instance_id: int) -> dict[str, Any]:
    result: dict[str, Any] = data_of(await api.client.get(f"/api/v1/instances/{instance_id}",
                                                          headers=await api.headers(Role.ADMIN)))
    return result



@pytest.mark.postgres
async def test_a_successful_test_persists_the_version(api: Api, pg_login: str) -> None:
    server = pg_server()
    instance_id = await register(api, "pg-ok", db_type="postgresql", host=server.host, port=server.port,
                                 database=server.database or "postgres", username=pg_login)
    result = await request_test(api, instance_id)
    assert result["ok"] is True and result["error"] is None
    assert result["server"]["flavor"] == "postgresql" and result["latency_ms"] >= 0
    assert result["missing_privileges"] == [] or all(p.startswith("CONNECT ON DATABASE")
                                                     for p in result["missing_privileges"])
    stored = await instance(api, instance_id)
    assert stored["is_active"] is False                     # inactive instances are testable
    assert (stored["version"], stored["version_major"]) == (result["server"]["version"],
                                                            result["server"]["version_major"])
    assert stored["flavor"] == "postgresql" and stored["version_raw"].startswith("PostgreSQL")
    assert stored["connection_status"] == "ok" and stored["last_success_at"] == stored["last_contact_at"]
    [event] = await api.rows("SELECT outcome, target_id, details FROM audit_events "
                             "WHERE action = 'instance.test_connection'")
    details = event["details"] if isinstance(event["details"], dict) else json.loads(event["details"])
    assert (event["outcome"], event["target_id"]) == ("success", str(instance_id))
    assert (details["host"], details["port"]) == (server.host, server.port)


@pytest.mark.postgres
async def test_a_refused_login_keeps_last_success(api: Api, prefix: str, pg_admin: Any) -> None:
    """The test server trusts local connections, so the refused credential is an unknown role (28000)."""
    server = pg_server()
    instance_id = await register(api, "pg-refused", db_type="postgresql", host=server.host, port=server.port,
                                 database="postgres", username=f"{prefix}_nobody")
    result = await request_test(api, instance_id)
    assert result["ok"] is False and result["server"] is None
    assert result["error"] == {"code": "AUTH_FAILED", "class": "AUTH_FAILED", "retryable": False,
                               "message": result["error"]["message"]}
    stored = await instance(api, instance_id)
    assert stored["last_success_at"] is None and stored["version"] is None
    assert stored["last_contact_ok"] is False and stored["last_contact_error_code"] == "AUTH_FAILED"
    assert stored["connection_status"] == "failed"


@pytest.mark.mariadb
async def test_a_wrong_password_is_auth_failed(api: Api, mariadb_admin: Any) -> None:
    server = mariadb_server()
    instance_id = await register(api, "maria-wrong", db_type="mysql", host=server.host, port=server.port,
                                 database=None, username=server.user, secret="definitely-wrong-pw")
    result = await request_test(api, instance_id)
    assert (result["ok"], result["error"]["code"], result["error"]["class"]) == (False, "AUTH_FAILED", "AUTH_FAILED")
    assert "definitely-wrong-pw" not in json.dumps(result)
    assert (await instance(api, instance_id))["last_success_at"] is None


async def test_rules_of_the_route(api: Api) -> None:
    instance_id = await register(api, "no-credential", db_type="postgresql", host="192.0.2.10", port=5432,
                                 database="postgres", username=None)
    result = await request_test(api, instance_id)
    assert result["ok"] is False and result["error"]["code"] == "CREDENTIAL_MISSING"
    assert result["error"]["class"] == "CONFIG_ERROR"
    path = f"/api/v1/instances/{instance_id}/actions/test-connection"
    error_of(await api.client.post(path, headers=await api.headers(Role.VIEWER)), 403, "PERMISSION_DENIED")
    refused = await api.client.post(path, headers=await api.headers(Role.OPERATOR), json={"host": "evil.example"})
    assert [(d["field"], d["code"]) for d in error_of(refused, 400, "VALIDATION_ERROR")["details"]] == [
        ("body", "unknown_field")]
    await api.client.delete(f"/api/v1/instances/{instance_id}", headers=await api.headers(Role.ADMIN))
    error_of(await api.client.post(path, headers=await api.headers(Role.OPERATOR)), 404, "RESOURCE_NOT_FOUND")
