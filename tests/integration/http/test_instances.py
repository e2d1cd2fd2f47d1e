"""Instance routes: CRUD, soft delete, restore, purge, uniqueness, tags, revisions, list filters and paging
(api.md §3.5, §1.8–1.10; capacity.md §1.1, defects 12, 15, 32)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.http_client import Api, data_of, error_of
from whalefall.domain.identity.roles import Role

PAGE_KEYS = {"items", "total", "page", "limit", "pages"}


async def _create(api: Api, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {"name": "pg-main", "db_type": "postgresql", "host": "db1.example.com", **body}
    response = await api.client.post("/api/v1/instances", headers=headers, json=payload)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = data_of(response)
    assert response.headers["Location"] == f"/api/v1/instances/{data['id']}"
    return data


async def _tag(api: Api, headers: dict[str, str], name: str) -> int:
    response = await api.client.post("/api/v1/tags", headers=headers,
                                     json={"name": name, "display_name": name.upper(), "category": "Env"})
    return int(data_of(response)["id"])


async def test_create_read_update_with_defaults(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    created = await _create(api, op)
    assert (created["port"], created["database_name"], created["is_active"]) == (5432, None, True)
    assert created["connection_status"] == "never" and created["revision"] == 1 and created["tags"] == []
    fetched = data_of(await api.client.get(f"/api/v1/instances/{created['id']}", headers=await api.headers("viewer")))
    assert fetched == created
    updated = data_of(await api.client.patch(f"/api/v1/instances/{created['id']}", headers=op,
                                             json={"description": "primary", "revision": 1}))
    assert updated["description"] == "primary" and updated["revision"] == 2
    events = await api.rows("SELECT action FROM audit_events WHERE target_type = 'instance' ORDER BY id")
    assert [e["action"] for e in events] == ["instance.create", "instance.update"]


async def test_stale_revision_is_a_version_conflict(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    created = await _create(api, op)
    data_of(await api.client.patch(f"/api/v1/instances/{created['id']}", headers=op, json={"description": "a"}))
    body = error_of(await api.client.patch(f"/api/v1/instances/{created['id']}", headers=op,
                                           json={"description": "b", "revision": 1}), 409, "VERSION_CONFLICT")
    assert body["details"][0]["context"] == {"current_revision": 2}


async def test_names_are_unique_case_insensitively_among_live_rows(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    first = await _create(api, op, name="Billing")
    taken = await api.client.post("/api/v1/instances", headers=op,
                                  json={"name": "billing", "db_type": "mysql", "host": "other.example.com"})
    assert error_of(taken, 409, "INSTANCE_NAME_TAKEN")["details"][0]["field"] == "body.name"
    data_of(await api.client.delete(f"/api/v1/instances/{first['id']}", headers=op))
    second = await _create(api, op, name="BILLING", db_type="mysql", host="other.example.com")
    # Restore re-checks the name: the live "BILLING" blocks it.
    error_of(await api.client.post(f"/api/v1/instances/{first['id']}/actions/restore", headers=op),
             409, "INSTANCE_NAME_TAKEN")
    data_of(await api.client.patch(f"/api/v1/instances/{second['id']}", headers=op, json={"name": "billing-2"}))
    restored = data_of(await api.client.post(f"/api/v1/instances/{first['id']}/actions/restore", headers=op))
    assert restored["deleted_at"] is None and restored["name"] == "Billing"


async def test_endpoints_are_unique(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    await _create(api, op, name="a", host="DB1.example.com", port=5432)
    duplicate = await api.client.post("/api/v1/instances", headers=op,
                                      json={"name": "b", "db_type": "postgresql", "host": "db1.EXAMPLE.com"})
    error_of(duplicate, 409, "DUPLICATE_ENDPOINT")
    # Other port or engine: a different endpoint.
    await _create(api, op, name="c", host="db1.example.com", port=5433)
    await _create(api, op, name="d", db_type="mysql", host="db1.example.com")


async def test_oracle_service_names_and_ipv6(api: Api) -> None:
    """Defect 32: `::1` and `orcl.example.com` accepted; IPv6 normalised; Oracle service case-insensitive key."""
    op = await api.headers(Role.OPERATOR)
    oracle = await _create(api, op, name="ora", db_type="oracle", host="::1", database_name="orcl.example.com")
    assert (oracle["host"], oracle["port"], oracle["database_name"]) == ("::1", 1521, "orcl.example.com")
    duplicate = await api.client.post("/api/v1/instances", headers=op, json={
        "name": "ora2", "db_type": "oracle", "host": "[0:0:0:0:0:0:0:1]", "database_name": "ORCL.EXAMPLE.COM"})
    error_of(duplicate, 409, "DUPLICATE_ENDPOINT")
    other_service = await _create(api, op, name="ora3", db_type="oracle", host="::1", database_name="hr.example.com")
    assert other_service["host"] == "::1"
    v6 = await _create(api, op, name="v6", host="[2001:DB8:0:0::1]")
    assert v6["host"] == "2001:db8::1"
    missing = await api.client.post("/api/v1/instances", headers=op,
                                    json={"name": "ora4", "db_type": "oracle", "host": "ora.example.com"})
    assert error_of(missing, 400, "VALIDATION_ERROR")["details"][0] == {
        "field": "body.database_name", "code": "required", "message": "the service name is required for Oracle"}
    bad = await api.client.post("/api/v1/instances", headers=op,
                                json={"name": "bad", "db_type": "mysql", "host": "not a host"})
    assert [d["field"] for d in error_of(bad, 400, "VALIDATION_ERROR")["details"]] == ["body.host"]


async def test_patch_without_tags_keeps_them_and_unknown_tag_names_are_422(api: Api) -> None:
    """capacity.md defect 12."""
    op = await api.headers(Role.OPERATOR)
    prod = await _tag(api, op, "prod")
    created = await _create(api, op, tags=["prod"])
    assert [t["id"] for t in created["tags"]] == [prod]
    kept = data_of(await api.client.patch(f"/api/v1/instances/{created['id']}", headers=op, json={"port": 6432}))
    assert [t["name"] for t in kept["tags"]] == ["prod"]
    unknown = await api.client.patch(f"/api/v1/instances/{created['id']}", headers=op,
                                     json={"tags": ["prod", "no-such-tag"]})
    body = error_of(unknown, 422, "INVALID_REFERENCE")
    assert [(d["field"], d["code"]) for d in body["details"]] == [("body.tags[1]", "not_found")]
    assert "no-such-tag" in body["details"][0]["message"]
    cleared = data_of(await api.client.patch(f"/api/v1/instances/{created['id']}", headers=op, json={"tags": []}))
    assert cleared["tags"] == []


async def test_soft_delete_restore_and_purge(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    admin = await api.headers(Role.ADMIN)
    created = await _create(api, op, tags=[await _tag(api, op, "t1")])
    error_of(await api.client.post(f"/api/v1/instances/{created['id']}/actions/purge", headers=admin),
             409, "INVALID_STATE")
    deleted = data_of(await api.client.delete(f"/api/v1/instances/{created['id']}", headers=op))
    again = data_of(await api.client.delete(f"/api/v1/instances/{created['id']}", headers=op))
    assert deleted == again and deleted["deleted_at"]
    shown = data_of(await api.client.get(f"/api/v1/instances/{created['id']}", headers=op))
    assert shown["deleted_at"] == deleted["deleted_at"] and shown["is_active"] is True
    assert data_of(await api.client.get("/api/v1/instances", headers=op))["total"] == 0
    assert data_of(await api.client.get("/api/v1/instances?status=deleted", headers=op))["total"] == 1
    error_of(await api.client.patch(f"/api/v1/instances/{created['id']}", headers=op, json={"port": 1}),
             404, "RESOURCE_NOT_FOUND")
    error_of(await api.client.post(f"/api/v1/instances/{created['id']}/actions/purge", headers=op),
             403, "PERMISSION_DENIED")
    assert data_of(await api.client.post(f"/api/v1/instances/{created['id']}/actions/purge",
                                         headers=admin)) == {"id": created["id"]}
    error_of(await api.client.get(f"/api/v1/instances/{created['id']}", headers=op), 404, "RESOURCE_NOT_FOUND")
    assert await api.rows("SELECT * FROM instance_tags") == []


async def test_credential_changes_need_credentials_write(api: Api) -> None:
    """Defect 4 (§4.11): moving an instance that holds a credential needs credentials:write; viewers and auditors
    cannot touch instances at all."""
    op = await api.headers(Role.OPERATOR)
    credential = data_of(await api.client.post("/api/v1/credentials", headers=op, json={
        "name": "c1", "username": "app", "secret": "s3cr3t", "db_type": "postgresql"}))
    created = await _create(api, op, credential_id=credential["id"])
    assert created["credential"] == {"id": credential["id"], "name": "c1"}
    for role in (Role.VIEWER, Role.AUDITOR):
        response = await api.client.patch(f"/api/v1/instances/{created['id']}", headers=await api.headers(role),
                                          json={"host": "evil.example.com"})
        error_of(response, 403, "PERMISSION_DENIED")
    mismatch = await api.client.post("/api/v1/instances", headers=op, json={
        "name": "my", "db_type": "mysql", "host": "m.example.com", "credential_id": credential["id"]})
    error_of(mismatch, 422, "CREDENTIAL_DB_TYPE_MISMATCH")
    missing = await api.client.post("/api/v1/instances", headers=op, json={
        "name": "my", "db_type": "postgresql", "host": "m.example.com", "credential_id": 9999})
    assert error_of(missing, 422, "INVALID_REFERENCE")["details"][0]["field"] == "body.credential_id"
    moved = data_of(await api.client.patch(f"/api/v1/instances/{created['id']}", headers=op,
                                           json={"host": "db2.example.com"}))
    assert moved["host"] == "db2.example.com"


async def test_list_filters_paging_and_tag_filters(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    for name in ("prod", "eu"):
        await _tag(api, op, name)
    await _create(api, op, name="alpha", host="a.example.com", tags=["prod", "eu"])
    await _create(api, op, name="beta", host="b.example.com", db_type="mysql", tags=["prod"])
    await _create(api, op, name="gamma_1%", host="c.example.com", is_active=False)
    listed = data_of(await api.client.get("/api/v1/instances?tags_any=prod&tags_any=eu", headers=op))
    assert set(listed) == PAGE_KEYS
    assert [i["name"] for i in listed["items"]] == ["alpha", "beta"] and listed["total"] == 2
    both = data_of(await api.client.get("/api/v1/instances?tags_all=prod&tags_all=eu", headers=op))
    assert [i["name"] for i in both["items"]] == ["alpha"] and both["total"] == 1
    assert [i["name"] for i in data_of(await api.client.get(
        "/api/v1/instances?db_type=mysql", headers=op))["items"]] == ["beta"]
    assert [i["name"] for i in data_of(await api.client.get(
        "/api/v1/instances?status=inactive", headers=op))["items"]] == ["gamma_1%"]
    # `%` and `_` are literal in q.
    assert [i["name"] for i in data_of(await api.client.get(
        "/api/v1/instances", params={"q": "A_1%"}, headers=op))["items"]] == ["gamma_1%"]
    assert data_of(await api.client.get("/api/v1/instances", params={"q": "%"}, headers=op))["total"] == 1
    page = data_of(await api.client.get("/api/v1/instances?limit=2&page=2&sort=-name", headers=op))
    assert (page["total"], page["pages"], page["page"], page["limit"]) == (3, 2, 2, 2)
    assert [i["name"] for i in page["items"]] == ["alpha"]
    past = data_of(await api.client.get("/api/v1/instances?page=9", headers=op))
    assert past["items"] == [] and past["total"] == 3


@pytest.mark.parametrize(("query", "field", "code"), [
    ("limit=201", "query.limit", "too_large"), ("limit=0", "query.limit", "too_small"),
    ("page=0", "query.page", "too_small"), ("limit=abc", "query.limit", "invalid_type"),
    ("sort=password", "query.sort", "unknown_sort_field"), ("offset=5", "query.offset", "unknown_parameter"),
    ("status=all", "query.status", "invalid_choice"), ("db_type=mariadb", "query.db_type", "invalid_choice"),
    ("limit=5&limit=6", "query.limit", "not_repeatable"),
])
async def test_list_query_validation(api: Api, query: str, field: str, code: str) -> None:
    body = error_of(await api.client.get(f"/api/v1/instances?{query}", headers=await api.headers("viewer")),
                    400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in body["details"]] == [(field, code)]
    if code == "unknown_sort_field":
        assert "name" in body["details"][0]["context"]["allowed"]


@pytest.mark.parametrize("path", ["/api/v1/instances", "/api/v1/credentials", "/api/v1/tags",
                                  "/api/v1/tags/categories", "/api/v1/users"])
async def test_every_list_route_pages_the_same_way(api: Api, path: str) -> None:
    """Defect 22."""
    admin = await api.headers(Role.ADMIN)
    assert set(data_of(await api.client.get(path, headers=admin))) == PAGE_KEYS
    for limit, code in (("201", "too_large"), ("0", "too_small")):
        body = error_of(await api.client.get(f"{path}?limit={limit}", headers=admin), 400, "VALIDATION_ERROR")
        assert [(d["field"], d["code"]) for d in body["details"]] == [("query.limit", code)]


async def test_unknown_instance_is_404(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    for method in ("GET", "PATCH", "DELETE"):
        response = await api.client.request(method, "/api/v1/instances/424242", headers=op,
                                            json={"port": 1} if method == "PATCH" else None)
        error_of(response, 404, "RESOURCE_NOT_FOUND")
    error_of(await api.client.post("/api/v1/instances/424242/actions/restore", headers=op), 404, "RESOURCE_NOT_FOUND")
