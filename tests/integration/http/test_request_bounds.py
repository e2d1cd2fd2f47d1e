"""Integers the metadata store cannot hold are refused with 400, not a 500 (found by the Schemathesis run)."""

from __future__ import annotations

from tests.support.http_client import Api, error_of
from whalefall.domain.identity.roles import Role

HUGE = 2**70


async def test_path_ids_pages_and_body_integers_beyond_64_bits_are_400(api: Api) -> None:
    headers = await api.headers(Role.ADMIN)
    body = error_of(await api.client.get(f"/api/v1/users/{HUGE}", headers=headers), 400, "VALIDATION_ERROR")
    assert body["details"] == [{"field": "path.user_id", "code": "too_large", "message": f"must be at most {2**63 - 1}",
                                "context": {"max": 2**63 - 1}}]
    body = error_of(await api.client.get("/api/v1/instances", headers=headers,
                                         params={"page": str(10**17), "limit": "200"}), 400, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "query.page"
    body = error_of(await api.client.post("/api/v1/tags/actions/bulk-assign", headers=headers,
                                          json={"instance_ids": [1, HUGE], "tag_ids": [1]}), 400, "VALIDATION_ERROR")
    assert body["details"][0]["field"] == "body.instance_ids[1]"
    error_of(await api.client.get("/api/v1/users/999999", headers=headers), 404, "RESOURCE_NOT_FOUND")
    page = await api.client.get("/api/v1/instances", headers=headers, params={"page": "1000000"})
    assert page.status_code == 200 and page.json()["data"]["items"] == []
