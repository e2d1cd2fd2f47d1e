"""`/api/v1/metrics` exposes the dashboard cache requests and the capacity gauges (operations.md §9), computed
from the same figures as the dashboard's capacity section."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import update

from tests.integration.access.conftest import AccessApi
from tests.integration.logs.test_metrics_api import assert_valid_exposition
from tests.support.http_client import data_of
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.application.dashboard.read_dashboard import SECTIONS
from whalefall.domain.identity.roles import Role


def sample(text: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{series} is not exposed"
    return float(found.group(1))


async def test_cache_requests_and_capacity_gauges_are_scraped(access_api: AccessApi) -> None:
    api = access_api
    operator, viewer, auditor = (await api.headers(Role.OPERATOR), await api.headers(Role.VIEWER),
                                 await api.headers(Role.AUDITOR))
    for number, collected_on in enumerate((date(2027, 2, 20), date(2027, 3, 1), None)):
        created = data_of(await api.client.post("/api/v1/instances", headers=operator, json={
            "name": f"wf_w3_{number}", "db_type": "postgresql", "host": f"10.0.0.{number + 5}"}))
        database = await api.container.get(Database)
        async with database.connect() as connection:
            await connection.execute(update(instances).where(instances.c.id == created["id"]).values(
                last_capacity_collected_on=collected_on))
            await connection.commit()
    first = data_of(await api.client.get("/api/v1/dashboard", headers=viewer))["sections"]
    second = data_of(await api.client.get("/api/v1/dashboard", headers=viewer))["sections"]
    assert first == second
    assert (first["capacity"]["stale"], first["capacity"]["never"]) == (1, 1)
    text = (await api.client.get("/api/v1/metrics", headers=auditor)).text
    assert_valid_exposition(text)
    assert sample(text, 'whalefall_cache_requests_total{cache="dashboard",result="miss"}') == len(SECTIONS)
    assert sample(text, 'whalefall_cache_requests_total{cache="dashboard",result="hit"}') == len(SECTIONS)
    assert 'result="error"' not in text
    assert sample(text, "whalefall_capacity_stale_instances") == first["capacity"]["stale"] == 1
    assert sample(text, "whalefall_capacity_fleet_bytes") == first["capacity"]["fleet_total_bytes"] == 0
    assert sample(text, "whalefall_capacity_incomplete_instances") == 0
    assert "# TYPE whalefall_capacity_fleet_bytes gauge" in text
