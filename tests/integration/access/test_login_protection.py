"""Login throttling and lockout (api.md §4.8; defects 14 and 17): per-address limits, per-username lockout,
counters shared through Redis by every API process."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.integration.access.conftest import AccessApi, AccessFactory, peer, peers_from_header, redis_url
from tests.support.http_client import PASSWORD, bearer, data_of, error_of
from whalefall.domain.identity.roles import Role

LOGIN = "/api/v1/auth/login"


def _details(row: dict[str, Any]) -> dict[str, Any]:
    value = row["details"]
    return value if isinstance(value, dict) else json.loads(value)


async def test_five_failures_from_five_addresses_lock_the_username(access_api: AccessApi) -> None:
    api = access_api
    user = await api.create_user("mallory-target", Role.OPERATOR)
    tokens = await api.login("mallory-target")
    with peers_from_header(api.app):
        for n in range(1, 6):
            error_of(await api.client.post(LOGIN, headers=peer(f"10.0.0.{n}"), json={
                "username": "Mallory-Target", "password": "wrong-password"}), 401, "INVALID_CREDENTIALS")
        locked = await api.client.post(LOGIN, headers=peer("10.0.0.6"), json={
            "username": "mallory-target", "password": PASSWORD})
        body = error_of(locked, 429, "LOGIN_LOCKED")
        assert 890 <= int(locked.headers["retry-after"]) <= 900
        assert body["details"] == []
        session = await api.client.post("/api/v1/auth/session", headers=peer("10.0.0.7"), json={
            "username": "mallory-target", "password": PASSWORD})
        error_of(session, 429, "LOGIN_LOCKED")
    # The lockout does not end existing sessions.
    assert (await api.client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))).status_code == 200
    [row] = await api.rows("SELECT locked_until FROM users WHERE id = :id", id=user.id)
    assert row["locked_until"] is not None
    events = await api.rows("SELECT action, details FROM audit_events WHERE action IN "
                            "('auth.lockout', 'auth.login.failure') ORDER BY id")
    assert [e["action"] for e in events].count("auth.lockout") == 1
    assert [_details(e)["reason"] for e in events if e["action"] == "auth.login.failure"][-2:] == ["locked", "locked"]
    # An admin unlocks: locked_until and the counters are cleared, the password works again.
    admin = await api.headers(Role.ADMIN)
    unlocked = data_of(await api.client.post(f"/api/v1/users/{user.id}/actions/unlock", headers=admin))
    assert unlocked["locked_until"] is None
    data_of(await api.client.post(LOGIN, json={"username": "mallory-target", "password": PASSWORD}))


async def test_unknown_usernames_lock_exactly_like_existing_ones(access_api: AccessApi) -> None:
    api = access_api
    await api.create_user("known-user", Role.VIEWER)
    answers: dict[str, list[tuple[int, str]]] = {}
    for name in ("known-user", "ghost-user"):
        answers[name] = []
        for _ in range(6):
            response = await api.client.post(LOGIN, json={"username": name, "password": "nope-nope-nope"})
            answers[name].append((response.status_code, response.json()["code"]))
    assert answers["known-user"] == answers["ghost-user"]
    assert answers["ghost-user"][-1] == (429, "LOGIN_LOCKED")


async def test_a_success_resets_the_failure_count(access_api: AccessApi) -> None:
    api = access_api
    await api.create_user("forgetful", Role.VIEWER)
    for _ in range(4):
        error_of(await api.client.post(LOGIN, json={"username": "forgetful", "password": "x" * 12}), 401,
                 "INVALID_CREDENTIALS")
    await api.login("forgetful")
    for _ in range(4):
        error_of(await api.client.post(LOGIN, json={"username": "forgetful", "password": "x" * 12}), 401,
                 "INVALID_CREDENTIALS")
    await api.login("forgetful")


async def test_21_attempts_from_one_address_answer_429_with_retry_after(access_api: AccessApi) -> None:
    """Defects 14 and 17: 21 usernames from one address → the 21st is 429 RATE_LIMIT_EXCEEDED with Retry-After;
    browser logins share the counter; other addresses are not affected."""
    api = access_api
    with peers_from_header(api.app):
        for n in range(20):
            response = await api.client.post(LOGIN, headers=peer("192.0.2.10"), json={
                "username": f"user-{n}", "password": "wrong-password"})
            assert response.status_code == 401
        over = await api.client.post(LOGIN, headers=peer("192.0.2.10"), json={
            "username": "user-20", "password": "wrong-password"})
        body = error_of(over, 429, "RATE_LIMIT_EXCEEDED")
        assert body["success"] is False and body["request_id"] == over.headers["x-request-id"]
        assert 1 <= int(over.headers["retry-after"]) <= 300
        error_of(await api.client.post("/api/v1/auth/session", headers=peer("192.0.2.10"), json={
            "username": "user-21", "password": "wrong-password"}), 429, "RATE_LIMIT_EXCEEDED")
        error_of(await api.client.post(LOGIN, headers=peer("192.0.2.11"), json={
            "username": "user-22", "password": "wrong-password"}), 401, "INVALID_CREDENTIALS")


async def test_refresh_is_limited_per_address(access_factory: AccessFactory) -> None:
    async with access_factory(WHALEFALL_AUTH_REFRESH_RATE_LIMIT="3") as api:
        for _ in range(3):
            error_of(await api.client.post("/api/v1/auth/refresh", json={"refresh_token": "wfr_nothing"}), 401,
                     "TOKEN_INVALID")
        over = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": "wfr_nothing"})
        error_of(over, 429, "RATE_LIMIT_EXCEEDED")
        assert int(over.headers["retry-after"]) <= 60


async def test_trusted_proxy_forwards_the_client_address(access_factory: AccessFactory) -> None:
    """Behind a trusted proxy the right-most untrusted X-Forwarded-For entry is the client; a spoofed entry to
    its left does not buy a new counter."""
    async with access_factory(WHALEFALL_AUTH_LOGIN_RATE_LIMIT="2", WHALEFALL_TRUSTED_PROXIES="10.9.0.0/16") as api:
        with peers_from_header(api.app):
            for spoof in ("1.1.1.1", "2.2.2.2"):
                assert (await api.client.post(LOGIN, headers={**peer("10.9.0.1"), "X-Forwarded-For":
                                                              f"{spoof}, 203.0.113.5"},
                                              json={"username": "a-user", "password": "x" * 12})).status_code == 401
            error_of(await api.client.post(LOGIN, headers={**peer("10.9.0.1"), "X-Forwarded-For": "203.0.113.5"},
                                           json={"username": "a-user", "password": "x" * 12}), 429,
                     "RATE_LIMIT_EXCEEDED")
            assert (await api.client.post(LOGIN, headers={**peer("10.9.0.1"), "X-Forwarded-For": "203.0.113.6"},
                                          json={"username": "b-user", "password": "x" * 12})).status_code == 401


@pytest.mark.redis
async def test_two_api_processes_sharing_redis_share_the_counters(access_factory: AccessFactory,
                                                                  redis_client: Redis) -> None:
    url = redis_url()
    async with access_factory(fresh_app=True, WHALEFALL_REDIS_URL=url) as first, \
            access_factory(fresh_app=True, WHALEFALL_REDIS_URL=url) as second:
        await first.create_user("shared-target", Role.VIEWER)
        for api in (first, first, first, second, second):
            error_of(await api.client.post(LOGIN, json={"username": "shared-target", "password": "x" * 12}), 401,
                     "INVALID_CREDENTIALS")
        error_of(await first.client.post(LOGIN, json={"username": "shared-target", "password": PASSWORD}), 429,
                 "LOGIN_LOCKED")
        keys = await redis_client.keys("whalefall:rl:login:*")
        assert keys
        # The per-address limit is shared too: 20 attempts split between the processes, the 21st refused.
        for n in range(14):
            api = first if n % 2 else second
            await api.client.post(LOGIN, json={"username": f"spray-{n}", "password": "x" * 12})
        error_of(await second.client.post(LOGIN, json={"username": "spray-x", "password": "x" * 12}), 429,
                 "RATE_LIMIT_EXCEEDED")
