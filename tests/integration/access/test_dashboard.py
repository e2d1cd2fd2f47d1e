"""The dashboard read model (api.md §3.18, operations.md §7; api defect 7, operations defects 23 and 25): cached
sections, invalidated after instance writes, empty results cached, cache errors never fail the request."""

from __future__ import annotations

from dishka import Provider, Scope, provide
from sqlalchemy import insert

from tests.integration.access.conftest import AccessApi, AccessFactory
from tests.support.http_client import bearer, data_of, error_of
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.sessions import sync_sessions
from whalefall.application.dashboard.read_dashboard import SECTIONS
from whalefall.application.ports.cache import Cache, CacheUnavailableError
from whalefall.domain.identity.roles import Role

DASHBOARD = "/api/v1/dashboard"


class BrokenCache(Cache):
    async def get(self, key: str) -> str | None:
        raise CacheUnavailableError()

    async def set(self, key: str, value: str, *, ttl_s: int) -> None:
        raise CacheUnavailableError()

    async def delete(self, *keys: str) -> None:
        raise CacheUnavailableError()


class BrokenCacheProvider(Provider):
    scope = Scope.APP

    @provide(override=True)
    def cache(self) -> Cache:
        return BrokenCache()


async def test_a_viewer_reads_every_section_and_a_principal_without_the_permission_cannot(
        access_api: AccessApi) -> None:
    """API defect 7."""
    api = access_api
    data = data_of(await api.client.get(DASHBOARD, headers=await api.headers(Role.VIEWER)))
    assert tuple(data["sections"]) == SECTIONS
    assert all(section["computed_at"] == "2027-03-01T08:00:00Z" for section in data["sections"].values())
    assert data["sections"]["instances"] == {"computed_at": "2027-03-01T08:00:00Z", "total": 0, "active": 0,
                                             "inactive": 0, "deleted": 0, "by_db_type": {}, "by_flavor": {}}
    assert data["sections"]["logs"]["per_day"][0]["day"] == "2027-02-23"
    assert len(data["sections"]["logs"]["per_day"]) == 7
    token = await api.api_token(Role.VIEWER, ["instances:read"])
    body = error_of(await api.client.get(DASHBOARD, headers=bearer(token)), 403, "PERMISSION_DENIED")
    assert body["details"][0]["context"] == {"permission": "dashboard:read"}
    error_of(await api.client.get(f"{DASHBOARD}/instances", headers=bearer(token)), 403, "PERMISSION_DENIED")
    error_of(await api.client.get(DASHBOARD), 401, "AUTHENTICATION_REQUIRED")
    error_of(await api.client.get(f"{DASHBOARD}/weather", headers=await api.headers(Role.VIEWER)), 404,
             "RESOURCE_NOT_FOUND")


async def test_creating_an_instance_changes_the_next_dashboard_response_immediately(access_api: AccessApi) -> None:
    """Operations defect 23: writes invalidate the sections they feed, after commit."""
    api = access_api
    viewer = await api.headers(Role.VIEWER)
    operator = await api.headers(Role.OPERATOR)
    before = data_of(await api.client.get(DASHBOARD, headers=viewer))["sections"]
    assert before["instances"]["total"] == 0 and before["connectivity"]["contact"]["never"] == 0
    created = data_of(await api.client.post("/api/v1/instances", headers=operator, json={
        "name": "billing", "db_type": "postgresql", "host": "10.0.0.5"}))
    after = data_of(await api.client.get(DASHBOARD, headers=viewer))["sections"]
    assert after["instances"]["total"] == 1 and after["instances"]["by_db_type"] == {"postgresql": 1}
    assert after["connectivity"]["contact"] == {"ok": 0, "failed": 0, "never": 1}
    assert after["connectivity"]["last_sync"]["accounts_sync"] == {"completed": 0, "failed": 0, "never": 1}
    data_of(await api.client.delete(f"/api/v1/instances/{created['id']}", headers=operator))
    instances = data_of(await api.client.get(f"{DASHBOARD}/instances", headers=viewer))
    assert (instances["total"], instances["deleted"]) == (0, 1)


async def test_an_empty_section_is_served_from_the_cache(access_api: AccessApi) -> None:
    """Operations defect 25: zero results are cached like any other (a write that bypasses the API is not seen
    until invalidation or the TTL)."""
    api = access_api
    viewer = await api.headers(Role.VIEWER)
    first = data_of(await api.client.get(f"{DASHBOARD}/runs", headers=viewer))
    assert first == {"computed_at": "2027-03-01T08:00:00Z", "last_24h": {}, "running_now": 0, "last_nightly": None}
    api.clock.advance(seconds=30)
    await _insert_running_session(api)
    assert data_of(await api.client.get(f"{DASHBOARD}/runs", headers=viewer)) == first


async def _insert_running_session(api: AccessApi) -> None:
    database = await api.container.get(Database)
    async with database.connect() as connection:
        await connection.execute(insert(sync_sessions).values(
            id="00000000-0000-4000-8000-000000000001", kind="accounts_sync", scope="fleet", trigger="manual",
            status="running", created_at=api.clock.now(), params={}, summary={}))
        await connection.commit()


async def test_cache_errors_never_fail_the_request(access_factory: AccessFactory) -> None:
    async with access_factory(BrokenCacheProvider()) as api:
        viewer = await api.headers(Role.VIEWER)
        assert data_of(await api.client.get(DASHBOARD, headers=viewer))["sections"]["instances"]["total"] == 0
        data_of(await api.client.post("/api/v1/instances", headers=await api.headers(Role.OPERATOR), json={
            "name": "crm", "db_type": "mysql", "host": "10.0.0.9"}))
        assert data_of(await api.client.get(f"{DASHBOARD}/instances", headers=viewer))["total"] == 1
