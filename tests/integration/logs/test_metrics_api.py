"""GET /metrics (api.md §3.1, operations.md §9): permission, Prometheus text 0.0.4, HTTP histogram by template."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from tests.support.http_client import Api, error_of, make_settings, running_api
from whalefall.domain.identity.roles import Role

SAMPLE: Final = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
                           r"(-?[0-9.e+-]+|\+Inf|-Inf|NaN)$")
COMMENT: Final = re.compile(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$")


def assert_valid_exposition(text: str) -> None:
    assert text.endswith("\n")
    for line in text.splitlines():
        assert SAMPLE.match(line) or COMMENT.match(line), line


async def test_metrics_need_metrics_read(api: Api) -> None:
    error_of(await api.client.get("/api/v1/metrics"), 401, "AUTHENTICATION_REQUIRED")
    body = error_of(await api.client.get("/api/v1/metrics", headers=await api.headers(Role.VIEWER)), 403,
                    "PERMISSION_DENIED")
    assert body["details"][0]["context"] == {"permission": "metrics:read"}
    for role in (Role.OPERATOR, Role.AUDITOR, Role.ADMIN):
        response = await api.client.get("/api/v1/metrics", headers=await api.headers(role))
        assert response.status_code == 200, response.text


async def test_exposition_is_valid_and_labels_requests_by_route_template(api: Api) -> None:
    headers = await api.headers(Role.AUDITOR)
    for log_id in (1, 2, 3):
        await api.client.get(f"/api/v1/logs/{log_id}", headers=headers)
    await api.client.get("/api/v1/no-such-route", headers=headers)
    response = await api.client.get("/api/v1/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert_valid_exposition(text)
    assert "# TYPE whalefall_http_request_duration_seconds histogram" in text
    assert ('whalefall_http_requests_total{method="GET",route="/api/v1/logs/{log_id}",status="404"} 3.0'
            in text)
    assert 'whalefall_http_request_duration_seconds_bucket{method="GET",route="/api/v1/logs/{log_id}",' \
           'status="404",le="+Inf"} 3.0' in text
    assert 'whalefall_http_request_duration_seconds_count{method="GET",route="/api/v1/logs/{log_id}",' \
           'status="404"} 3.0' in text
    assert 'route="unmatched"' in text
    assert "/logs/1" not in text
    assert 'whalefall_log_events_dropped_total{reason="queue_full"} 0.0' in text
    assert "whalefall_log_queue_depth 0.0" in text
    assert 'whalefall_instances{db_type="postgresql",status="active"} 0.0' in text
    assert 'whalefall_login_attempts_total{outcome="success"}' in text
    assert 'whalefall_audit_events_total{action="auth.login.success",outcome="success"}' in text


async def test_metrics_can_be_public(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
                             WHALEFALL_METRICS_PUBLIC="true")
    async with running_api(settings) as running:
        await running.client.get("/api/v1/health/live")
        response = await running.client.get("/api/v1/metrics")
        assert response.status_code == 200
        assert "whalefall_http_requests_total" in response.text
