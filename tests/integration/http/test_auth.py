"""Token login, refresh rotation and reuse, logout, revocation by user changes, /auth/me and /auth/password
(api.md §3.2, §4.4–4.5, §4.9; defects 9, 10, 15)."""

from __future__ import annotations

from tests.support.http_client import PASSWORD, Api, bearer, data_of, error_of
from whalefall.domain.identity.roles import PERMISSION_DESCRIPTIONS, ROLE_PERMISSIONS, Permission, Role

NEW_PASSWORD = "Another-Long-Passphrase-7"


async def test_login_success_sets_last_login_and_is_audited(api: Api) -> None:
    user = await api.create_user("alice", Role.OPERATOR)
    assert user.last_login_at is None
    data = await api.login("ALICE")  # usernames are case-insensitive
    assert data["token_type"] == "Bearer"
    assert data["refresh_token"].startswith("wfr_")
    assert data["user"]["username"] == "alice" and data["user"]["last_login_at"] is not None
    assert "password_hash" not in data["user"] and "security_stamp" not in data["user"]
    assert PASSWORD not in str(data)
    [row] = await api.rows("SELECT last_login_at FROM users WHERE id = :id", id=user.id)
    assert row["last_login_at"] is not None
    events = await api.rows("SELECT action, outcome, actor_id, target_id FROM audit_events "
                            "WHERE action LIKE 'auth.login%'")
    assert events == [{"action": "auth.login.success", "outcome": "success", "actor_id": user.id,
                       "target_id": str(user.id)}]


async def test_login_failure_is_identical_for_unknown_user_and_wrong_password_and_audited(api: Api) -> None:
    user = await api.create_user("bob", Role.VIEWER)
    wrong = await api.client.post("/api/v1/auth/login", json={"username": "bob", "password": "not-the-password"})
    unknown = await api.client.post("/api/v1/auth/login", json={"username": "nobody", "password": PASSWORD})
    first = error_of(wrong, 401, "INVALID_CREDENTIALS")
    second = error_of(unknown, 401, "INVALID_CREDENTIALS")
    assert (first["message"], first["details"]) == (second["message"], second["details"])
    events = await api.rows("SELECT action, outcome, target_id, details FROM audit_events ORDER BY id")
    failures = [e for e in events if e["action"] == "auth.login.failure"]
    assert [(e["outcome"], e["target_id"]) for e in failures] == [("failure", str(user.id)), ("failure", None)]
    assert all(_details(e)["reason"] == "bad_credentials" for e in failures)
    [row] = await api.rows("SELECT last_login_at FROM users WHERE id = :id", id=user.id)
    assert row["last_login_at"] is None


async def test_disabled_user_is_reported_only_after_a_correct_password(api: Api) -> None:
    await api.create_user("carol", Role.VIEWER, is_active=False)
    error_of(await api.client.post("/api/v1/auth/login", json={"username": "carol", "password": "wrong-password"}),
             401, "INVALID_CREDENTIALS")
    error_of(await api.client.post("/api/v1/auth/login", json={"username": "carol", "password": PASSWORD}),
             403, "ACCOUNT_DISABLED")
    reasons = [_details(e)["reason"] for e in await api.rows(
        "SELECT details FROM audit_events WHERE action = 'auth.login.failure' ORDER BY id")]
    assert reasons == ["bad_credentials", "disabled"]


async def test_refresh_rotates_and_reuse_revokes_the_family(api: Api) -> None:
    await api.create_user("dave", Role.VIEWER)
    first = await api.login("dave")
    second = data_of(await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}))
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await api.client.get("/api/v1/auth/me", headers=bearer(second["access_token"]))).status_code == 200
    # Presenting the rotated token again: reuse → the whole family is revoked.
    reuse = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    error_of(reuse, 401, "REFRESH_TOKEN_REUSED")
    error_of(await api.client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}),
             401, "TOKEN_REVOKED")
    events = await api.rows("SELECT outcome FROM audit_events WHERE action = 'auth.refresh_reuse'")
    assert events == [{"outcome": "denied"}]


async def test_unknown_refresh_token_is_invalid(api: Api) -> None:
    error_of(await api.client.post("/api/v1/auth/refresh", json={"refresh_token": "wfr_nothing"}),
             401, "TOKEN_INVALID")


async def test_logout_ends_the_refresh_token_and_the_access_token(api: Api) -> None:
    await api.create_user("erin", Role.VIEWER)
    tokens = await api.login("erin")
    headers = bearer(tokens["access_token"])
    assert data_of(await api.client.post("/api/v1/auth/logout", headers=headers,
                                         json={"refresh_token": tokens["refresh_token"]})) is None
    error_of(await api.client.get("/api/v1/auth/me", headers=headers), 401, "TOKEN_REVOKED")
    refresh = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    assert [e["action"] for e in await api.rows("SELECT action FROM audit_events WHERE action = 'auth.logout'")]


