"""A refused connection to a real monitored server is counted in `whalefall_connector_errors_total` and exposed
at `/api/v1/metrics` with engine and error class only (operations.md §9: no instance or user names)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.connectors.conftest import pg_server
from tests.integration.connectors.test_connection_route import api, register, request_test
from tests.support.http_client import Api
from whalefall.domain.identity.roles import Role

__all__ = ["api"]  # the fixture, imported for this module


@pytest.mark.postgres
async def test_a_refused_login_is_counted_by_engine_and_class(api: Api, prefix: str, pg_admin: Any) -> None:
    server = pg_server()
    username = f"{prefix}_w3_nobody"
    instance_id = await register(api, "wf_w3_refused", db_type="postgresql", host=server.host, port=server.port,
                                 database="postgres", username=username)
    for _ in range(2):
        assert (await request_test(api, instance_id))["error"]["class"] == "AUTH_FAILED"
    text = (await api.client.get("/api/v1/metrics", headers=await api.headers(Role.AUDITOR))).text
    assert 'whalefall_connector_errors_total{db_type="postgresql",error_class="AUTH_FAILED"} 2.0' in text
    assert username not in text and "wf_w3_refused" not in text
