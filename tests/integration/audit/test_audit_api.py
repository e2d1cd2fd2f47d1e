"""GET /audit-events, /audit-events/{id}, /audit-events/exports (api.md §3.17, §5): filters, matrix, CSV."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from tests.support.http_client import Api, data_of, error_of
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.audit import audit_events
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.csv_codec import decode_csv
from whalefall.domain.identity.roles import Role


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def add_events(api: Api, *events: dict[str, Any]) -> None:
    base = {"actor_type": "user", "actor_id": 1, "actor_name": "alice", "action": "instance.update",
            "target_type": "instance", "target_id": "7", "outcome": "success", "request_id": None, "ip": None,
            "user_agent": None, "changes": {}, "details": {}}
    database = await api.container.get(Database)
    async with database.engine.begin() as connection:
        await connection.execute(insert(audit_events).values([{**base, **event} for event in events]))


@pytest.fixture
async def now(api: Api) -> datetime:
    clock: Clock = await api.container.get(Clock)
    moment: datetime = clock.now()
    await add_events(
        api,
        {"ts": moment - timedelta(days=1), "changes": {"port": [5432, 5433]}, "request_id": "req_1"},
        {"ts": moment - timedelta(days=2), "action": "credential.secret_change", "target_type": "credential",
         "target_id": "3", "changes": {"secret": ["<changed>", "<changed>"]}, "actor_id": 2, "actor_name": "bob"},
        {"ts": moment - timedelta(days=3), "action": "tag.create", "outcome": "denied", "actor_id": 2,
         "actor_name": "=HYPERLINK(\"http://x\")", "details": {"note": "-1+1"}},
        {"ts": moment - timedelta(days=3), "action": "job.run", "actor_type": "scheduler", "actor_id": None,
         "actor_name": "scheduler"},
        {"ts": moment - timedelta(days=45), "action": "instance.delete"},
    )
    return moment


async def actions(api: Api, **params: Any) -> list[str]:
    headers = await api.headers(Role.AUDITOR)
    page = data_of(await api.client.get("/api/v1/audit-events", params={"limit": 200, **params}, headers=headers))
    return [item["action"] for item in page["items"] if not item["action"].startswith(("auth.", "user."))]


async def test_auditor_and_admin_read_operator_and_viewer_do_not(api: Api, now: datetime) -> None:
    for role in (Role.AUDITOR, Role.ADMIN):
        response = await api.client.get("/api/v1/audit-events", headers=await api.headers(role))
        assert response.status_code == 200, response.text
    for role in (Role.OPERATOR, Role.VIEWER):
        headers = await api.headers(role)
        for path in ("/api/v1/audit-events", "/api/v1/audit-events/1", "/api/v1/audit-events/exports"):
            body = error_of(await api.client.get(path, headers=headers), 403, "PERMISSION_DENIED")
            assert body["details"][0]["context"] == {"permission": "audit:read"}


async def test_default_window_is_30_days_newest_first(api: Api, now: datetime) -> None:
    assert await actions(api) == ["instance.update", "credential.secret_change", "tag.create", "job.run"]
    assert await actions(api, sort="ts") == ["tag.create", "job.run", "credential.secret_change", "instance.update"]
    assert "instance.delete" in await actions(api, since=iso(now - timedelta(days=60)))


async def test_window_limits(api: Api, now: datetime) -> None:
    headers = await api.headers(Role.AUDITOR)
    body = error_of(await api.client.get("/api/v1/audit-events", params={"since": iso(now - timedelta(days=400))},
                                         headers=headers), 400, "VALIDATION_ERROR")
    assert body["details"][0]["code"] == "window_too_large"
    body = error_of(await api.client.get("/api/v1/audit-events", params={"until": "2027-01-01T00:00:00"},
                                         headers=headers), 400, "VALIDATION_ERROR")
    assert body["details"][0]["code"] == "naive_datetime"


async def test_filters(api: Api, now: datetime) -> None:
    assert await actions(api, action="credential.") == ["credential.secret_change"]
    assert await actions(api, actor_id=[2]) == ["credential.secret_change", "tag.create"]
    assert await actions(api, actor_type="scheduler") == ["job.run"]
    assert await actions(api, outcome=["denied", "failure"]) == ["tag.create"]
    assert await actions(api, target_type="credential", target_id="3") == ["credential.secret_change"]
    assert await actions(api, request_id="req_1") == ["instance.update"]
    headers = await api.headers(Role.AUDITOR)
    error_of(await api.client.get("/api/v1/audit-events", params={"outcome": "maybe"}, headers=headers), 400,
             "VALIDATION_ERROR")


async def test_one_event_and_404(api: Api, now: datetime) -> None:
    headers = await api.headers(Role.AUDITOR)
    page = data_of(await api.client.get("/api/v1/audit-events", params={"action": "instance.update"},
                                        headers=headers))
    event = page["items"][0]
    assert event["changes"] == {"port": [5432, 5433]}
    assert data_of(await api.client.get(f"/api/v1/audit-events/{event['id']}", headers=headers)) == event
    error_of(await api.client.get("/api/v1/audit-events/999999", headers=headers), 404, "RESOURCE_NOT_FOUND")


async def test_csv_export_is_guarded_reimportable_and_audited(api: Api, now: datetime) -> None:
    headers = await api.headers(Role.AUDITOR)
    response = await api.client.get("/api/v1/audit-events/exports", params={"action": "tag.", "bom": "true"},
                                    headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="audit_events_') and disposition.endswith('Z.csv"')
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeffts,actor_type,actor_id,actor_name,action,outcome,target_type,target_id,"
                           "request_id,ip,changes,details\r\n")
    raw_cells = text.split("\r\n")[1]
    assert "'=HYPERLINK" in raw_cells
    header, row = decode_csv(text)
    record = dict(zip(header, row, strict=True))
    assert record["actor_name"] == '=HYPERLINK("http://x")'
    assert json.loads(record["details"]) == {"note": "-1+1"}
    assert record["ts"].endswith("Z") and record["outcome"] == "denied"
    exports = await actions(api, action="export.download")
    assert exports == ["export.download"]
    page = data_of(await api.client.get("/api/v1/audit-events", params={"action": "export."}, headers=headers))
    details = page["items"][0]["details"]
    assert details["resource"] == "audit_events" and details["row_count"] == 1
    assert details["filters"]["action"] == "tag."


async def test_export_over_the_cap_is_refused_before_any_row(api: Api, now: datetime) -> None:
    from whalefall.application.audit.export_audit_events import ExportAuditEvents
    from whalefall.application.audit.query_audit_events import AuditSearchInput
    from whalefall.application.shared.actor import Actor
    from whalefall.application.shared.csv_codec import ExportTooLargeError

    async with api.container() as scope:
        use_case = await scope.get(ExportAuditEvents)
        capped = ExportAuditEvents(use_case.events, use_case.audit, use_case.clock, use_case.uow, max_rows=2)
        with pytest.raises(ExportTooLargeError):
            await capped.execute(AuditSearchInput(actor=Actor.system()))
    assert await actions(api, action="export.") == []
