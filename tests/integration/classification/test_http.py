"""Classification, rule and assignment routes (api.md §3.9; classification.md X17, defects 15, 16; api defect 30)."""

from __future__ import annotations

from typing import Any

from tests.support.http_client import Api, data_of, error_of
from whalefall.domain.identity.roles import Role

X17: dict[str, Any] = {"version": 4.0, "expr": {"op": "or", "args": [
    {"op": "OR", "args": []},
    {"fn": "has_privilege", "args": {"name": "DROP", "scope": "databse", "databse": "inventory"}},
    {"op": "NOT", "args": [{"fn": "is_superuser"}, {"fn": "has_role", "args": {"name": " "}}]}]}}
SUPER: dict[str, Any] = {"version": 4, "expr": {"fn": "is_superuser"}}
LOCKED: dict[str, Any] = {"version": 4, "expr": {"fn": "has_capability", "args": {"name": "LOCKED"}}}


async def _classification(api: Api, headers: dict[str, str], code: str = "custom") -> int:
    response = await api.client.post("/api/v1/classifications", headers=headers,
                                     json={"code": code, "display_name": code.title(), "risk_level": 2})
    return int(data_of(response)["id"])


async def _rule(api: Api, headers: dict[str, str], classification_id: int, name: str = "r1",
                db_type: str = "mysql", expression: dict[str, Any] = SUPER) -> Any:
    return await api.client.post("/api/v1/rules", headers=headers, json={
        "name": name, "classification_id": classification_id, "db_type": db_type, "expression": expression})


async def test_validate_x17_answers_200_with_the_six_problems(api: Api) -> None:
    auditor = await api.headers(Role.AUDITOR)
    data = data_of(await api.client.post("/api/v1/rules/actions/validate", headers=auditor,
                                         json={"db_type": "mysql", "expression": X17}))
    assert data["valid"] is False and data["normalized"] is None
    errors = [(p["code"], p["path"]) for p in data["problems"] if p["severity"] == "error"]
    assert errors == [("version_invalid", "$.version"), ("args_empty", "$.expr.args[0].args"),
                      ("scope_unknown", "$.expr.args[1].args.scope"), ("unknown_key", "$.expr.args[1].args.databse"),
                      ("not_arity", "$.expr.args[2].args"), ("arg_blank", "$.expr.args[2].args[1].args.name")]
    valid = data_of(await api.client.post("/api/v1/rules/actions/validate", headers=auditor, json={
        "db_type": "postgresql", "expression": {"version": 4, "expr": {"fn": "has_capability",
                                                                        "args": {"name": "can_login"}}}}))
    assert valid["valid"] is True
    assert valid["normalized"]["expr"]["args"]["name"] == "LOGIN"
    assert [p["code"] for p in valid["problems"]] == ["alias_deprecated"]


