"""GET /logs, /logs/{id}, /logs/stats, /logs/modules (api.md §3.16; defects 21, 44; permission matrix)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.http_client import Api, data_of, error_of
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.logs import SqlAlchemyLogWriter
from whalefall.application.ports.clock import Clock
from whalefall.domain.identity.roles import Role
from whalefall.domain.logs.redaction import LOG_MODULES


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def now_of(api: Api) -> datetime:
    clock: Clock = await api.container.get(Clock)
    return clock.now()


async def store_events(api: Api, *events: dict[str, Any]) -> None:
    writer = SqlAlchemyLogWriter(await api.container.get(Database))
    base = {"logger": "whalefall.application.capacity.collect", "module": "capacity", "event": "capacity.test",
            "level": "INFO", "message": "", "process": "worker", "host": "h", "pid": 1, "context": {}}
    await writer.write_batch([{**base, **event} for event in events])


@pytest.fixture
async def seeded(api: Api) -> datetime:
    now = await now_of(api)
    await store_events(
        api,
        {"ts": iso(now - timedelta(hours=1)), "level": "ERROR", "message": "Disk almost FULL on host",
         "request_id": "req_a", "instance_id": 7, "event": "capacity.instance.failed"},
        {"ts": iso(now - timedelta(hours=2)), "message": "collected", "context": {"note": "full"},
         "logger": "whalefall.adapters.connectors.mysql", "module": "connectors", "event": "connectors.call.done"},
        {"ts": iso(now - timedelta(hours=30)), "level": "WARNING", "message": "old but full"},
        {"ts": iso(now - timedelta(days=20)), "level": "CRITICAL", "message": "older"},
    )
    return now


async def test_auditor_reads_and_operator_and_viewer_are_refused(api: Api, seeded: datetime) -> None:
    assert data_of(await api.client.get("/api/v1/logs", headers=await api.headers(Role.AUDITOR)))["total"] == 2
    assert data_of(await api.client.get("/api/v1/logs", headers=await api.headers(Role.ADMIN)))["total"] == 2
    for role in (Role.OPERATOR, Role.VIEWER):
        headers = await api.headers(role)
        for path in ("/api/v1/logs", "/api/v1/logs/stats", "/api/v1/logs/modules", "/api/v1/logs/1"):
            body = error_of(await api.client.get(path, headers=headers), 403, "PERMISSION_DENIED")
            assert body["details"][0]["context"] == {"permission": "logs:read"}


async def test_default_window_is_the_last_24_hours_newest_first(api: Api, seeded: datetime) -> None:
    page = data_of(await api.client.get("/api/v1/logs", headers=await api.headers(Role.AUDITOR)))
    assert [item["message"] for item in page["items"]] == ["Disk almost FULL on host", "collected"]
    assert set(page) == {"items", "total", "page", "limit", "pages"}
    first = page["items"][0]
    assert first["level"] == "ERROR" and first["request_id"] == "req_a" and first["instance_id"] == 7
    assert first["ts"].endswith("Z")


async def test_a_window_over_31_days_is_refused(api: Api, seeded: datetime) -> None:
    """api.md defect 44."""
    headers = await api.headers(Role.AUDITOR)
    since = iso(seeded - timedelta(days=40))
    body = error_of(await api.client.get("/api/v1/logs", params={"since": since}, headers=headers),
                    400, "VALIDATION_ERROR")
    assert body["details"][0]["code"] == "window_too_large"
    wide = data_of(await api.client.get("/api/v1/logs", params={"since": iso(seeded - timedelta(days=30))},
                                        headers=headers))
    assert wide["total"] == 4


async def test_naive_and_inverted_windows_are_refused(api: Api, seeded: datetime) -> None:
    headers = await api.headers(Role.AUDITOR)
    body = error_of(await api.client.get("/api/v1/logs", params={"since": "2027-01-01T00:00:00"}, headers=headers),
                    400, "VALIDATION_ERROR")
    assert body["details"][0]["code"] == "naive_datetime"
    body = error_of(await api.client.get("/api/v1/logs", params={"since": iso(seeded), "until": iso(seeded)},
                                         headers=headers), 400, "VALIDATION_ERROR")
    assert body["details"][0]["code"] == "invalid_range"


async def test_q_matches_the_message_only(api: Api, seeded: datetime) -> None:
    """Defect 21: `full` is in the context of one event and the message of another; only the message counts."""
    headers = await api.headers(Role.AUDITOR)
    since = iso(seeded - timedelta(days=3))
    page = data_of(await api.client.get("/api/v1/logs", params={"q": "full", "since": since}, headers=headers))
    assert sorted(item["message"] for item in page["items"]) == ["Disk almost FULL on host", "old but full"]
    page = data_of(await api.client.get("/api/v1/logs", params={"q": "%"}, headers=headers))
    assert page["total"] == 0


async def test_filters(api: Api, seeded: datetime) -> None:
    headers = await api.headers(Role.AUDITOR)
    since = iso(seeded - timedelta(days=30))

    async def messages(**params: Any) -> list[str]:
        page = data_of(await api.client.get("/api/v1/logs", params={"since": since, **params}, headers=headers))
        return [item["message"] for item in page["items"]]

    assert await messages(level=["ERROR", "CRITICAL"]) == ["Disk almost FULL on host", "older"]
    assert await messages(min_level="WARNING") == ["Disk almost FULL on host", "old but full", "older"]
    assert await messages(module="connectors") == ["collected"]
    assert await messages(logger="whalefall.adapters.") == ["collected"]
    assert await messages(event="capacity.instance") == ["Disk almost FULL on host"]
    assert await messages(request_id="req_a", instance_id=7) == ["Disk almost FULL on host"]
    assert await messages(sort="ts") == ["older", "old but full", "collected", "Disk almost FULL on host"]
    error_of(await api.client.get("/api/v1/logs", params={"level": "LOUD"}, headers=headers), 400,
             "VALIDATION_ERROR")
    error_of(await api.client.get("/api/v1/logs", params={"module": "nope"}, headers=headers), 400,
             "VALIDATION_ERROR")


async def test_one_entry_and_404(api: Api, seeded: datetime) -> None:
    headers = await api.headers(Role.AUDITOR)
    first = data_of(await api.client.get("/api/v1/logs", headers=headers))["items"][0]
    assert data_of(await api.client.get(f"/api/v1/logs/{first['id']}", headers=headers)) == first
    error_of(await api.client.get("/api/v1/logs/999999", headers=headers), 404, "RESOURCE_NOT_FOUND")


async def test_stats_and_modules(api: Api, seeded: datetime) -> None:
    headers = await api.headers(Role.AUDITOR)
    now = seeded
    await store_events(api, {"ts": iso(now - timedelta(minutes=5)), "level": "WARNING",
                             "logger": "whalefall.adapters.observability.db_sink", "module": "logs",
                             "event": "logs.events_dropped", "message": "dropped",
                             "context": {"count": 12, "reason": "queue_full"}})
    stats = data_of(await api.client.get("/api/v1/logs/stats", headers=headers))
    assert stats["counts_by_level"] == {"DEBUG": 0, "INFO": 1, "WARNING": 1, "ERROR": 1, "CRITICAL": 0}
    assert {(m["module"], m["count"]) for m in stats["top_modules"]} == {("capacity", 1), ("connectors", 1),
                                                                          ("logs", 1)}
    assert [e["count"] for e in stats["errors_per_hour"]] == [1]
    assert stats["errors_per_hour"][0]["hour"].endswith(":00:00Z")
    assert stats["dropped_events_total"] == 12
    modules = data_of(await api.client.get("/api/v1/logs/modules", params={"limit": 200}, headers=headers))
    assert [m["module"] for m in modules["items"]] == list(LOG_MODULES)
    assert modules["total"] == len(LOG_MODULES)
    counts = {m["module"]: m["count"] for m in modules["items"]}
    assert counts["capacity"] == 1 and counts["connectors"] == 1 and counts["system"] == 0
