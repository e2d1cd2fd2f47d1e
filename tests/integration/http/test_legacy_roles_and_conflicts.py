"""API legacy defects of api.md §6 proved end to end on both stores: 5 (each of the four roles has a visible
effect matching its matrix row, and nothing above it) and 25 (every duplicate name is a 409, whatever the
resource, on create and on rename; bulk actions answer 200 with receipts, never 207)."""

from __future__ import annotations

from typing import Any

from tests.support.http_client import PASSWORD, Api, bearer, data_of, error_of
from whalefall.domain.identity.roles import Role

TAG = {"name": "wf-w2-env", "display_name": "Env", "category": "env"}


async def _token(api: Api, role: Role) -> str:
    """The plaintext of a new `instances:read` API token created by the role's own user (tokens:own)."""
    response = await api.client.post("/api/v1/api-tokens", headers=await api.headers(role),
                                     json={"name": f"wf-w2-{role.value}", "scopes": ["instances:read"]})
    assert response.status_code == 201, response.text
    token: str = data_of(response)["token"]
    return token


async def test_each_role_has_a_visible_effect_of_its_matrix_row_and_none_above(api: Api) -> None:
    """Defect 5 (phantom roles): admin creates a user who can log in; operator creates a tag every role then sees;
    auditor reads that write in the audit trail; viewer, the legacy powerless role, creates its own API token and
    lists the fleet with it. Each role is refused the effect of the row above it."""
    admin, operator, auditor, viewer = [await api.headers(r) for r in
                                        (Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.VIEWER)]
    # admin (users:manage): the new user exists for real — it can log in.
    created = data_of(await api.client.post("/api/v1/users", headers=admin, json={
        "username": "wf-w2-new", "role": "viewer", "password": PASSWORD, "must_change_password": False}))
    assert (await api.login("wf-w2-new"))["user"]["id"] == created["id"]
    error_of(await api.client.post("/api/v1/users", headers=operator, json={
        "username": "wf-w2-other", "role": "viewer", "password": PASSWORD}), 403, "PERMISSION_DENIED")
    # operator (tags:write, instances:write): the tag and instance are visible to the viewer.
    tag = data_of(await api.client.post("/api/v1/tags", headers=operator, json=TAG))
    data_of(await api.client.post("/api/v1/instances", headers=operator, json={
        "name": "wf-w2-billing", "db_type": "postgresql", "host": "billing.example.com", "tags": [TAG["name"]]}))
    assert [t["id"] for t in data_of(await api.client.get("/api/v1/tags", headers=viewer))["items"]] == [tag["id"]]
    error_of(await api.client.post("/api/v1/tags", headers=auditor, json={**TAG, "name": "wf-w2-x"}), 403,
             "PERMISSION_DENIED")
    # auditor (audit:read): the operator's write is in the trail, with its actor.
    events = data_of(await api.client.get("/api/v1/audit-events", params={"action": "tag.create"},
                                          headers=auditor))["items"]
    assert [(e["action"], e["outcome"], e["target_id"]) for e in events] == [("tag.create", "success", str(tag["id"]))]
    error_of(await api.client.get("/api/v1/audit-events", headers=viewer), 403, "PERMISSION_DENIED")
    error_of(await api.client.get("/api/v1/audit-events", headers=operator), 403, "PERMISSION_DENIED")
    # viewer (tokens:own, instances:read, dashboard:read): its own token works for automation.
    token = await _token(api, Role.VIEWER)
    listed = data_of(await api.client.get("/api/v1/instances", headers=bearer(token)))
    assert [i["name"] for i in listed["items"]] == ["wf-w2-billing"]
    assert (await api.client.get("/api/v1/dashboard", headers=viewer)).status_code == 200
    error_of(await api.client.get("/api/v1/credentials", headers=viewer), 403, "PERMISSION_DENIED")
    # The stored roles are exactly the four of the matrix.
    assert {row["role"] for row in await api.rows("SELECT role FROM users")} == {r.value for r in Role}