async def test_create_with_an_invalid_rule_is_422_with_body_expression_fields(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    classification = await _classification(api, op)
    error = error_of(await _rule(api, op, classification, expression=X17), 422, "RULE_INVALID")
    assert [(d["field"], d["code"]) for d in error["details"]] == [
        ("body.expression.version", "version_invalid"), ("body.expression.expr.args[0].args", "args_empty"),
        ("body.expression.expr.args[1].args.scope", "scope_unknown"),
        ("body.expression.expr.args[1].args.databse", "unknown_key"),
        ("body.expression.expr.args[2].args", "not_arity"),
        ("body.expression.expr.args[2].args[1].args.name", "arg_blank")]
    assert await api.rows("SELECT id FROM rules") == []


async def test_patch_keeps_the_id_and_adds_a_rule_revision_only_for_a_new_expression(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    classification = await _classification(api, op)
    created = data_of(await _rule(api, op, classification))
    assert created["rule_revision"] == 1 and created["revision"] == 1
    renamed = data_of(await api.client.patch(f"/api/v1/rules/{created['id']}", headers=op, json={"name": "r2"}))
    assert (renamed["id"], renamed["rule_revision"], renamed["revision"]) == (created["id"], 1, 2)
    edited = data_of(await api.client.patch(f"/api/v1/rules/{created['id']}", headers=op,
                                            json={"expression": LOCKED}))
    assert (edited["id"], edited["rule_revision"]) == (created["id"], 2)
    assert edited["expression"]["expr"] == {"fn": "has_capability", "args": {"name": "LOCKED"}}
    same = data_of(await api.client.patch(f"/api/v1/rules/{created['id']}", headers=op,
                                          json={"expression": LOCKED}))
    assert same["rule_revision"] == 2
    revisions = data_of(await api.client.get(f"/api/v1/rules/{created['id']}/revisions", headers=op))
    assert [(r["rule_revision"], r["superseded_at"] is None) for r in revisions["items"]] == [(1, False), (2, True)]
    error_of(await api.client.patch(f"/api/v1/rules/{created['id']}", headers=op, json={"db_type": "oracle"}),
             400, "VALIDATION_ERROR")
    counter = await api.rows("SELECT value FROM classification_counters WHERE name = 'rules_revision'")
    assert counter[0]["value"] >= 5


async def test_uniqueness_per_classification_and_engine_and_soft_delete(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    classification = await _classification(api, op)
    first = data_of(await _rule(api, op, classification))
    data_of(await _rule(api, op, classification, name="pg", db_type="postgresql"))
    error_of(await _rule(api, op, classification, name="other"), 409, "RULE_EXPRESSION_DUPLICATED")
    error_of(await _rule(api, op, classification, expression=LOCKED), 409, "RULE_NAME_TAKEN")
    deleted = data_of(await api.client.delete(f"/api/v1/rules/{first['id']}", headers=op))
    assert deleted["id"] == first["id"] and deleted["deleted_at"] is not None
    again = data_of(await api.client.delete(f"/api/v1/rules/{first['id']}", headers=op))
    assert again["deleted_at"] == deleted["deleted_at"]
    data_of(await _rule(api, op, classification))
    history = data_of(await api.client.get(f"/api/v1/rules/{first['id']}/revisions", headers=op))
    assert history["total"] == 1
    listed = data_of(await api.client.get("/api/v1/rules?include_deleted=true", headers=op))
    assert listed["total"] == 3


async def test_classification_protection_and_in_use(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    listed = data_of(await api.client.get("/api/v1/classifications", headers=op))
    assert [c["code"] for c in listed["items"]] == ["super", "highly", "sensitive", "medium", "low", "public"]
    system = listed["items"][0]
    error_of(await api.client.delete(f"/api/v1/classifications/{system['id']}", headers=op), 409,
             "RESOURCE_PROTECTED")
    error_of(await api.client.patch(f"/api/v1/classifications/{system['id']}", headers=op, json={"icon": "x"}), 409,
             "RESOURCE_PROTECTED")
    renamed = data_of(await api.client.patch(f"/api/v1/classifications/{system['id']}", headers=op,
                                             json={"display_name": "Critical", "priority": 99}))
    assert renamed["display_name"] == "Critical" and renamed["revision"] == 2
    classification = await _classification(api, op)
    data_of(await _rule(api, op, classification))
    error = error_of(await api.client.delete(f"/api/v1/classifications/{classification}", headers=op), 409,
                     "CLASSIFICATION_IN_USE")
    assert error["details"][0]["context"] == {"rule_count": 1, "assignment_count": 0}
    error_of(await api.client.post("/api/v1/classifications", headers=op,
                                   json={"code": "custom", "display_name": "Other"}), 409, "ALREADY_EXISTS")


async def test_permissions_viewer_auditor_operator(api: Api) -> None:
    viewer, auditor, op = (await api.headers(Role.VIEWER), await api.headers(Role.AUDITOR),
                           await api.headers(Role.OPERATOR))
    error_of(await api.client.get("/api/v1/rules", headers=viewer), 403, "PERMISSION_DENIED")
    error_of(await api.client.get("/api/v1/classifications", headers=viewer), 403, "PERMISSION_DENIED")
    data_of(await api.client.get("/api/v1/rules", headers=auditor))
    data_of(await api.client.get("/api/v1/classification-assignments", headers=auditor))
    error_of(await api.client.post("/api/v1/classifications", headers=auditor,
                                   json={"code": "x", "display_name": "X"}), 403, "PERMISSION_DENIED")
    classification = await _classification(api, op)
    assert (await _rule(api, op, classification)).status_code == 201
    error_of(await _rule(api, auditor, classification, name="r9"), 403, "PERMISSION_DENIED")
    catalog = data_of(await api.client.get("/api/v1/accounts/privilege-catalog/mysql", headers=auditor))
    assert catalog["db_type"] == "mysql" and catalog["privileges"]
    error_of(await api.client.get("/api/v1/accounts/privilege-catalog/mysql", headers=viewer), 403,
             "PERMISSION_DENIED")
