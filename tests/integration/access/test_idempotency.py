"""Idempotency keys (api.md §1.14) through the real app and store: replay, reuse, in progress, which answers are
stored, key validation, expiry and purge, and a second API process sharing the keys through the metadata store."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import insert

from tests.integration.access.conftest import AccessApi, AccessFactory
from tests.support.http_client import bearer, data_of, error_of
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.idempotency import SqlAlchemyIdempotencyStore
from whalefall.adapters.persistence.tables.access import idempotency_keys
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.idempotency.keys import fingerprint, scope_digest
from whalefall.application.idempotency.purge_expired_keys import PurgeExpiredIdempotencyKeys
from whalefall.application.ports.idempotency import IdempotencyClaim
from whalefall.domain.identity.roles import Role

TAGS = "/api/v1/tags"
KEY = "Idempotency-Key"


def _tag(name: str) -> dict[str, str]:
    return {"name": name, "display_name": name, "category": "env"}


async def _tag_names(api: AccessApi) -> list[str]:
    return [row["name"] for row in await api.rows("SELECT name FROM tags ORDER BY name")]


async def test_a_repeated_create_is_replayed_unchanged_and_runs_once(access_api: AccessApi) -> None:
    api = access_api
    headers = {**await api.headers(Role.OPERATOR), KEY: "create-env-prod-1"}
    first = await api.client.post(TAGS, headers=headers, json=_tag("env-prod"))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    api.clock.advance(seconds=5)
    second = await api.client.post(TAGS, headers=headers, json=_tag("env-prod"))
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content  # the stored body, timestamp included
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["content-type"].startswith("application/json")
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert await _tag_names(api) == ["env-prod"]
    events = await api.rows("SELECT action FROM audit_events WHERE action = 'tag.create'")
    assert len(events) == 1


async def test_the_same_key_with_another_request_is_refused(access_api: AccessApi) -> None:
    api = access_api
    headers = {**await api.headers(Role.OPERATOR), KEY: "k-1"}
    data_of(await api.client.post(TAGS, headers=headers, json=_tag("first")))
    body = error_of(await api.client.post(TAGS, headers=headers, json=_tag("second")), 422,
                    "IDEMPOTENCY_KEY_REUSED")
    assert body["details"][0]["field"] == "header.Idempotency-Key"
    error_of(await api.client.post(f"{TAGS}?x=1", headers=headers, json=_tag("first")), 422,
             "IDEMPOTENCY_KEY_REUSED")
    assert await _tag_names(api) == ["first"]


async def test_keys_are_scoped_to_the_principal_and_the_route(access_api: AccessApi) -> None:
    api = access_api
    operator = {**await api.headers(Role.OPERATOR), KEY: "shared"}
    admin = {**await api.headers(Role.ADMIN), KEY: "shared"}
    data_of(await api.client.post(TAGS, headers=operator, json=_tag("by-operator")))
    response = await api.client.post(TAGS, headers=admin, json=_tag("by-admin"))
    assert response.status_code == 201 and "idempotent-replayed" not in response.headers
    assert await _tag_names(api) == ["by-admin", "by-operator"]
    # The same user through a refreshed access token is the same principal: the answer is replayed.
    fresh = bearer((await api.login("operator-user"))["access_token"])
    replay = await api.client.post(TAGS, headers={**fresh, KEY: "shared"}, json=_tag("by-operator"))
    assert replay.headers["idempotent-replayed"] == "true"


async def test_a_key_whose_first_request_is_running_answers_409(access_api: AccessApi) -> None:
    """The first request's claim is written as another process would have left it; once its lock lapses
    (300 s, a crashed process) the key is taken over."""
    api = access_api
    headers = {**await api.headers(Role.OPERATOR), KEY: "slow-one"}
    body = b'{"name":"slow","display_name":"slow","category":"env"}'
    user_id = api.user(Role.OPERATOR).id
    database = await api.container.get(Database)
    now = api.clock.now()
    async with database.connect() as connection:
        await connection.execute(insert(idempotency_keys).values(
            scope_digest=scope_digest(principal=f"user:{user_id}", method="POST", route=TAGS, path_params={},
                                      key="slow-one"),
            fingerprint=fingerprint(method="POST", path=TAGS, query_string="", body=body),
            principal=f"user:{user_id}", method="POST", route=TAGS, state="in_progress", created_at=now,
            locked_until=now + timedelta(seconds=300), expires_at=now + timedelta(days=1)))
        await connection.commit()
    sent = {**headers, "Content-Type": "application/json"}
    error_of(await api.client.post(TAGS, headers=sent, content=body), 409, "IDEMPOTENCY_IN_PROGRESS")
    assert await _tag_names(api) == []
    api.clock.advance(seconds=301)
    response = await api.client.post(TAGS, headers=sent, content=body)
    assert response.status_code == 201 and "idempotent-replayed" not in response.headers
    assert await _tag_names(api) == ["slow"]


async def test_4xx_answers_are_stored_but_401_and_403_are_not(access_api: AccessApi) -> None:
    api = access_api
    operator = await api.headers(Role.OPERATOR)
    data_of(await api.client.post(TAGS, headers=operator, json=_tag("taken")))
    conflict = await api.client.post(TAGS, headers={**operator, KEY: "dup"}, json=_tag("taken"))
    error_of(conflict, 409, "ALREADY_EXISTS")
    invalid = await api.client.post(TAGS, headers={**operator, KEY: "bad-body"}, json={"name": 5})
    error_of(invalid, 400, "VALIDATION_ERROR")
    stored = await api.rows("SELECT status_code FROM idempotency_keys ORDER BY status_code")
    assert [row["status_code"] for row in stored] == [400, 409]
    again = await api.client.post(TAGS, headers={**operator, KEY: "dup"}, json=_tag("taken"))
    assert again.status_code == 409 and again.headers["idempotent-replayed"] == "true"
    assert again.content == conflict.content
    viewer = {**await api.headers(Role.VIEWER), KEY: "denied"}
    error_of(await api.client.post(TAGS, headers=viewer, json=_tag("x")), 403, "PERMISSION_DENIED")
    error_of(await api.client.post(TAGS, headers={KEY: "anonymous"}, json=_tag("x")), 401,
             "AUTHENTICATION_REQUIRED")
    assert len(await api.rows("SELECT scope_digest FROM idempotency_keys")) == 2


async def test_a_malformed_key_is_a_validation_problem_with_the_header_path(access_api: AccessApi) -> None:
    api = access_api
    operator = await api.headers(Role.OPERATOR)
    for key, code in (("x" * 129, "too_long"), ("has space", "invalid_format"), ("a/b", "invalid_format")):
        body = error_of(await api.client.post(TAGS, headers={**operator, KEY: key},
                                              json={**_tag("ok"), "colour": "red"}), 400, "VALIDATION_ERROR")
        problems = {(d["field"], d["code"]) for d in body["details"]}
        assert ("header.Idempotency-Key", code) in problems and ("body.colour", "unknown_field") in problems
    assert await _tag_names(api) == []
    # Routes that ignore the header ignore a malformed one too (api.md §1.14: login, PATCH…).
    response = await api.client.post("/api/v1/auth/login", headers={KEY: "has space"},
                                     json={"username": "operator-user", "password": "Correct-Horse-Battery-9"})
    assert response.status_code == 200


async def test_keys_expire_after_24_hours_and_are_purged(access_factory: AccessFactory) -> None:
    async with access_factory(WHALEFALL_IDEMPOTENCY_TTL_S="3600") as api:
        headers = {**await api.headers(Role.OPERATOR), KEY: "hourly"}
        data_of(await api.client.post(TAGS, headers=headers, json=_tag("one")))
        api.clock.advance(seconds=3601)
        headers = {**bearer((await api.login("operator-user"))["access_token"]), KEY: "hourly"}
        response = await api.client.post(TAGS, headers=headers, json=_tag("two"))
        assert response.status_code == 201 and "idempotent-replayed" not in response.headers
        data_of(await api.client.post(TAGS, headers={**headers, KEY: "other"}, json=_tag("three")))
        api.clock.advance(seconds=3601)
        async with api.container() as scope:
            purge = await scope.get(PurgeExpiredIdempotencyKeys)
            outcome = await purge.execute()
        assert (outcome.deleted, outcome.complete) == (2, True)
        assert await api.rows("SELECT scope_digest FROM idempotency_keys") == []


async def test_a_second_api_process_replays_what_the_first_stored(access_factory: AccessFactory) -> None:
    """The metadata store is the shared state: no per-process memory is involved."""
    async with access_factory(fresh_app=True) as first:
        headers = {**await first.headers(Role.OPERATOR), KEY: "two-processes"}
        created: Any = await first.client.post(TAGS, headers=headers, json=_tag("shared"))
        assert created.status_code == 201
        async with access_factory(fresh_app=True) as second:
            replay = await second.client.post(TAGS, headers=headers, json=_tag("shared"))
            assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
            assert replay.content == created.content
        assert await _tag_names(first) == ["shared"]


async def test_the_schema_documents_the_header_on_creating_posts_only(access_api: AccessApi) -> None:
    api = access_api
    schema = (await api.client.get("/api/v1/schema/openapi.json")).json()
    names = {path: [p["name"] for p in item["post"].get("parameters", [])]
             for path, item in schema["paths"].items() if "post" in item}
    assert KEY in names["/api/v1/tags"]
    assert KEY in names["/api/v1/users/{user_id}/actions/revoke-sessions"]
    assert KEY not in names["/api/v1/auth/login"]
    assert all(KEY not in names[p] for p in names if p.startswith("/api/v1/auth/"))


async def test_two_concurrent_claims_of_one_key_yield_exactly_one_owner(access_api: AccessApi) -> None:
    """Two API processes racing on one key: the store's insert-if-absent lets exactly one run the request."""
    database = await access_api.container.get(Database)
    now = access_api.clock.now()
    claim = IdempotencyClaim(scope_digest="d" * 64, fingerprint="f" * 64, principal="user:1", method="POST",
                             route=TAGS, now=now, locked_until=now + timedelta(seconds=300),
                             expires_at=now + timedelta(days=1))
    units = [SqlAlchemyUnitOfWork(database) for _ in range(4)]
    try:
        outcomes = await asyncio.gather(*(SqlAlchemyIdempotencyStore(uow).claim(claim) for uow in units))
    finally:
        for uow in units:
            await uow.close()
    assert sorted(o.result.value for o in outcomes) == ["claimed", "in_progress", "in_progress", "in_progress"]
