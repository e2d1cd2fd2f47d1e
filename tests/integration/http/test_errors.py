"""Error envelope, request ids, validation of everything at once, routing errors, media types, body limits and
unexpected failures (api.md §1.3–1.7; defects 20, 21, 23, 24, 26)."""

from __future__ import annotations

import re

import pytest

from tests.support.http_client import Api, error_of
from whalefall.application.instances.instance_queries import ListInstances
from whalefall.domain.identity.roles import Role

ERROR_KEYS = {"success", "error", "message", "timestamp", "code", "details", "request_id"}
GENERATED_ID = re.compile(r"^req_[0-9a-f]{32}$")


def _check_shape(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == ERROR_KEYS
    assert body["success"] is False and body["error"] is True
    assert response.headers["X-Request-ID"] == body["request_id"]  # type: ignore[attr-defined]
    assert str(body["timestamp"]).endswith("Z")
    return body  # type: ignore[no-any-return]


async def test_every_error_has_the_envelope_and_the_request_id(api: Api) -> None:
    viewer = await api.headers(Role.VIEWER)
    responses = [
        await api.client.get("/api/v1/no-such-route"),
        await api.client.delete("/api/v1/health/live"),
        await api.client.get("/api/v1/instances"),
        await api.client.post("/api/v1/tags", headers=viewer, json={}),
        await api.client.get("/api/v1/instances/31337", headers=viewer),
        await api.client.get("/api/v1/instances?limit=201", headers=viewer),
        await api.client.post("/api/v1/auth/login", json={"username": "x", "password": "y"}),
    ]
    codes = [_check_shape(r)["code"] for r in responses]
    assert codes == ["ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED", "AUTHENTICATION_REQUIRED", "PERMISSION_DENIED",
                     "RESOURCE_NOT_FOUND", "VALIDATION_ERROR", "INVALID_CREDENTIALS"]
    assert [r.status_code for r in responses] == [404, 405, 401, 403, 404, 400, 401]
    assert all(GENERATED_ID.match(r.headers["X-Request-ID"]) for r in responses)
    assert len({r.headers["X-Request-ID"] for r in responses}) == len(responses)


async def test_method_not_allowed_sets_allow(api: Api) -> None:
    response = await api.client.put("/api/v1/instances", json={})
    _check_shape(response)
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


@pytest.mark.parametrize(("sent", "echoed"), [("client-123.a:b_c", True), ("-leading-dash", False),
                                              ("x" * 129, False), ("has space", False)])
async def test_client_request_ids_are_reused_only_when_well_formed(api: Api, sent: str, echoed: bool) -> None:
    response = await api.client.get("/api/v1/nowhere", headers={"X-Request-ID": sent})
    body = _check_shape(response)
    assert (body["request_id"] == sent) is echoed
    if not echoed:
        assert GENERATED_ID.match(str(body["request_id"]))
    success = await api.client.get("/api/v1/health/live", headers={"X-Request-ID": sent})
    assert (success.headers["X-Request-ID"] == sent) is echoed


async def test_three_bad_body_fields_and_a_bad_query_parameter_are_one_400_with_four_details(api: Api) -> None:
    """Defect 23."""
    op = await api.headers(Role.OPERATOR)
    response = await api.client.post("/api/v1/instances?colour=blue", headers=op, json={
        "name": "ok-name", "db_type": "db2", "host": "h.example.com", "port": 0, "is_active": "yes"})
    body = error_of(response, 400, "VALIDATION_ERROR")
    assert sorted((d["field"], d["code"]) for d in body["details"]) == [
        ("body.db_type", "invalid_choice"), ("body.is_active", "invalid_type"), ("body.port", "too_small"),
        ("query.colour", "unknown_parameter")]
    port = next(d for d in body["details"] if d["field"] == "body.port")
    assert port["context"] == {"min": 1}
    assert await api.rows("SELECT id FROM instances") == []


async def test_unknown_missing_and_null_fields(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    response = await api.client.post("/api/v1/instances", headers=op,
                                     json={"colour": "red", "db_type": None, "id": 5, "tags": [1, "x", None]})
    body = error_of(response, 400, "VALIDATION_ERROR")
    assert sorted((d["field"], d["code"]) for d in body["details"]) == [
        ("body.colour", "unknown_field"), ("body.db_type", "null_not_allowed"), ("body.host", "required"),
        ("body.id", "read_only"), ("body.name", "required"), ("body.tags[2]", "null_not_allowed")]


async def test_bad_json_and_wrong_shapes(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    broken = await api.client.post("/api/v1/tags", headers={**op, "Content-Type": "application/json"},
                                   content=b'{"name": ')
    assert [(d["field"], d["code"]) for d in error_of(broken, 400, "VALIDATION_ERROR")["details"]] == [
        ("body", "invalid_json")]
    array = await api.client.post("/api/v1/tags", headers=op, json=[1, 2])
    assert [(d["field"], d["code"]) for d in error_of(array, 400, "VALIDATION_ERROR")["details"]] == [
        ("body", "invalid_type")]
    empty = await api.client.post("/api/v1/tags", headers=op)
    assert [(d["field"], d["code"]) for d in error_of(empty, 400, "VALIDATION_ERROR")["details"]] == [
        ("body", "required")]
    lenient = await api.client.get("/api/v1/tags?is_active=yes", headers=op)
    assert [(d["field"], d["code"]) for d in error_of(lenient, 400, "VALIDATION_ERROR")["details"]] == [
        ("query.is_active", "invalid_type")]


async def test_non_json_is_415_and_big_bodies_are_413(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    form = await api.client.post("/api/v1/tags", headers={**op, "Content-Type": "application/x-www-form-urlencoded"},
                                 content=b"name=x")
    _check_shape(form)
    error_of(form, 415, "UNSUPPORTED_MEDIA_TYPE")
    big = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'
    response = await api.client.post("/api/v1/tags", headers={**op, "Content-Type": "application/json"},
                                     content=big)
    _check_shape(response)
    error_of(response, 413, "PAYLOAD_TOO_LARGE")
    assert "aaaa" not in response.text


async def test_a_route_without_body_refuses_one(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    response = await api.client.post("/api/v1/instances/1/actions/restore", headers=op,
                                     json={"host": "evil.example.com"})
    assert [(d["field"], d["code"]) for d in error_of(response, 400, "VALIDATION_ERROR")["details"]] == [
        ("body", "unknown_field")]


async def test_an_unexpected_error_is_a_generic_500(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 20: no exception text, SQL, URL or client details in the body."""

    async def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("SELECT secret FROM x WHERE password = 'hunter2'")

    monkeypatch.setattr(ListInstances, "execute", explode)
    viewer = await api.headers(Role.VIEWER)
    response = await api.client.get("/api/v1/instances?q=needle", headers={**viewer, "User-Agent": "agent-007"})
    body = _check_shape(response)
    error_of(response, 500, "INTERNAL_ERROR")
    assert body["message"] == "An unexpected error occurred" and body["details"] == []
    for leaked in ("SELECT", "secret", "hunter2", "RuntimeError", "needle", "/api/v1/instances", "agent-007",
                   "127.0.0.1", "testclient"):
        assert leaked not in response.text
