"""Discovery, health probes and the OpenAPI document (api.md §1.1, §3.1; defects 18, 19)."""

from __future__ import annotations

from pathlib import Path

from tests.support.http_client import Api, data_of, error_of, make_settings, running_api

UNREACHABLE_PG = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"


async def test_ready_is_200_on_a_migrated_store(api: Api) -> None:
    response = await api.client.get("/api/v1/health/ready")
    data = data_of(response)
    # No scheduler process has beaten here: an optional component, so `degraded` but still 200 (api.md §3.1).
    assert data["status"] == "degraded"
    assert {c["name"]: c["status"] for c in data["components"]} == {
        "metadata_store": "ok", "migrations": "ok", "credential_keys": "ok", "signing_keys": "ok", "process": "ok",
        "cache": "ok", "broker": "ok", "scheduler": "degraded", "workers": "ok"}
    # Public probes carry names and statuses only.
    assert all(set(c) == {"name", "status"} for c in data["components"])


async def test_ready_is_503_when_the_store_is_unreachable_while_live_stays_200(tmp_path: Path) -> None:
    async with running_api(make_settings(tmp_path, UNREACHABLE_PG)) as api:
        ready = await api.client.get("/api/v1/health/ready")
        body = error_of(ready, 503, "NOT_READY")
        fields = [d["field"] for d in body["details"]]
        assert "components.metadata_store" in fields
        assert ready.headers["Retry-After"]
        assert "127.0.0.1" not in ready.text and "psycopg" not in ready.text.lower()
        live = await api.client.get("/api/v1/health/live")
        assert data_of(live) == {"status": "live"}


async def test_ready_is_503_on_an_empty_unmigrated_store(tmp_path: Path) -> None:
    async with running_api(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")) as api:
        body = error_of(await api.client.get("/api/v1/health/ready"), 503, "NOT_READY")
        assert [d["field"] for d in body["details"]] == ["components.migrations"]


async def test_a_store_outage_on_a_protected_route_is_503_not_500(tmp_path: Path) -> None:
    async with running_api(make_settings(tmp_path, UNREACHABLE_PG)) as api:
        response = await api.client.post("/api/v1/auth/login", json={"username": "x", "password": "y"})
        error_of(response, 503, "SERVICE_UNAVAILABLE")
        assert "127.0.0.1" not in response.text


async def test_discovery(api: Api) -> None:
    data = data_of(await api.client.get("/api/v1/"))
    assert data == {"api_version": "v1", "docs_url": "/api/v1/schema", "openapi_url": "/api/v1/schema/openapi.json",
                    "live_url": "/api/v1/health/live", "ready_url": "/api/v1/health/ready"}


async def test_openapi_lists_instances_credentials_tags_and_auth_routes(api: Api) -> None:
    response = await api.client.get("/api/v1/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path, method in [("/api/v1/instances", "get"), ("/api/v1/instances", "post"),
                         ("/api/v1/instances/{instance_id}", "patch"),
                         ("/api/v1/instances/{instance_id}/actions/restore", "post"),
                         ("/api/v1/credentials", "post"), ("/api/v1/credentials/{credential_id}/secret", "put"),
                         ("/api/v1/tags", "get"), ("/api/v1/tags/actions/bulk-assign", "post"),
                         ("/api/v1/auth/login", "post"), ("/api/v1/auth/refresh", "post"),
                         ("/api/v1/auth/me", "get"), ("/api/v1/users", "post")]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from the OpenAPI document"


async def test_schema_needs_authentication_when_docs_are_authenticated(tmp_path: Path, api: Api) -> None:
    settings = make_settings(tmp_path / "auth-docs", api.settings.database_url or "",
                             WHALEFALL_API_DOCS="authenticated")
    async with running_api(settings) as protected:
        error_of(await protected.client.get("/api/v1/schema/openapi.json"), 401, "AUTHENTICATION_REQUIRED")
        headers = await protected.headers("viewer")
        assert (await protected.client.get("/api/v1/schema/openapi.json", headers=headers)).status_code == 200


async def test_schema_is_absent_when_docs_are_off(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", WHALEFALL_API_DOCS="off")
    async with running_api(settings) as api:
        error_of(await api.client.get("/api/v1/schema/openapi.json"), 404, "ROUTE_NOT_FOUND")


async def test_cors_preflight_for_patch_from_an_allowed_origin(tmp_path: Path) -> None:
    """Defect 35."""
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
                             WHALEFALL_CORS_ORIGINS="https://ui.example.com")
    async with running_api(settings) as api:
        response = await api.client.options("/api/v1/instances/1", headers={
            "Origin": "https://ui.example.com", "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "Authorization, Content-Type"})
        assert response.status_code in (200, 204)
        assert response.headers["Access-Control-Allow-Origin"] == "https://ui.example.com"
        assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
        other = await api.client.options("/api/v1/instances/1", headers={
            "Origin": "https://evil.example.com", "Access-Control-Request-Method": "PATCH"})
        assert other.headers.get("Access-Control-Allow-Origin") != "https://evil.example.com"
