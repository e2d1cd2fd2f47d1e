"""Dashboard freshness across API replicas (operations.md §12 defect 23, "on another replica"): two API processes
share the metadata store and Redis; a write through one changes the next dashboard response of the other."""

from __future__ import annotations

from redis.asyncio import Redis

from tests.integration.access.conftest import AccessFactory, redis_client, redis_url  # noqa: F401  (fixture)
from tests.support.http_client import data_of
from whalefall.domain.identity.roles import Role

DASHBOARD = "/api/v1/dashboard"


async def test_defect_23_a_write_on_one_replica_changes_the_next_dashboard_of_another(
        access_factory: AccessFactory, redis_client: Redis) -> None:  # noqa: F811
    """Operations defect 23: the replica that did not take the write has the old figures cached and still answers
    the new ones at once; a deleted instance then counts only as `deleted` there."""
    url = redis_url()
    async with access_factory(fresh_app=True, WHALEFALL_REDIS_URL=url) as writer, \
            access_factory(fresh_app=True, WHALEFALL_REDIS_URL=url) as reader:
        operator, viewer = await writer.headers(Role.OPERATOR), await reader.headers(Role.VIEWER)
        before = data_of(await reader.client.get(DASHBOARD, headers=viewer))["sections"]  # warms the cache
        assert before["instances"]["total"] == 0

        created = data_of(await writer.client.post("/api/v1/instances", headers=operator, json={
            "name": "w1replica", "db_type": "postgresql", "host": "10.0.0.9"}))
        after = data_of(await reader.client.get(DASHBOARD, headers=viewer))["sections"]
        assert after["instances"]["total"] == 1

        data_of(await writer.client.delete(f"/api/v1/instances/{created['id']}", headers=operator))
        instances = data_of(await reader.client.get(f"{DASHBOARD}/instances", headers=viewer))
        assert (instances["total"], instances["deleted"]) == (0, 1)
