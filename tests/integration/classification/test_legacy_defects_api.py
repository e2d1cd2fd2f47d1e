"""Legacy classification defects 14 and 16 through the API (classification.md §14)."""

from __future__ import annotations

from tests.integration.classification.support import SUPER, add_accounts, classification_id, classify, mysql_instance
from tests.support.http_client import Api, data_of, error_of
from whalefall.domain.identity.roles import Role


async def test_defect_14_a_rule_payload_with_operator_is_refused_and_nothing_is_stored(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    critical = await classification_id(api, "super")
    body = error_of(await api.client.post("/api/v1/rules", headers=op, json={
        "name": "supers", "classification_id": critical, "db_type": "mysql", "expression": SUPER,
        "operator": "OR"}), 400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in body["details"]] == [("body.operator", "unknown_field")]
    assert await api.rows("SELECT id FROM rules") == []
    rule = data_of(await api.client.post("/api/v1/rules", headers=op, json={
        "name": "supers", "classification_id": critical, "db_type": "mysql", "expression": SUPER}))
    patched = error_of(await api.client.patch(f"/api/v1/rules/{rule['id']}", headers=op, json={
        "operator": "AND"}), 400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in patched["details"]] == [("body.operator", "unknown_field")]


async def test_defect_16_a_rule_with_statistics_and_history_can_be_deleted_and_history_keeps_it(api: Api) -> None:
    op, auditor = await api.headers(Role.OPERATOR), await api.headers(Role.AUDITOR)
    instance = await mysql_instance(api, "m1")
    (account,) = await add_accounts(api, instance, [["SUPER"]])
    critical = await classification_id(api, "super")
    rule = data_of(await api.client.post("/api/v1/rules", headers=op, json={
        "name": "supers", "classification_id": critical, "db_type": "mysql", "expression": SUPER}))["id"]
    await classify(api, "s-1")
    deleted = data_of(await api.client.delete(f"/api/v1/rules/{rule}", headers=op))
    assert deleted["deleted_at"] is not None
    await classify(api, "s-2")
    history = data_of(await api.client.get("/api/v1/classification-assignments/history", headers=auditor,
                                            params={"account_id": account}))["items"]
    assert [(h["rule_ids"], h["valid_to"] is not None) for h in history] == [([rule], True)]
    trend = data_of(await api.client.get("/api/v1/classifications/statistics/trend", headers=auditor,
                                         params={"rule_id": rule}))
    assert trend["series"][0]["rule_id"] == rule
    assert trend["series"][0]["points"][-1]["max_count"] == 1, "today still shows the stretch that ended today"
    assert data_of(await api.client.get(f"/api/v1/rules/{rule}", headers=auditor))["deleted_at"] is not None
