"""User administration: role matrix, self-modification, last admin, password reset (api.md §3.3, §4.3–4.4;
defects 1, 2, 5)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.http_client import PASSWORD, Api, bearer, data_of, error_of
from tests.support.routes import EXPECTED, PASSWORD_CHANGE_EXEMPT, concrete
from whalefall.application.identity.update_user import UpdateUser, UpdateUserInput
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import LastAdminRequiredError
from whalefall.domain.identity.roles import Role
from whalefall.entrypoints.http.auth import PUBLIC

TEMPORARY = "Temporary-Password-123"


async def _stored_role(api: Api, user_id: int) -> str:
    [row] = await api.rows("SELECT role FROM users WHERE id = :id", id=user_id)
    return str(row["role"])


@pytest.mark.parametrize("role", list(Role))
async def test_admin_creates_users_of_every_role(api: Api, role: Role) -> None:
    admin = await api.headers(Role.ADMIN)
    response = await api.client.post("/api/v1/users", headers=admin, json={
        "username": f"new-{role.value}", "role": role.value, "password": PASSWORD, "must_change_password": False})
    assert response.status_code == 201
    created = data_of(response)
    assert response.headers["Location"] == f"/api/v1/users/{created['id']}"
    assert created["role"] == role.value and created["is_active"] is True
    assert PASSWORD not in response.text and "password_hash" not in created
    assert (await api.login(f"new-{role.value}"))["user"]["role"] == role.value


async def test_user_create_validation_and_duplicates(api: Api) -> None:
    admin = await api.headers(Role.ADMIN)
    bad_role = await api.client.post("/api/v1/users", headers=admin,
                                     json={"username": "guesty", "role": "guest", "password": PASSWORD})
    assert [(d["field"], d["code"]) for d in error_of(bad_role, 400, "VALIDATION_ERROR")["details"]] == [
        ("body.role", "invalid_choice")]
    data_of(await api.client.post("/api/v1/users", headers=admin,
                                  json={"username": "Dup.User", "role": "viewer", "password": PASSWORD}))
    duplicate = await api.client.post("/api/v1/users", headers=admin,
                                      json={"username": "dup.user", "role": "viewer", "password": PASSWORD})
    assert error_of(duplicate, 409, "ALREADY_EXISTS")["details"][0]["field"] == "body.username"
    weak = await api.client.post("/api/v1/users", headers=admin,
                                 json={"username": "weakling", "role": "viewer", "password": "weakling-pass"})
    assert error_of(weak, 422, "PASSWORD_POLICY_VIOLATION")["details"]


async def test_role_matrix_of_reads(api: Api) -> None:
    expected = {Role.ADMIN: 200, Role.AUDITOR: 200, Role.OPERATOR: 403, Role.VIEWER: 403}
    for role, status in expected.items():
        response = await api.client.get("/api/v1/users", headers=await api.headers(role))
        assert response.status_code == status, role
    viewer = api.user(Role.VIEWER)
    # Everyone reads themselves through /auth/me, not other users.
    error_of(await api.client.get(f"/api/v1/users/{api.user(Role.ADMIN).id}", headers=await api.headers(Role.VIEWER)),
             403, "PERMISSION_DENIED")
    assert data_of(await api.client.get(f"/api/v1/users/{viewer.id}",
                                        headers=await api.headers(Role.AUDITOR)))["id"] == viewer.id


async def test_nobody_raises_their_own_role(api: Api) -> None:
    """Defect 1: an operator's PATCH → 403; an admin's PATCH of itself with a role → 403; roles unchanged."""
    operator = await api.headers(Role.OPERATOR)
    operator_id = api.user(Role.OPERATOR).id
    error_of(await api.client.patch(f"/api/v1/users/{operator_id}", headers=operator, json={"role": "admin"}),
             403, "PERMISSION_DENIED")
    assert await _stored_role(api, operator_id) == "operator"
    admin = await api.headers(Role.ADMIN)
    admin_id = api.user(Role.ADMIN).id
    body = error_of(await api.client.patch(f"/api/v1/users/{admin_id}", headers=admin, json={"role": "viewer"}),
                    403, "SELF_MODIFICATION_FORBIDDEN")
    assert body["details"][0]["field"] == "body.role"
    error_of(await api.client.patch(f"/api/v1/users/{admin_id}", headers=admin, json={"is_active": False}),
             403, "SELF_MODIFICATION_FORBIDDEN")
    error_of(await api.client.delete(f"/api/v1/users/{admin_id}", headers=admin), 403, "SELF_MODIFICATION_FORBIDDEN")
    error_of(await api.client.post(f"/api/v1/users/{admin_id}/actions/reset-password", headers=admin,
                                   json={"new_password": TEMPORARY}), 403, "SELF_MODIFICATION_FORBIDDEN")
    assert await _stored_role(api, admin_id) == "admin"
    # The own display name may change through /users too.
    assert data_of(await api.client.patch(f"/api/v1/users/{admin_id}", headers=admin,
                                          json={"display_name": "Root"}))["display_name"] == "Root"


async def test_patch_with_a_password_field_is_refused(api: Api) -> None:
    """Defect 2."""
    admin = await api.headers(Role.ADMIN)
    target = await api.create_user("target", Role.VIEWER)
    body = error_of(await api.client.patch(f"/api/v1/users/{target.id}", headers=admin,
                                           json={"password": "Hijacked-Password-1"}), 400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in body["details"]] == [("body.password", "unknown_field")]
    assert (await api.login("target"))["user"]["id"] == target.id


async def test_last_admin_cannot_be_demoted(api: Api) -> None:
    only = await api.create_user("root", Role.ADMIN)
    async with api.container() as scope:
        use_case = await scope.get(UpdateUser)
        with pytest.raises(LastAdminRequiredError):
            await use_case.execute(UpdateUserInput(actor=Actor.system(), user_id=only.id, role=Role.OPERATOR))
    assert await _stored_role(api, only.id) == "admin"


async def test_two_admins_demoting_each_other_leave_one_admin(api: Api) -> None:
    await api.create_user("adm-a", Role.ADMIN)
    await api.create_user("adm-b", Role.ADMIN)
    a = await api.login("adm-a")
    b = await api.login("adm-b")
    results = await asyncio.gather(
        api.client.patch(f"/api/v1/users/{b['user']['id']}", headers=bearer(a["access_token"]),
                         json={"role": "operator"}),
        api.client.patch(f"/api/v1/users/{a['user']['id']}", headers=bearer(b["access_token"]),
                         json={"role": "operator"}))
    statuses = sorted(r.status_code for r in results)
    assert statuses[0] == 200 and statuses[1] in (401, 409), [r.text for r in results]
    admins = await api.rows("SELECT id FROM users WHERE role = 'admin' AND is_active = :t AND deleted_at IS NULL",
                            t=True)
    assert len(admins) == 1


async def test_delete_user_and_unknown_id(api: Api) -> None:
    admin = await api.headers(Role.ADMIN)
    target = await api.create_user("leaver", Role.VIEWER)
    tokens = await api.login("leaver")
    deleted = data_of(await api.client.delete(f"/api/v1/users/{target.id}", headers=admin))
    assert deleted["id"] == target.id and deleted["deleted_at"]
    error_of(await api.client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])), 401, "TOKEN_REVOKED")
    error_of(await api.client.post("/api/v1/auth/login", json={"username": "leaver", "password": PASSWORD}),
             401, "INVALID_CREDENTIALS")
    error_of(await api.client.get("/api/v1/users/987654", headers=admin), 404, "RESOURCE_NOT_FOUND")
    error_of(await api.client.patch("/api/v1/users/987654", headers=admin, json={"display_name": "x"}),
             404, "RESOURCE_NOT_FOUND")
    listed = data_of(await api.client.get("/api/v1/users", headers=admin))
    assert target.id not in [u["id"] for u in listed["items"]]
    # The username stays reserved.
    again = await api.client.post("/api/v1/users", headers=admin,
                                  json={"username": "leaver", "role": "viewer", "password": PASSWORD})
    error_of(again, 409, "ALREADY_EXISTS")


async def test_reset_password_forces_a_change_before_anything_else(api: Api) -> None:
    admin = await api.headers(Role.ADMIN)
    target = await api.create_user("forgetful", Role.OPERATOR)
    reset = data_of(await api.client.post(f"/api/v1/users/{target.id}/actions/reset-password", headers=admin,
                                          json={"new_password": TEMPORARY}))
    assert reset["must_change_password"] is True
    events = await api.rows("SELECT target_id FROM audit_events WHERE action = 'user.reset_password'")
    assert events == [{"target_id": str(target.id)}]
    tokens = await api.login("forgetful", TEMPORARY)
    headers = bearer(tokens["access_token"])
    blocked = 0
    for (method, path), permission in EXPECTED.items():
        if permission == PUBLIC or (method, path) in PASSWORD_CHANGE_EXEMPT:
            continue
        response = await api.client.request(method, concrete(path, target.id), headers=headers,
                                            json={} if method != "GET" else None)
        error_of(response, 403, "PASSWORD_CHANGE_REQUIRED")
        blocked += 1
    public = sum(1 for permission in EXPECTED.values() if permission == PUBLIC)
    exempt = sum(1 for route in EXPECTED if route in PASSWORD_CHANGE_EXEMPT)
    assert blocked == len(EXPECTED) - public - exempt
    assert blocked > 20
    me = data_of(await api.client.get("/api/v1/auth/me", headers=headers))
    assert me["user"]["must_change_password"] is True
    new_password = "Chosen-By-Myself-42"
    data_of(await api.client.post("/api/v1/auth/password", headers=headers,
                                  json={"current_password": TEMPORARY, "new_password": new_password}))
    fresh = bearer((await api.login("forgetful", new_password))["access_token"])
    assert data_of(await api.client.get("/api/v1/instances", headers=fresh))["total"] == 0


async def test_logout_is_allowed_while_a_password_change_is_required(api: Api) -> None:
    await api.create_user("newbie", Role.VIEWER, must_change_password=True)
    tokens = await api.login("newbie")
    assert data_of(await api.client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))) is None


async def test_revoke_sessions_of_oneself_is_allowed(api: Api) -> None:
    await api.create_user("selfie", Role.VIEWER)
    tokens = await api.login("selfie")
    headers = bearer(tokens["access_token"])
    user_id = tokens["user"]["id"]
    revoked = data_of(await api.client.post(f"/api/v1/users/{user_id}/actions/revoke-sessions", headers=headers))
    assert revoked == {"revoked_sessions": 0, "revoked_refresh_families": 1}
    error_of(await api.client.get("/api/v1/auth/me", headers=headers), 401, "TOKEN_REVOKED")


async def test_usernames_with_a_trailing_newline_are_refused(api: Api) -> None:
    """A look-alike `admin\\n` must not become a second user (the pattern is anchored at the very end)."""
    admin = await api.headers(Role.ADMIN)
    response = await api.client.post("/api/v1/users", headers=admin,
                                     json={"username": "admin-user\n", "role": "viewer", "password": PASSWORD})
    body = error_of(response, 400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in body["details"]] == [("body.username", "invalid_format")]
