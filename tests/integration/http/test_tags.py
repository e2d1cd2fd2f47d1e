"""Tag routes and bulk actions with receipts (api.md §3.7; capacity.md §1.3, §12 E16, defect 14)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.http_client import Api, data_of, error_of
from whalefall.domain.identity.roles import Role


async def _instances(api: Api, headers: dict[str, str], count: int) -> list[int]:
    ids = []
    for n in range(count):
        response = await api.client.post("/api/v1/instances", headers=headers,
                                         json={"name": f"i{n}", "db_type": "mysql", "host": f"h{n}.example.com"})
        ids.append(int(data_of(response)["id"]))
    return ids


async def _tags(api: Api, headers: dict[str, str], count: int) -> list[int]:
    ids = []
    for n in range(count):
        response = await api.client.post("/api/v1/tags", headers=headers,
                                         json={"name": f"t{n}", "display_name": f"T{n}", "category": "env"})
        ids.append(int(data_of(response)["id"]))
    return ids


def _receipts(data: dict[str, Any]) -> list[tuple[int, int, str]]:
    return [(r["instance_id"], r["tag_id"], r["result"]) for r in data["receipts"]]


async def test_e16_bulk_assign_receipts(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    assert await _instances(api, op, 8) == list(range(1, 9))
    assert await _tags(api, op, 4) == [1, 2, 3, 4]
    data_of(await api.client.patch("/api/v1/instances/7", headers=op, json={"tags": [3]}))
    data = data_of(await api.client.post("/api/v1/tags/actions/bulk-assign", headers=op,
                                         json={"instance_ids": [7, 8, 99], "tag_ids": [3, 4]}))
    assert _receipts(data) == [(7, 3, "already_present"), (7, 4, "assigned"), (8, 3, "assigned"),
                               (8, 4, "assigned"), (99, 3, "missing_instance"), (99, 4, "missing_instance")]
    assert data["totals"] == {"assigned": 3, "already_present": 1, "missing_instance": 2, "missing_tag": 0}
    links = await api.rows("SELECT instance_id, tag_id FROM instance_tags ORDER BY instance_id, tag_id")
    assert [(r["instance_id"], r["tag_id"]) for r in links] == [(7, 3), (7, 4), (8, 3), (8, 4)]
    events = await api.rows("SELECT details FROM audit_events WHERE action = 'tag.bulk_assign'")
    assert len(events) == 1


async def test_bulk_assign_reports_missing_tags_deleted_instances_and_ignores_duplicates(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    first, second = await _instances(api, op, 2)
    [tag] = await _tags(api, op, 1)
    data_of(await api.client.delete(f"/api/v1/instances/{second}", headers=op))
    data = data_of(await api.client.post("/api/v1/tags/actions/bulk-assign", headers=op, json={
        "instance_ids": [first, first, second], "tag_ids": [tag, 555]}))
    assert _receipts(data) == [(first, tag, "assigned"), (first, 555, "missing_tag"),
                               (second, tag, "missing_instance"), (second, 555, "missing_instance")]


async def test_bulk_remove_and_clear(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    a, b = await _instances(api, op, 2)
    t1, t2 = await _tags(api, op, 2)
    data_of(await api.client.post("/api/v1/tags/actions/bulk-assign", headers=op,
                                  json={"instance_ids": [a, b], "tag_ids": [t1, t2]}))
    removed = data_of(await api.client.post("/api/v1/tags/actions/bulk-remove", headers=op,
                                            json={"instance_ids": [a], "tag_ids": [t1, t1, 777]}))
    assert _receipts(removed) == [(a, t1, "removed"), (a, 777, "missing_tag")]
    assert removed["totals"] == {"removed": 1, "not_present": 0, "missing_instance": 0, "missing_tag": 1}
    again = data_of(await api.client.post("/api/v1/tags/actions/bulk-remove", headers=op,
                                          json={"instance_ids": [a], "tag_ids": [t1]}))
    assert _receipts(again) == [(a, t1, "not_present")]
    cleared = data_of(await api.client.post("/api/v1/tags/actions/bulk-clear", headers=op,
                                            json={"instance_ids": [a, b, 404]}))
    assert cleared["receipts"] == [{"instance_id": a, "result": "cleared", "removed_count": 1},
                                   {"instance_id": b, "result": "cleared", "removed_count": 2},
                                   {"instance_id": 404, "result": "missing_instance", "removed_count": 0}]
    assert await api.rows("SELECT * FROM instance_tags") == []


async def test_empty_and_oversized_lists_are_400(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    body = error_of(await api.client.post("/api/v1/tags/actions/bulk-assign", headers=op,
                                          json={"instance_ids": [], "tag_ids": []}), 400, "VALIDATION_ERROR")
    assert sorted((d["field"], d["code"]) for d in body["details"]) == [
        ("body.instance_ids", "too_few_items"), ("body.tag_ids", "too_few_items")]
    body = error_of(await api.client.post("/api/v1/tags/actions/bulk-clear", headers=op, json={"instance_ids": []}),
                    400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in body["details"]] == [("body.instance_ids", "too_few_items")]
    body = error_of(await api.client.post("/api/v1/tags/actions/bulk-remove", headers=op,
                                          json={"instance_ids": list(range(1, 502)), "tag_ids": [1]}),
                    400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"], d["context"]) for d in body["details"]] == [
        ("body.instance_ids", "too_many_items", {"max": 500})]
    too_many_pairs = await api.client.post("/api/v1/tags/actions/bulk-assign", headers=op, json={
        "instance_ids": list(range(1, 202)), "tag_ids": list(range(1, 51))})
    error_of(too_many_pairs, 422, "UNPROCESSABLE")


async def test_delete_linked_tag_needs_force_and_force_needs_system_manage(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    admin = await api.headers(Role.ADMIN)
    [instance] = await _instances(api, op, 1)
    linked, free = await _tags(api, op, 2)
    data_of(await api.client.patch(f"/api/v1/instances/{instance}", headers=op, json={"tags": [linked]}))
    body = error_of(await api.client.delete(f"/api/v1/tags/{linked}", headers=op), 409, "TAG_IN_USE")
    assert body["details"][0]["context"] == {"link_count": 1}
    body = error_of(await api.client.delete(f"/api/v1/tags/{linked}?force=true", headers=op),
                    403, "PERMISSION_DENIED")
    assert body["details"][0]["context"] == {"permission": "system:manage"}
    assert data_of(await api.client.delete(f"/api/v1/tags/{free}", headers=op)) == {"id": free, "unlinked_count": 0}
    assert data_of(await api.client.delete(f"/api/v1/tags/{linked}?force=true", headers=admin)) == {
        "id": linked, "unlinked_count": 1}
    shown = data_of(await api.client.get(f"/api/v1/instances/{instance}", headers=op))
    assert shown["tags"] == []
    error_of(await api.client.get(f"/api/v1/tags/{linked}", headers=op), 404, "RESOURCE_NOT_FOUND")
    error_of(await api.client.delete(f"/api/v1/tags/{linked}?force=yes", headers=admin), 400, "VALIDATION_ERROR")


async def test_tag_crud_names_and_categories(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    created = data_of(await api.client.post("/api/v1/tags", headers=op,
                                            json={"name": "Prod", "display_name": "Production", "category": "ENV"}))
    assert created["category"] == "env" and created["instance_count"] == 0
    error_of(await api.client.post("/api/v1/tags", headers=op,
                                   json={"name": "prod", "display_name": "x", "category": "env"}),
             409, "ALREADY_EXISTS")
    bad = await api.client.post("/api/v1/tags", headers=op,
                                json={"name": "-bad", "display_name": " padded", "category": "env\n"})
    assert sorted(d["field"] for d in error_of(bad, 400, "VALIDATION_ERROR")["details"]) == [
        "body.category", "body.display_name", "body.name"]
    patched = data_of(await api.client.patch(f"/api/v1/tags/{created['id']}", headers=op,
                                             json={"is_active": False, "revision": created["revision"]}))
    assert patched["is_active"] is False and patched["revision"] == created["revision"] + 1
    categories = data_of(await api.client.get("/api/v1/tags/categories", headers=await api.headers("viewer")))
    assert categories["items"] == [{"category": "env", "tag_count": 1}]
    error_of(await api.client.post("/api/v1/tags", headers=await api.headers("viewer"),
                                   json={"name": "v", "display_name": "V", "category": "env"}),
             403, "PERMISSION_DENIED")


async def test_two_concurrent_assigns_of_one_pair(api: Api) -> None:
    """Exactly one `assigned` and one `already_present`, never an error (defect 14)."""
    op = await api.headers(Role.OPERATOR)
    admin = await api.headers(Role.ADMIN)
    for round_ in range(3):
        [instance] = await _instances(api, op, 1) if round_ == 0 else [instance]  # noqa: F821
        [tag] = await _tags(api, op, 1) if round_ == 0 else [tag]  # noqa: F821
        await api.client.post("/api/v1/tags/actions/bulk-clear", headers=op, json={"instance_ids": [instance]})
        payload = {"instance_ids": [instance], "tag_ids": [tag]}
        first, second = await asyncio.gather(
            api.client.post("/api/v1/tags/actions/bulk-assign", headers=op, json=payload),
            api.client.post("/api/v1/tags/actions/bulk-assign", headers=admin, json=payload))
        results = sorted(data_of(r)["receipts"][0]["result"] for r in (first, second))
        assert results == ["already_present", "assigned"]
        assert len(await api.rows("SELECT * FROM instance_tags")) == 1


async def test_names_with_a_trailing_newline_are_refused(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    response = await api.client.post("/api/v1/tags", headers=op,
                                     json={"name": "prod\n", "display_name": "Prod\n", "category": "env"})
    body = error_of(response, 400, "VALIDATION_ERROR")
    assert sorted((d["field"], d["code"]) for d in body["details"]) == [
        ("body.display_name", "invalid_format"), ("body.name", "invalid_format")]
