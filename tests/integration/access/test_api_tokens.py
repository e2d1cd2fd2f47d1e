"""API tokens (api.md §3.4, §4.6; defect 12): shown once, stored hashed, scoped, revocable, narrowed by the role."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.integration.access.conftest import AccessApi
from tests.support.http_client import PASSWORD, bearer, data_of, error_of
from whalefall.domain.identity.roles import Role

TOKENS = "/api/v1/api-tokens"
INSTANCE = {"name": "billing", "db_type": "postgresql", "host": "10.0.0.5"}


async def test_a_read_token_lists_instances_without_cookies_and_is_refused_writes(access_api: AccessApi) -> None:
    """Defect 12: automation works with a bearer API token alone; the scope bounds it."""
    api = access_api
    token = await api.api_token(Role.OPERATOR, ["instances:read"])
    assert (await api.client.post("/api/v1/instances", headers=await api.headers(Role.OPERATOR),
                                  json=INSTANCE)).status_code == 201
    listed = data_of(await api.client.get("/api/v1/instances", headers=bearer(token)))
    assert [item["name"] for item in listed["items"]] == ["billing"]
    refused = await api.client.post("/api/v1/instances", headers=bearer(token), json={**INSTANCE, "name": "x"})
    assert error_of(refused, 403, "PERMISSION_DENIED")["details"][0]["context"] == {"permission": "instances:write"}
    me = data_of(await api.client.get("/api/v1/auth/me", headers=bearer(token)))
    assert me["permissions"] == ["instances:read"]
    assert me["auth"]["method"] == "api_token" and me["auth"]["scopes"] == ["instances:read"]
    assert me["csrf_token"] is None


async def test_creation_shows_the_token_once_and_stores_only_a_digest(access_api: AccessApi) -> None:
    api = access_api
    headers = await api.headers(Role.VIEWER)
    response = await api.client.post(TOKENS, headers=headers, json={"name": "ci", "scopes": ["instances:read"]})
    assert response.status_code == 201
    created = data_of(response)
    token = created["token"]
    assert token.startswith(created["prefix"] + "_") and len(created["prefix"]) == 11 and len(token) == 55
    assert response.headers["location"] == f"/api/v1/api-tokens/{created['id']}"
    assert created["owner"] == {"id": api.user(Role.VIEWER).id, "username": "viewer-user"}
    detail = data_of(await api.client.get(f"{TOKENS}/{created['id']}", headers=headers))
    assert "token" not in detail and detail["prefix"] == created["prefix"]
    [row] = await api.rows("SELECT * FROM api_tokens")
    assert token not in json.dumps(row, default=str) and token.split("_")[2] not in json.dumps(row, default=str)
    [event] = await api.rows("SELECT actor_id, target_id, details FROM audit_events WHERE action = 'api_token.create'")
    assert event["target_id"] == str(created["id"]) and token not in json.dumps(event, default=str)


async def test_expiry_defaults_to_90_days_and_is_capped_at_365(access_api: AccessApi) -> None:
    api = access_api
    headers = await api.headers(Role.VIEWER)
    created = data_of(await api.client.post(TOKENS, headers=headers, json={"name": "a", "scopes": ["instances:read"]}))
    assert created["expires_at"] == (api.clock.now() + timedelta(days=90)).isoformat().replace("+00:00", "Z")
    too_far = (api.clock.now() + timedelta(days=366)).isoformat()
    body = error_of(await api.client.post(TOKENS, headers=headers, json={
        "name": "b", "scopes": ["instances:read"], "expires_at": too_far}), 400, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "body.expires_at"
    naive = error_of(await api.client.post(TOKENS, headers=headers, json={
        "name": "b", "scopes": ["instances:read"], "expires_at": "2027-04-01T00:00:00"}), 400, "VALIDATION_ERROR")
    assert naive["details"][0]["code"] == "naive_datetime"
    error_of(await api.client.post(TOKENS, headers=headers, json={"name": "b", "scopes": []}), 400, "VALIDATION_ERROR")


async def test_an_expired_token_is_invalid(access_api: AccessApi) -> None:
    api = access_api
    headers = await api.headers(Role.VIEWER)
    soon = (api.clock.now() + timedelta(days=1)).isoformat()
    token = data_of(await api.client.post(TOKENS, headers=headers, json={
        "name": "short", "scopes": ["instances:read"], "expires_at": soon}))["token"]
    assert (await api.client.get("/api/v1/instances", headers=bearer(token))).status_code == 200
    api.clock.advance(days=1, seconds=1)
    error_of(await api.client.get("/api/v1/instances", headers=bearer(token)), 401, "TOKEN_INVALID")


async def test_scopes_must_be_held_by_creator_and_owner(access_api: AccessApi) -> None:
    api = access_api
    body = error_of(await api.client.post(TOKENS, headers=await api.headers(Role.VIEWER), json={
        "name": "x", "scopes": ["instances:read", "instances:write", "users:read"]}), 403, "PERMISSION_DENIED")
    assert [d["field"] for d in body["details"]] == ["body.scopes[1]", "body.scopes[2]"]
    # An admin may create a token for a service user, bounded by that user's role.
    service = await api.create_user("svc-backup", Role.VIEWER)
    admin = await api.headers(Role.ADMIN)
    refused = error_of(await api.client.post(TOKENS, headers=admin, json={
        "name": "svc", "scopes": ["instances:write"], "owner_id": service.id}), 403, "PERMISSION_DENIED")
    assert refused["details"][0]["field"] == "body.scopes[0]"
    created = data_of(await api.client.post(TOKENS, headers=admin, json={
        "name": "svc", "scopes": ["instances:read"], "owner_id": service.id}))
    assert created["owner"] == {"id": service.id, "username": "svc-backup"}
    [event] = await api.rows("SELECT actor_id, details FROM audit_events WHERE action = 'api_token.create'")
    details = event["details"] if isinstance(event["details"], dict) else json.loads(event["details"])
    assert event["actor_id"] == api.user(Role.ADMIN).id and details["owner_id"] == service.id
    # Without users:manage, nobody creates tokens for someone else.
    error_of(await api.client.post(TOKENS, headers=await api.headers(Role.OPERATOR), json={
        "name": "svc", "scopes": ["instances:read"], "owner_id": service.id}), 403, "PERMISSION_DENIED")


async def test_tokens_cannot_create_tokens_or_change_passwords(access_api: AccessApi) -> None:
    api = access_api
    token = await api.api_token(Role.ADMIN, ["tokens:own", "users:manage"])
    error_of(await api.client.post(TOKENS, headers=bearer(token), json={"name": "y", "scopes": ["tokens:own"]}),
             403, "INTERACTIVE_AUTH_REQUIRED")
    error_of(await api.client.post("/api/v1/auth/password", headers=bearer(token), json={
        "current_password": PASSWORD, "new_password": "Another-Long-Passphrase-7"}), 403, "INTERACTIVE_AUTH_REQUIRED")


async def test_revocation_is_immediate_and_idempotent(access_api: AccessApi) -> None:
    api = access_api
    headers = await api.headers(Role.VIEWER)
    created = data_of(await api.client.post(TOKENS, headers=headers, json={"name": "r", "scopes": ["instances:read"]}))
    assert (await api.client.get("/api/v1/instances", headers=bearer(created["token"]))).status_code == 200
    first = data_of(await api.client.delete(f"{TOKENS}/{created['id']}", headers=headers))
    api.clock.advance(minutes=5)
    again = data_of(await api.client.delete(f"{TOKENS}/{created['id']}", headers=headers))
    assert first == again == {"id": created["id"], "revoked_at": first["revoked_at"]}
    error_of(await api.client.get("/api/v1/instances", headers=bearer(created["token"])), 401, "TOKEN_INVALID")
    assert [e["action"] for e in await api.rows("SELECT action FROM audit_events WHERE action LIKE 'api_token.%' "
                                               "ORDER BY id")] == ["api_token.create", "api_token.revoke"]
    error_of(await api.client.get("/api/v1/instances", headers=bearer("wf_abcdefgh_" + "A" * 43)), 401,
             "TOKEN_INVALID")


async def test_the_owners_current_role_bounds_the_token(access_api: AccessApi) -> None:
    api = access_api
    token = await api.api_token(Role.OPERATOR, ["instances:read", "instances:write"])
    owner = api.user(Role.OPERATOR)
    admin = await api.headers(Role.ADMIN)
    data_of(await api.client.patch(f"/api/v1/users/{owner.id}", headers=admin, json={"role": "viewer"}))
    assert (await api.client.get("/api/v1/instances", headers=bearer(token))).status_code == 200
    error_of(await api.client.post("/api/v1/instances", headers=bearer(token), json=INSTANCE), 403,
             "PERMISSION_DENIED")
    data_of(await api.client.patch(f"/api/v1/users/{owner.id}", headers=admin, json={"is_active": False}))
    error_of(await api.client.get("/api/v1/instances", headers=bearer(token)), 401, "TOKEN_REVOKED")


async def test_last_used_is_written_at_most_once_a_minute(access_api: AccessApi) -> None:
    api = access_api
    token = await api.api_token(Role.VIEWER, ["instances:read"])
    first_use = api.clock.now()
    await api.client.get("/api/v1/instances", headers=bearer(token))
    api.clock.advance(seconds=30)
    await api.client.get("/api/v1/instances", headers=bearer(token))
    [row] = await api.rows("SELECT last_used_at FROM api_tokens")
    assert str(row["last_used_at"]).startswith(first_use.strftime("%Y-%m-%d %H:%M:%S"))
    api.clock.advance(seconds=31)
    await api.client.get("/api/v1/instances", headers=bearer(token))
    [row] = await api.rows("SELECT last_used_at FROM api_tokens")
    assert str(row["last_used_at"]).startswith(api.clock.now().strftime("%Y-%m-%d %H:%M:%S"))


async def test_listing_is_own_tokens_unless_users_read(access_api: AccessApi) -> None:
    api = access_api
    await api.api_token(Role.VIEWER, ["instances:read"], name="viewer-one")
    await api.api_token(Role.OPERATOR, ["instances:read"], name="operator-one")
    viewer = await api.headers(Role.VIEWER)
    own = data_of(await api.client.get(TOKENS, headers=viewer))
    assert [t["name"] for t in own["items"]] == ["viewer-one"] and own["total"] == 1
    error_of(await api.client.get(TOKENS, headers=viewer, params={"all": "true"}), 403, "PERMISSION_DENIED")
    operator_id = api.user(Role.OPERATOR).id
    error_of(await api.client.get(TOKENS, headers=viewer, params={"owner_id": operator_id}), 403, "PERMISSION_DENIED")
    auditor = await api.headers(Role.AUDITOR)
    everyone = data_of(await api.client.get(TOKENS, headers=auditor, params={"all": "true", "sort": "created_at"}))
    assert [t["name"] for t in everyone["items"]] == ["viewer-one", "operator-one"]
    theirs = data_of(await api.client.get(TOKENS, headers=auditor, params={"owner_id": operator_id}))
    assert [t["name"] for t in theirs["items"]] == ["operator-one"]
    other_id = theirs["items"][0]["id"]
    error_of(await api.client.get(f"{TOKENS}/{other_id}", headers=viewer), 403, "PERMISSION_DENIED")
    error_of(await api.client.delete(f"{TOKENS}/{other_id}", headers=auditor), 403, "PERMISSION_DENIED")
    error_of(await api.client.get(f"{TOKENS}/999999", headers=viewer), 404, "RESOURCE_NOT_FOUND")
