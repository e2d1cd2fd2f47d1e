"""Idempotency key rules (api.md §1.14): key format, scope and fingerprint, which answers are stored, purge."""

from __future__ import annotations

import pytest

from tests.fakes.idempotency import InMemoryIdempotencyStore
from tests.fakes.sessions import SettableClock
from whalefall.application.idempotency.keys import (
    BeginIdempotentRequest,
    ClaimedKey,
    FinishIdempotentRequest,
    IdempotentRequest,
    fingerprint,
    is_stored,
    key_problems,
    principal_of,
    scope_digest,
)
from whalefall.application.idempotency.purge_expired_keys import PurgeExpiredIdempotencyKeys
from whalefall.application.ports.idempotency import (
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    StoredResponse,
)
from whalefall.application.shared.actor import Actor, ActorType, AuthMethod
from whalefall.domain.identity.roles import Role


@pytest.mark.parametrize(("value", "codes"), [
    (None, []), ("a", []), ("A-z_0.9:x", []), ("k" * 128, []), ("", ["too_short"]), ("k" * 129, ["too_long"]),
    ("with space", ["invalid_format"]), ("a/b", ["invalid_format"]), ("é", ["invalid_format"]),
])
def test_key_format(value: str | None, codes: list[str]) -> None:
    problems = key_problems(value)
    assert [p.code for p in problems] == codes
    assert all(p.field == "header.Idempotency-Key" for p in problems)


def test_the_fingerprint_sorts_the_query_and_covers_every_part() -> None:
    base = fingerprint(method="POST", path="/api/v1/tags", query_string="b=2&a=1", body=b"{}")
    assert base == fingerprint(method="post", path="/api/v1/tags", query_string="a=1&b=2", body=b"{}")
    assert len({base, fingerprint(method="POST", path="/api/v1/tags", query_string="a=1&b=2", body=b"{ }"),
                fingerprint(method="POST", path="/api/v1/tag", query_string="a=1&b=2", body=b"{}"),
                fingerprint(method="POST", path="/api/v1/tags", query_string="a=1", body=b"{}")}) == 4
    # Length-prefixed parts: moving bytes from one part to the next changes the digest.
    assert fingerprint(method="POST", path="/a", query_string="", body=b"b") != fingerprint(
        method="POST", path="/ab", query_string="", body=b"")


def test_the_scope_separates_principals_routes_and_path_parameters() -> None:
    def digest(principal: str = "user:1", route: str = "/x/{id}", params: dict[str, object] | None = None) -> str:
        return scope_digest(principal=principal, method="POST", route=route, path_params=params or {"id": 1},
                            key="k")

    assert len({digest(), digest(principal="user:2"), digest(route="/y/{id}"), digest(params={"id": 2})}) == 4
    user = Actor.for_user(user_id=7, username="u", role=Role.ADMIN, auth_method=AuthMethod.SESSION)
    token = Actor(actor_type=ActorType.API_TOKEN, name="u/abc", user_id=7, token_id="3",
                  auth_method=AuthMethod.API_TOKEN)
    assert (principal_of(user), principal_of(token)) == ("user:7", "api_token:3")


@pytest.mark.parametrize(("status", "stored"), [
    (200, True), (201, True), (202, True), (400, True), (404, True), (409, True), (413, True), (422, True),
    (401, False), (403, False), (429, False), (500, False), (503, False),
])
def test_which_answers_are_stored(status: int, stored: bool) -> None:
    assert is_stored(status) is stored


def _request(body: bytes = b"{}") -> IdempotentRequest:
    actor = Actor.for_user(user_id=1, username="u", role=Role.ADMIN, auth_method=AuthMethod.ACCESS_TOKEN)
    return IdempotentRequest(actor=actor, key="k", method="POST", route="/api/v1/tags", path="/api/v1/tags",
                             path_params={}, query_string="", body=body)


async def test_a_5xx_frees_the_key_and_a_2xx_is_replayed() -> None:
    store, clock = InMemoryIdempotencyStore(), SettableClock()
    begin, finish = BeginIdempotentRequest(store, clock), FinishIdempotentRequest(store, clock)
    claimed = await begin.execute(_request())
    assert isinstance(claimed, ClaimedKey)
    with pytest.raises(IdempotencyInProgressError):
        await begin.execute(_request())
    with pytest.raises(IdempotencyKeyReusedError):
        await begin.execute(_request(b'{"other": 1}'))
    await finish.execute(claimed, 503, {"content-type": "application/json"}, b"down")
    retried = await begin.execute(_request())
    assert isinstance(retried, ClaimedKey)
    await finish.execute(retried, 201, {"Location": "/api/v1/tags/1", "X-Request-ID": "req_1",
                                        "content-type": "application/json"}, b"created")
    assert await begin.execute(_request()) == StoredResponse(
        status=201, headers={"location": "/api/v1/tags/1", "content-type": "application/json"}, body=b"created")


async def test_purge_deletes_only_expired_keys_in_batches() -> None:
    store, clock = InMemoryIdempotencyStore(), SettableClock()
    begin = BeginIdempotentRequest(store, clock, ttl_s=60)
    for key in ("a", "b", "c"):
        await begin.execute(IdempotentRequest(actor=_request().actor, key=key, method="POST", route="/r", path="/r",
                                              path_params={}, query_string="", body=b""))
    clock.advance(30)
    await begin.execute(_request())
    clock.advance(31)
    outcome = await PurgeExpiredIdempotencyKeys(store, clock, batch_size=2).execute()
    assert (outcome.deleted, outcome.batches, outcome.complete) == (3, 2, True)
    assert len(store.rows) == 1
