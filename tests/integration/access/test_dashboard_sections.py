"""The dashboard sections added to operations.md §7's table (accounts, capacity, jobs, partitions, growth, trends,
and the nightly run of `runs`) on seeded data: deleted instances never count (operations defect 23), stale
instances are outside the fleet total, figures are time-bounded, and a finalised session refreshes its sections."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, insert, update

from tests.integration.access.conftest import AccessApi
from tests.support.http_client import data_of
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.sessions import SqlAlchemySessionStore
from whalefall.adapters.persistence.tables.accounts import principals
from whalefall.adapters.persistence.tables.capacity import (
    database_size_aggregations,
    instance_size_aggregations,
    instance_size_samples,
)
from whalefall.adapters.persistence.tables.classification import classification_assignments, classifications
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.tables.operations import job_fires, pipeline_runs, scheduled_jobs
from whalefall.adapters.persistence.tables.sessions import sync_sessions
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.sessions.finalised import SessionFinalisedListeners
from whalefall.domain.identity.roles import Role

DASHBOARD = "/api/v1/dashboard"
NOW = datetime(2027, 3, 1, 8, tzinfo=UTC)
FAILED_SESSION = "00000000-0000-4000-8000-0000000000f1"
RUNNING_SESSION = "00000000-0000-4000-8000-0000000000f2"


async def _insert(api: AccessApi, table: Table, *rows: dict[str, Any]) -> None:
    database = await api.container.get(Database)
    async with database.connect() as connection:
        await connection.execute(insert(table), list(rows))
        await connection.commit()


async def _seed(api: AccessApi) -> dict[str, int]:
    operator = await api.headers(Role.OPERATOR)
    ids = {}
    for name, db_type in (("alpha", "postgresql"), ("beta", "mysql"), ("gamma", "postgresql")):
        ids[name] = data_of(await api.client.post("/api/v1/instances", headers=operator, json={
            "name": name, "db_type": db_type, "host": f"{name}.example"}))["id"]
    data_of(await api.client.delete(f"/api/v1/instances/{ids['gamma']}", headers=operator))
    database = await api.container.get(Database)
    async with database.connect() as connection:
        for name, day in (("alpha", date(2027, 2, 28)), ("beta", date(2027, 2, 25)), ("gamma", date(2027, 3, 1))):
            await connection.execute(update(instances).where(instances.c.id == ids[name]).values(
                last_capacity_collected_on=day))
        await connection.commit()
    await _insert(api, instance_size_samples, *[
        {"instance_id": ids[name], "collected_on": day, "collected_at": NOW, "total_bytes": total,
         "database_count": 1} for name, day, total in (
            ("alpha", date(2027, 2, 27), 900), ("alpha", date(2027, 2, 28), 1000), ("beta", date(2027, 2, 25), 500),
            ("gamma", date(2027, 3, 1), 9999))])
    await _insert(api, instance_size_aggregations, *[
        {"instance_id": ids[name], "period_type": "daily", "period_start": day, "period_end": day, "sample_count": 1,
         "first_sample_on": day, "last_sample_on": day, "avg_total_bytes": 1, "min_total_bytes": 1,
         "max_total_bytes": 1, "last_total_bytes": 1, "avg_database_count": 1, "min_database_count": 1,
         "max_database_count": 1, "last_database_count": 1, "trend": "unknown", "is_partial": partial,
         "is_complete": complete, "expected_days": 1, "covered_days": int(complete), "computed_at": NOW}
        for name, day, partial, complete in (
            ("alpha", date(2027, 2, 28), False, True), ("beta", date(2027, 2, 28), False, False),
            ("alpha", date(2027, 3, 1), True, False), ("gamma", date(2027, 2, 28), False, False))])
    await _insert(api, database_size_aggregations, *[
        {"instance_id": ids[name], "database_name": db, "period_type": "monthly", "period_start": date(2027, 2, 1),
         "period_end": date(2027, 2, 28), "sample_count": 28, "first_sample_on": date(2027, 2, 1),
         "last_sample_on": date(2027, 2, 28), "avg_bytes": 10, "min_bytes": 1, "max_bytes": 20, "last_bytes": 20,
         "is_system": False, "change_bytes": change, "trend": "growing", "is_partial": False, "is_complete": True,
         "expected_days": 28, "covered_days": 28, "computed_at": NOW}
        for name, db, change in (("alpha", "db1", 300), ("alpha", "db2", -50), ("beta", "db3", 700),
                                 ("gamma", "db4", 5000), ("alpha", "db5", None))])
    await _insert(api, sync_sessions, *[
        {"id": session_id, "kind": "accounts_sync", "scope": "fleet", "trigger": "scheduled", "status": status,
         "created_at": created, "finished_at": finished, "params": {}, "summary": {}}
        for session_id, status, created, finished in (
            (FAILED_SESSION, "failed", datetime(2027, 2, 28, 10, tzinfo=UTC), datetime(2027, 2, 28, 11, tzinfo=UTC)),
            (RUNNING_SESSION, "running", datetime(2027, 3, 1, 7, tzinfo=UTC), None))])
    await _insert(api, pipeline_runs, {
        "id": "00000000-0000-4000-8000-0000000000a1", "pipeline_name": "nightly", "definition_revision": 1,
        "definition": {}, "trigger": "scheduled", "status": "completed",
        "created_at": datetime(2027, 3, 1, 2, tzinfo=UTC), "finished_at": datetime(2027, 3, 1, 3, tzinfo=UTC)})
    await _insert(api, scheduled_jobs, *[
        {"id": job_id, "kind": "accounts_sync", "name": job_id, "cron": "0 3 * * *", "timezone": "UTC",
         "enabled": enabled, "params": {}, "is_builtin": False, "revision": 1, "updated_at": NOW,
         "schedule_changed_at": NOW, "next_fire_at": datetime(2027, 3, 2, 3, tzinfo=UTC)}
        for job_id, enabled in (("wf_h8_sync", True), ("wf_h8_misfire", True), ("wf_h8_paused", False))])
    await _insert(api, job_fires, *[
        {"job_id": job_id, "scheduled_for": at, "fired_at": at, "leader_id": "l", "outcome": outcome,
         "session_id": session_id}
        for job_id, at, outcome, session_id in (
            ("wf_h8_sync", datetime(2027, 2, 27, 3, tzinfo=UTC), "misfire_skipped", None),
            ("wf_h8_sync", datetime(2027, 2, 28, 10, tzinfo=UTC), "fired", FAILED_SESSION),
            ("wf_h8_misfire", datetime(2027, 2, 28, 3, tzinfo=UTC), "misfire_skipped", None),
            ("wf_h8_paused", datetime(2027, 2, 28, 3, tzinfo=UTC), "misfire_skipped", None))])
    await _insert(api, principals, *[
        {"instance_id": ids[name], "kind_class": "user", "kind": "user", "namespace": "", "key": key,
         "is_account": is_account, "active": active, "first_seen_at": NOW, "login_capable": True, "locked": locked,
         "superuser": superuser, "password_expired": False, "grants_stale": False, "attributes": {}, "roles": []}
        for name, key, is_account, active, locked, superuser in (
            ("alpha", "alice", True, True, False, True), ("alpha", "bob", True, True, True, False),
            ("alpha", "app_role", False, True, False, False), ("alpha", "carol", True, False, True, True),
            ("gamma", "dave", True, True, True, True))])
    await _insert(api, classifications, {
        "code": "wf_h8_dba", "display_name": "wf_h8 DBA", "display_name_key": "wf_h8 dba", "risk_level": 5,
        "priority": 999, "icon": "shield", "is_system": False, "is_active": True, "created_at": NOW,
        "updated_at": NOW, "revision": 1})
    [alice] = await api.rows("SELECT id FROM principals WHERE key = 'alice'")
    [dave] = await api.rows("SELECT id FROM principals WHERE key = 'dave'")
    [dba] = await api.rows("SELECT id FROM classifications WHERE code = 'wf_h8_dba'")
    await _insert(api, classification_assignments, *[
        {"account_id": account, "classification_id": dba["id"], "source": "manual", "instance_id": ids[name],
         "db_type": "postgresql", "matched_rules": [], "is_primary": True, "assigned_at": NOW}
        for account, name in ((alice["id"], "alpha"), (dave["id"], "gamma"))])
    return ids


async def test_new_sections_on_seeded_data(access_api: AccessApi) -> None:
    api = access_api
    ids = await _seed(api)
    sections = data_of(await api.client.get(DASHBOARD, headers=await api.headers(Role.VIEWER)))["sections"]
    accounts = sections["accounts"]
    assert {k: accounts[k] for k in ("active", "locked", "privileged", "classified", "unclassified")} == {
        "active": 2, "locked": 1, "privileged": 1, "classified": 1, "unclassified": 1}
    by_code = {c["code"]: c["accounts"] for c in accounts["by_classification"]}
    assert by_code["wf_h8_dba"] == 1 and sum(by_code.values()) == 1  # every classification, zeros included

    assert {k: v for k, v in sections["capacity"].items() if k != "computed_at"} == {
        "fleet_total_bytes": 1000, "fresh": 1, "stale": 1, "never": 0, "incomplete_instances": 1,
        "last_complete_day": "2027-02-28"}

    growth = sections["growth"]
    assert growth["period_start"] == "2027-02-01"
    assert [(g["instance_id"], g["database_name"], g["change_bytes"]) for g in growth["top"]] == [
        (ids["beta"], "db3", 700), (ids["alpha"], "db1", 300), (ids["alpha"], "db2", -50)]

    trends = sections["trends"]
    sessions_per_day = {d["day"]: d["sessions"] for d in trends["sessions_per_day"]}
    assert len(sessions_per_day) == 14 and min(sessions_per_day) == "2027-02-16"
    assert (sessions_per_day["2027-02-28"], sessions_per_day["2027-03-01"], sum(sessions_per_day.values())) == (
        1, 1, 2)
    fleet = {d["day"]: d["total_bytes"] for d in trends["fleet_total_per_day"]}
    assert len(fleet) == 30 and min(fleet) == "2027-01-31" and max(fleet) == "2027-03-01"
    assert {d: v for d, v in fleet.items() if v is not None} == {
        "2027-02-25": 500, "2027-02-27": 900, "2027-02-28": 1000}

    jobs = sections["jobs"]
    stored = await api.rows("SELECT enabled FROM scheduled_jobs")  # the built-in jobs are there too
    assert (jobs["enabled"], jobs["paused"]) == (sum(1 for r in stored if r["enabled"]),
                                                 sum(1 for r in stored if not r["enabled"]))
    assert len(jobs["jobs"]) == len(stored) >= 3
    assert {j["id"]: j["next_fire_at"] for j in jobs["jobs"]}["wf_h8_sync"] == "2027-03-02T03:00:00Z"
    assert [(f["job_id"], f["status"], f["outcome"]) for f in sorted(jobs["failing"], key=lambda f: f["job_id"])] == [
        ("wf_h8_misfire", None, "misfire_skipped"), ("wf_h8_sync", "failed", "fired")]
    assert [f["session_id"] for f in jobs["failing"] if f["job_id"] == "wf_h8_sync"] == [FAILED_SESSION]

    assert sections["runs"]["last_nightly"]["status"] == "completed"
    assert sections["runs"]["running_now"] == 1
    partitions = sections["partitions"]
    assert partitions["status"] in {"ok", "warning", "critical", "not_applicable"}
    if api.settings.effective_database_url.startswith("sqlite"):
        assert partitions["status"] == "not_applicable" and partitions["checks"] == []


async def test_a_finalised_session_refreshes_its_sections_at_once(access_api: AccessApi) -> None:
    """The dashboard listener runs after the finalising commit (here the reaper's path: `notify_if_terminal`)."""
    api = access_api
    viewer = await api.headers(Role.VIEWER)
    await _insert(api, sync_sessions, {
        "id": RUNNING_SESSION, "kind": "accounts_sync", "scope": "fleet", "trigger": "manual", "status": "running",
        "created_at": NOW, "params": {}, "summary": {}})
    assert data_of(await api.client.get(f"{DASHBOARD}/runs", headers=viewer))["running_now"] == 1
    database = await api.container.get(Database)
    async with database.connect() as connection:
        await connection.execute(update(sync_sessions).where(sync_sessions.c.id == RUNNING_SESSION).values(
            status="completed", finished_at=NOW))
        await connection.commit()
    assert data_of(await api.client.get(f"{DASHBOARD}/runs", headers=viewer))["running_now"] == 1  # cached
    listeners = await api.container.get(SessionFinalisedListeners)
    uow = SqlAlchemyUnitOfWork(database)
    try:
        await listeners.notify_if_terminal(SqlAlchemySessionStore(uow), RUNNING_SESSION)
    finally:
        await uow.close()
    runs = data_of(await api.client.get(f"{DASHBOARD}/runs", headers=viewer))
    assert runs["running_now"] == 0 and runs["last_24h"] == {"accounts_sync": {"completed": 1}}