async def _create(api: Api, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    response = await api.client.post(path, headers=headers, json=body)
    assert response.status_code == 201, f"{path}: {response.text}"
    return response.json()["data"]


async def test_every_duplicate_name_is_409_on_create_and_on_rename(api: Api) -> None:
    """Defect 25 (duplicate keys as 400 on some resources and 409 on others): users, credentials, tags,
    instances, classifications, rules and pipelines all answer 409 in the ALREADY_EXISTS family, names compared
    case-insensitively, and nothing is written by the refused request."""
    admin = await api.headers(Role.ADMIN)
    cases: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
        ("/api/v1/users", {"username": "wf-w2-dup", "role": "viewer", "password": PASSWORD},
         {"username": "WF-W2-DUP", "role": "viewer", "password": PASSWORD}, "ALREADY_EXISTS"),
        ("/api/v1/credentials", {"name": "wf-w2-cred", "username": "u", "secret": "s"},
         {"name": "WF-W2-Cred", "username": "v", "secret": "t"}, "ALREADY_EXISTS"),
        ("/api/v1/tags", TAG, {**TAG, "name": "WF-W2-ENV", "display_name": "Other"}, "ALREADY_EXISTS"),
        ("/api/v1/instances", {"name": "wf-w2-inst", "db_type": "mysql", "host": "a.example.com"},
         {"name": "WF-W2-INST", "db_type": "mysql", "host": "b.example.com"}, "INSTANCE_NAME_TAKEN"),
        ("/api/v1/classifications", {"code": "wf_w2_risky", "display_name": "Risky", "risk_level": 2},
         {"code": "wf_w2_risky", "display_name": "Other", "risk_level": 3}, "ALREADY_EXISTS"),
        ("/api/v1/pipelines", {"name": "wf-w2-nightly", "steps": [{"name": "sync", "kind": "accounts_sync"}]},
         {"name": "wf-w2-nightly", "steps": [{"name": "other", "kind": "accounts_sync"}]}, "ALREADY_EXISTS"),
    ]
    for path, first, duplicate, code in cases:
        await _create(api, admin, path, first)
        before = data_of(await api.client.get(path, headers=admin))["total"]
        refused = await api.client.post(path, headers=admin, json=duplicate)
        assert refused.status_code == 409, f"{path}: {refused.status_code} {refused.text}"
        error_of(refused, 409, code)
        assert data_of(await api.client.get(path, headers=admin))["total"] == before, path

    classification = data_of(await api.client.get("/api/v1/classifications", headers=admin))["items"][0]["id"]
    rule = {"name": "wf-w2-rule", "classification_id": classification, "db_type": "mysql",
            "expression": {"version": 4, "expr": {"fn": "is_superuser"}}}
    await _create(api, admin, "/api/v1/rules", rule)
    # Rule names are unique per (classification, db_type) as written (classification.md §4; not case-folded).
    other = {**rule,
             "expression": {"version": 4, "expr": {"fn": "has_capability", "args": {"name": "LOCKED"}}}}
    error_of(await api.client.post("/api/v1/rules", headers=admin, json=other), 409, "RULE_NAME_TAKEN")

    # Rename onto a taken name: the same 409, and the row keeps its name.
    second_cred = await _create(api, admin, "/api/v1/credentials", {"name": "wf-w2-cred-2", "username": "u",
                                                                    "secret": "s"})
    error_of(await api.client.patch(f"/api/v1/credentials/{second_cred['id']}", headers=admin,
                                    json={"name": "wf-w2-cred"}), 409, "ALREADY_EXISTS")
    second_inst = await _create(api, admin, "/api/v1/instances", {"name": "wf-w2-inst-2", "db_type": "mysql",
                                                                  "host": "c.example.com"})
    error_of(await api.client.patch(f"/api/v1/instances/{second_inst['id']}", headers=admin,
                                    json={"name": "wf-w2-inst"}), 409, "INSTANCE_NAME_TAKEN")
    names = {row["name"] for row in await api.rows("SELECT name FROM credentials")}
    assert names == {"wf-w2-cred", "wf-w2-cred-2"}


async def test_bulk_actions_answer_200_with_receipts_and_in_use_deletes_409(api: Api) -> None:
    """Defect 25 (207 with success: true on partial failure; in-use deletes as 500): a bulk assign naming one
    missing instance answers 200 with one receipt per pair; deleting a referenced credential is 409
    CREDENTIAL_IN_USE and deletes nothing."""
    op = await api.headers(Role.OPERATOR)
    tag = await _create(api, op, "/api/v1/tags", TAG)
    credential = await _create(api, op, "/api/v1/credentials", {"name": "wf-w2-used", "username": "u",
                                                                "secret": "s", "db_type": "mysql"})
    instance = await _create(api, op, "/api/v1/instances", {"name": "wf-w2-bulk", "db_type": "mysql",
                                                            "host": "d.example.com",
                                                            "credential_id": credential["id"]})
    response = await api.client.post("/api/v1/tags/actions/bulk-assign", headers=op,
                                     json={"instance_ids": [instance["id"], 999999], "tag_ids": [tag["id"]]})
    assert response.status_code == 200, response.text
    receipts = data_of(response)["receipts"]
    assert len(receipts) == 2
    assert {r["result"] for r in receipts} >= {"assigned"} and len({r["result"] for r in receipts}) == 2
    error_of(await api.client.delete(f"/api/v1/credentials/{credential['id']}", headers=op), 409,
             "CREDENTIAL_IN_USE")
    assert len(await api.rows("SELECT id FROM credentials")) == 1
