"""Per-principal limits of api.md §4.8 over HTTP: 429 RATE_LIMIT_EXCEEDED with Retry-After for the general budget,
password changes, connection tests of one instance (single and batch routes), exports and rule evaluation; each
request counts against one limit; counters shared through Redis (defect 17)."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from tests.fakes.sessions import RecordingQueueProvider, RecordingTaskQueue
from tests.integration.access.conftest import AccessApi, AccessFactory, redis_url
from tests.support.http_client import PASSWORD, data_of, error_of
from whalefall.domain.identity.roles import Role

INSTANCES = "/api/v1/instances"


def retry_after(response: Any, window_s: int) -> int:
    body = error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert body["success"] is False and body["details"] == []
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= window_s
    return seconds


async def bare_instance(api: AccessApi, name: str) -> int:
    """An instance without credential: its test answers CREDENTIAL_MISSING at once, without network."""
    return int(data_of(await api.client.post(INSTANCES, headers=await api.headers(Role.ADMIN), json={
        "name": name, "db_type": "postgresql", "host": f"{name}.example", "database_name": "postgres"}))["id"])


async def test_the_general_budget_is_per_principal(access_factory: AccessFactory) -> None:
    async with access_factory(WHALEFALL_RATELIMIT_REQUEST="3") as api:
        viewer, operator = await api.headers(Role.VIEWER), await api.headers(Role.OPERATOR)
        for _ in range(3):
            data_of(await api.client.get(INSTANCES, headers=viewer))
        retry_after(await api.client.get(INSTANCES, headers=viewer), 60)
        retry_after(await api.client.get("/api/v1/tags", headers=viewer), 60)   # any route of the budget
        data_of(await api.client.get(INSTANCES, headers=operator))             # another principal
        assert (await api.client.get("/api/v1/health/live")).status_code == 200  # public routes are not counted


async def test_zero_disables_the_general_budget(access_factory: AccessFactory) -> None:
    async with access_factory(WHALEFALL_RATELIMIT_REQUEST="0") as api:
        viewer = await api.headers(Role.VIEWER)
        for _ in range(5):
            data_of(await api.client.get(INSTANCES, headers=viewer))


async def test_password_changes_are_limited_per_user(access_factory: AccessFactory) -> None:
    async with access_factory(WHALEFALL_RATELIMIT_PASSWORD_CHANGE="2") as api:
        headers = await api.headers(Role.VIEWER)
        wrong = {"current_password": "Wrong-Password-99", "new_password": "Another-Secret-Pass-7"}
        for _ in range(2):
            error_of(await api.client.post("/api/v1/auth/password", headers=headers, json=wrong), 422,
                     "INVALID_CURRENT_PASSWORD")
        right = {"current_password": PASSWORD, "new_password": "Another-Secret-Pass-7"}
        assert retry_after(await api.client.post("/api/v1/auth/password", headers=headers, json=right), 3600) > 60
        data_of(await api.client.get("/api/v1/auth/me", headers=headers))  # other routes are unaffected


async def test_connection_tests_are_limited_per_instance_across_both_routes(access_factory: AccessFactory) -> None:
    queue = RecordingTaskQueue()
    async with access_factory(RecordingQueueProvider(queue), WHALEFALL_RATELIMIT_CONNECTION_TEST="2",
                              WHALEFALL_RATELIMIT_REQUEST="5") as api:
        first, second = await bare_instance(api, "first"), await bare_instance(api, "second")
        operator = await api.headers(Role.OPERATOR)
        for _ in range(2):
            result = data_of(await api.client.post(f"{INSTANCES}/{first}/actions/test-connection", headers=operator))
            assert result["error"]["code"] == "CREDENTIAL_MISSING"
        retry_after(await api.client.post(f"{INSTANCES}/{first}/actions/test-connection", headers=operator), 60)
        batch = f"{INSTANCES}/actions/test-connections"
        retry_after(await api.client.post(batch, headers=operator, json={"instance_ids": [second, first]}), 60)
        assert await api.rows("SELECT id FROM sync_sessions") == []       # a refused batch queues nothing
        # `second` spent one test in the refused batch; one more fits, then it is over too.
        assert (await api.client.post(batch, headers=operator, json={"instance_ids": [second]})).status_code == 202
        assert len(queue.enqueued) == 1
        retry_after(await api.client.post(f"{INSTANCES}/{second}/actions/test-connection", headers=operator), 60)
        # Seven connection-test requests, none of them in the general budget of 5.
        for _ in range(5):
            data_of(await api.client.get(INSTANCES, headers=operator))


async def test_exports_and_rule_evaluation_have_their_own_limits(access_factory: AccessFactory) -> None:
    async with access_factory(WHALEFALL_RATELIMIT_EXPORT="1", WHALEFALL_RATELIMIT_RULE_EVALUATION="1") as api:
        auditor = await api.headers(Role.AUDITOR)
        assert (await api.client.get(f"{INSTANCES}/exports", headers=auditor)).status_code == 200
        retry_after(await api.client.get("/api/v1/audit-events/exports", headers=auditor), 60)
        dry_run = {"draft": {"db_type": "mysql", "expression": {"op": "has_privilege", "args": ["SELECT"]}}}
        first = await api.client.post("/api/v1/rules/actions/dry-run", headers=auditor, json=dry_run)
        assert first.status_code != 429, first.text
        retry_after(await api.client.post("/api/v1/rules/actions/explain", headers=auditor, json={}), 60)
        data_of(await api.client.get(INSTANCES, headers=auditor))


async def test_api_tokens_are_principals_of_their_own(access_factory: AccessFactory) -> None:
    async with access_factory(WHALEFALL_RATELIMIT_REQUEST="4") as api:
        token = api.as_api_token(await api.api_token(Role.VIEWER, ["instances:read"]))  # the owner's 2 requests
        for _ in range(4):
            data_of(await api.client.get(INSTANCES, headers=token))
        retry_after(await api.client.get(INSTANCES, headers=token), 60)
        data_of(await api.client.get(INSTANCES, headers=await api.headers(Role.VIEWER)))


@pytest.mark.redis
async def test_two_api_processes_sharing_redis_share_the_budget(access_factory: AccessFactory,
                                                                redis_client: Redis) -> None:
    url = redis_url()
    async with access_factory(fresh_app=True, WHALEFALL_REDIS_URL=url, WHALEFALL_RATELIMIT_REQUEST="4") as first, \
            access_factory(fresh_app=True, WHALEFALL_REDIS_URL=url, WHALEFALL_RATELIMIT_REQUEST="4") as second:
        await first.create_user("shared", Role.VIEWER)
        login = await first.login("shared")
        headers = {"Authorization": f"Bearer {login['access_token']}"}
        for api in (first, second, first, second):
            data_of(await api.client.get(INSTANCES, headers=headers))
        retry_after(await first.client.get(INSTANCES, headers=headers), 60)
        assert await redis_client.keys("whalefall:rl:req:request:user:*")