async def test_disabling_a_user_revokes_their_tokens(api: Api) -> None:
    admin = await api.headers(Role.ADMIN)
    victim = await api.create_user("frank", Role.OPERATOR)
    tokens = await api.login("frank")
    headers = bearer(tokens["access_token"])
    assert (await api.client.get("/api/v1/instances", headers=headers)).status_code == 200
    data_of(await api.client.patch(f"/api/v1/users/{victim.id}", headers=admin, json={"is_active": False}))
    error_of(await api.client.get("/api/v1/instances", headers=headers), 401, "TOKEN_REVOKED")
    refresh = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


async def test_demotion_takes_effect_on_the_next_request(api: Api) -> None:
    admin = await api.headers(Role.ADMIN)
    user = await api.create_user("gina", Role.OPERATOR)
    tokens = await api.login("gina")
    data_of(await api.client.patch(f"/api/v1/users/{user.id}", headers=admin, json={"role": "viewer"}))
    # The role change rotated the stamp: the old access token is revoked, a new login has viewer rights.
    error_of(await api.client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])), 401, "TOKEN_REVOKED")
    headers = bearer((await api.login("gina"))["access_token"])
    error_of(await api.client.post("/api/v1/tags", headers=headers,
                                   json={"name": "t", "display_name": "T", "category": "env"}),
             403, "PERMISSION_DENIED")


async def test_me_and_permissions_equal_the_domain_registry(api: Api) -> None:
    headers = await api.headers(Role.AUDITOR)
    me = data_of(await api.client.get("/api/v1/auth/me", headers=headers))
    assert me["user"]["role"] == "auditor"
    assert me["permissions"] == sorted(p.value for p in ROLE_PERMISSIONS[Role.AUDITOR])
    assert me["auth"]["method"] == "access_token" and me["auth"]["expires_at"]
    registry = data_of(await api.client.get("/api/v1/auth/permissions", headers=headers))
    assert {p["name"]: p["description"] for p in registry["permissions"]} == {
        p.value: d for p, d in PERMISSION_DESCRIPTIONS.items()}
    assert len(registry["permissions"]) == len(Permission)
    assert {r["name"]: set(r["permissions"]) for r in registry["roles"]} == {
        role.value: {p.value for p in perms} for role, perms in ROLE_PERMISSIONS.items()}


async def test_anonymous_and_malformed_tokens(api: Api) -> None:
    error_of(await api.client.get("/api/v1/auth/me"), 401, "AUTHENTICATION_REQUIRED")
    error_of(await api.client.get("/api/v1/auth/me", headers=bearer("not.a.jwt")), 401, "TOKEN_INVALID")
    error_of(await api.client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"}), 401, "TOKEN_INVALID")


async def test_password_change(api: Api) -> None:
    user = await api.create_user("hank", Role.VIEWER)
    tokens = await api.login("hank")
    headers = bearer(tokens["access_token"])
    wrong = await api.client.post("/api/v1/auth/password", headers=headers,
                                  json={"current_password": "nope-nope-nope", "new_password": NEW_PASSWORD})
    error_of(wrong, 422, "INVALID_CURRENT_PASSWORD")
    weak = await api.client.post("/api/v1/auth/password", headers=headers,
                                 json={"current_password": PASSWORD, "new_password": "short"})
    assert error_of(weak, 422, "PASSWORD_POLICY_VIOLATION")["details"][0]["field"] == "body.new_password"
    changed = data_of(await api.client.post("/api/v1/auth/password", headers=headers,
                                            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
    assert changed["password_changed_at"]
    # Every session ended; the old password no longer works, the new one does.
    error_of(await api.client.get("/api/v1/auth/me", headers=headers), 401, "TOKEN_REVOKED")
    assert (await api.client.post("/api/v1/auth/refresh",
                                  json={"refresh_token": tokens["refresh_token"]})).status_code == 401
    error_of(await api.client.post("/api/v1/auth/login", json={"username": "hank", "password": PASSWORD}),
             401, "INVALID_CREDENTIALS")
    assert (await api.login("hank", NEW_PASSWORD))["user"]["id"] == user.id
    events = await api.rows("SELECT changes FROM audit_events WHERE action = 'auth.password_change'")
    assert len(events) == 1 and NEW_PASSWORD not in str(events[0]["changes"])


async def test_update_own_profile(api: Api) -> None:
    headers = await api.headers(Role.VIEWER)
    data = data_of(await api.client.patch("/api/v1/auth/me", headers=headers, json={"display_name": "Vera V."}))
    assert data["display_name"] == "Vera V."
    body = error_of(await api.client.patch("/api/v1/auth/me", headers=headers, json={"role": "admin"}), 400,
                    "VALIDATION_ERROR")
    assert {(d["field"], d["code"]) for d in body["details"]} >= {("body.role", "read_only")}
    [row] = await api.rows("SELECT role FROM users WHERE id = :id", id=api.user(Role.VIEWER).id)
    assert row["role"] == "viewer"


def _details(event: dict[str, object]) -> dict[str, object]:
    import json

    value = event["details"]
    return json.loads(value) if isinstance(value, str) else value  # type: ignore[return-value]
