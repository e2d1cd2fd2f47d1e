"""Instance CSV export, template and import (api.md §3.5, §5; defects 37, 39, 40): round trips, per-row results,
caps and the formula guard on the wire."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tests.integration.access.conftest import AccessApi, AccessFactory
from tests.support.http_client import bearer, data_of, error_of
from whalefall.application.instances.instance_csv import COLUMNS
from whalefall.domain.identity.roles import Role

EXPORTS = "/api/v1/instances/exports"
IMPORTS = "/api/v1/instances/imports"
HEADER = ",".join(COLUMNS)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


async def _import(api: AccessApi, headers: dict[str, str], content: str | bytes, **params: str) -> Any:
    body = content.encode("utf-8") if isinstance(content, str) else content
    return await api.client.post(IMPORTS, headers=headers, params=params,
                                 files={"file": ("instances.csv", body, "text/csv")})


async def _seed(api: AccessApi, headers: dict[str, str]) -> None:
    credential = data_of(await api.client.post("/api/v1/credentials", headers=headers, json={
        "name": "pg-monitor", "username": "monitor", "secret": "s3cret-value", "db_type": "postgresql"}))
    for name in ("prod", "eu"):
        data_of(await api.client.post("/api/v1/tags", headers=headers, json={
            "name": name, "display_name": name.upper(), "category": "env"}))
    for body in (
        {"name": "billing", "db_type": "postgresql", "host": "10.0.0.5", "credential_id": credential["id"],
         "description": '=HYPERLINK("http://evil") "quoted", multi\nline', "tags": ["prod", "eu"],
         "capacity_limit_bytes": 1_000_000, "collect_table_sizes": True},
        {"name": "-crm", "db_type": "mysql", "host": "crm.internal", "port": 3307, "is_active": False,
         "description": "@sum(A1)", "tags": []},
        {"name": "orders", "db_type": "oracle", "host": "2001:db8::1", "database_name": "ORCL",
         "description": "'+already guarded"},
    ):
        data_of(await api.client.post("/api/v1/instances", headers=headers, json=body))


async def test_export_guards_formulas_names_the_file_in_utc_and_is_audited(access_api: AccessApi) -> None:
    api = access_api
    admin = await api.headers(Role.ADMIN)
    await _seed(api, admin)
    response = await api.client.get(EXPORTS, headers=admin, params={"bom": "true", "sort": "-name"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="instances_20270301T080000Z.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf") and b"\r\n" in response.content
    rows = _rows(response.text)
    assert rows[0] == list(COLUMNS)
    assert [r[0] for r in rows[1:]] == ["orders", "billing", "'-crm"]
    by_name = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]}
    assert by_name["billing"]["description"].startswith("'=HYPERLINK")
    assert by_name["billing"]["tags"] == "eu;prod" or by_name["billing"]["tags"] == "prod;eu"
    assert by_name["billing"]["credential_name"] == "pg-monitor"
    assert by_name["'-crm"]["description"] == "'@sum(A1)" and by_name["'-crm"]["is_active"] == "false"
    assert by_name["orders"]["description"] == "''+already guarded"
    for row in rows[1:]:
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in row)
    [event] = await api.rows("SELECT target_type, details FROM audit_events WHERE action = 'export.download'")
    details = event["details"] if isinstance(event["details"], dict) else json.loads(event["details"])
    assert details["resource"] == "instances" and details["row_count"] == 3


async def test_round_trip_upsert_is_unchanged_and_an_empty_store_gets_equal_values(access_api: AccessApi) -> None:
    """Defect 37: export → upsert import into the same store → every row unchanged; into an emptied store (the
    credentials and tags still there) → every row created, and exporting again gives the same file."""
    api = access_api
    admin = await api.headers(Role.ADMIN)
    await _seed(api, admin)
    exported = (await api.client.get(EXPORTS, headers=admin)).text
    again = data_of(await _import(api, admin, exported, mode="upsert"))
    assert again["applied"] is True
    assert [r["status"] for r in again["rows"]] == ["unchanged"] * 3
    assert again["totals"] == {"rows": 3, "created": 0, "updated": 0, "unchanged": 3, "skipped": 0, "failed": 0,
                               "not_applied": 0}
    assert not await api.rows("SELECT id FROM audit_events WHERE action = 'instance.update'")
    for item in data_of(await api.client.get("/api/v1/instances", headers=admin))["items"]:
        data_of(await api.client.delete(f"/api/v1/instances/{item['id']}", headers=admin))
        data_of(await api.client.post(f"/api/v1/instances/{item['id']}/actions/purge", headers=admin))
    fresh = data_of(await _import(api, admin, exported))
    assert [r["status"] for r in fresh["rows"]] == ["created"] * 3
    assert [r["row"] for r in fresh["rows"]] == [2, 3, 5]  # a quoted cell spans two lines of the file
    assert all(r["instance_id"] for r in fresh["rows"])
    assert (await api.client.get(EXPORTS, headers=admin)).text == exported
    created = await api.rows("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'instance.create'")
    summary = await api.rows("SELECT details FROM audit_events WHERE action = 'instance.import'")
    assert created == [{"n": 6}] and len(summary) == 2


async def test_row_errors_name_the_column_and_atomic_writes_nothing(access_api: AccessApi) -> None:
    """Defect 39: a bad port and a duplicated name are reported per row with field and code."""
    api = access_api
    operator = await api.headers(Role.OPERATOR)
    content = "\r\n".join([
        "name,db_type,host,port,tags",
        "good,postgresql,10.0.0.1,5432,",
        "bad-port,mysql,10.0.0.2,70000,",
        "twin,mysql,10.0.0.3,,",
        "Twin,mysql,10.0.0.4,,",
        "unknown-tag,mysql,10.0.0.5,,nope",
        "bad-bool,mysql,10.0.0.6,abc,",
    ]) + "\r\n"
    atomic = data_of(await _import(api, operator, content, atomic="true"))
    assert atomic["applied"] is False
    statuses = {r["name"]: (r["status"], [(e["field"], e["code"]) for e in r["errors"]]) for r in atomic["rows"]}
    assert statuses == {
        "good": ("not_applied", []),
        "bad-port": ("failed", [("port", "too_large")]),
        "twin": ("failed", [("name", "duplicate_in_file")]),
        "Twin": ("failed", [("name", "duplicate_in_file")]),
        "unknown-tag": ("failed", [("tags", "not_found")]),
        "bad-bool": ("failed", [("port", "invalid_type")]),
    }
    assert [r["row"] for r in atomic["rows"]] == [2, 3, 4, 5, 6, 7]
    assert await api.rows("SELECT id FROM instances") == []
    assert await api.rows("SELECT id FROM audit_events WHERE action LIKE 'instance.%'") == []
    partial = data_of(await _import(api, operator, content))
    assert partial["applied"] is True and partial["totals"]["created"] == 1 and partial["totals"]["failed"] == 5
    assert [r["name"] for r in await api.rows("SELECT name FROM instances")] == ["good"]
    skipped = data_of(await _import(api, operator, content))
    assert skipped["rows"][0]["status"] == "skipped" and skipped["rows"][0]["reason"] == "already_exists"


async def test_dry_run_reports_without_writing(access_api: AccessApi) -> None:
    api = access_api
    operator = await api.headers(Role.OPERATOR)
    report = data_of(await _import(api, operator, "name,db_type,host\r\na,mysql,h1\r\nb,mysql,h2\r\n",
                                   dry_run="true"))
    assert report["dry_run"] is True and report["applied"] is False
    assert [r["status"] for r in report["rows"]] == ["created", "created"]
    assert await api.rows("SELECT id FROM instances") == []


async def test_upsert_sets_every_column_of_the_file(access_api: AccessApi) -> None:
    api = access_api
    operator = await api.headers(Role.OPERATOR)
    data_of(await api.client.post("/api/v1/tags", headers=operator, json={
        "name": "prod", "display_name": "Prod", "category": "env"}))
    data_of(await _import(api, operator, "name,db_type,host,tags,description\r\na,mysql,h1,prod,first\r\n"))
    report = data_of(await _import(api, operator, "name,db_type,host,tags,description\r\na,mysql,h2,,\r\n",
                                   mode="upsert"))
    assert report["rows"][0]["status"] == "updated"
    [item] = data_of(await api.client.get("/api/v1/instances", headers=operator))["items"]
    assert (item["host"], item["tags"], item["description"]) == ("h2", [], None)


async def test_file_level_problems(access_api: AccessApi) -> None:
    api = access_api
    operator = await api.headers(Role.OPERATOR)
    body = error_of(await _import(api, operator, "name,colour,name\r\nx,red,y\r\n"), 422, "IMPORT_FILE_INVALID")
    assert {(d["field"], d["code"]) for d in body["details"]} == {
        ("file.header.colour", "unknown_column"), ("file.header.name", "duplicate_column"),
        ("file.header.db_type", "missing_column"), ("file.header.host", "missing_column")}
    body = error_of(await _import(api, operator, b"name,db_type,host\r\n\xff\xfe,mysql,h\r\n"), 422,
                    "IMPORT_FILE_INVALID")
    assert body["details"][0] == {"field": "file", "code": "encoding", "message": "the file is not UTF-8"}
    body = error_of(await _import(api, operator, HEADER + "\r\n"), 422, "IMPORT_FILE_INVALID")
    assert body["details"][0]["code"] == "no_rows"
    missing = await api.client.post(IMPORTS, headers=operator, files={"other": ("x.csv", b"a", "text/csv")})
    assert {d["code"] for d in error_of(missing, 400, "VALIDATION_ERROR")["details"]} == {"required", "unknown_field"}
    error_of(await api.client.post(IMPORTS, headers=operator, json={"file": "x"}), 415, "UNSUPPORTED_MEDIA_TYPE")
    error_of(await _import(api, operator, "name,db_type,host\r\na,mysql,h\r\n", mode="merge"), 400,
             "VALIDATION_ERROR")


async def test_caps_on_rows_file_size_and_export(access_factory: AccessFactory) -> None:
    """Defect 40: 10 001 rows → 422 too_many_rows; a 6 MiB file → 413; an export over the cap → 422 before any row
    is sent (and nothing is audited)."""
    async with access_factory(WHALEFALL_EXPORT_MAX_ROWS="2") as api:
        operator = await api.headers(Role.OPERATOR)
        many = "name,db_type,host\r\n" + "".join(f"i{n},mysql,h{n}\r\n" for n in range(10_001))
        body = error_of(await _import(api, operator, many), 422, "IMPORT_FILE_INVALID")
        assert body["details"][0]["code"] == "too_many_rows" and body["details"][0]["context"] == {"max": 10_000}
        big = "name,db_type,host,description\r\n" + "a,mysql,h," + "x" * (6 * 1024 * 1024) + "\r\n"
        error_of(await _import(api, operator, big), 413, "PAYLOAD_TOO_LARGE")
        assert await api.rows("SELECT id FROM instances") == []
        data_of(await _import(api, operator, "name,db_type,host\r\na,mysql,h1\r\nb,mysql,h2\r\nc,mysql,h3\r\n"))
        over = await api.client.get(EXPORTS, headers=operator)
        assert over.headers["content-type"].startswith("application/json")
        assert error_of(over, 422, "EXPORT_TOO_LARGE")["details"][0]["context"] == {"max": 2, "rows": 3}
        assert await api.rows("SELECT id FROM audit_events WHERE action = 'export.download'") == []
        assert len(_rows((await api.client.get(EXPORTS, headers=operator, params={"q": "h1"})).text)) == 2


async def test_permissions(access_api: AccessApi) -> None:
    api = access_api
    viewer = await api.headers(Role.VIEWER)
    body = error_of(await api.client.get(EXPORTS, headers=viewer), 403, "PERMISSION_DENIED")
    assert body["details"][0]["context"] == {"permission": "exports:run"}
    template = await api.client.get("/api/v1/instances/imports/template", headers=viewer, params={"bom": "true"})
    assert template.status_code == 200 and template.content == b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n"
    assert template.headers["content-disposition"] == 'attachment; filename="instances_template_20270301T080000Z.csv"'
    error_of(await _import(api, viewer, "name,db_type,host\r\na,mysql,h\r\n"), 403, "PERMISSION_DENIED")
    admin = await api.headers(Role.ADMIN)
    data_of(await api.client.post("/api/v1/credentials", headers=admin, json={
        "name": "mysql-cred", "username": "m", "secret": "s3cret-value"}))
    token = await api.api_token(Role.OPERATOR, ["instances:read", "instances:write"])
    report = data_of(await _import(api, bearer(token), "name,db_type,host,credential_name\r\n"
                                                       "a,mysql,h,mysql-cred\r\nb,mysql,h2,\r\n"))
    first, second = report["rows"]
    assert first["status"] == "failed" and first["errors"][0]["field"] == "credential_name"
    assert first["errors"][0]["code"] == "permission_denied" and second["status"] == "created"
