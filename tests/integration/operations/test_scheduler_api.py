"""Scheduler job API (api.md §3.13, operations.md §3.5): shapes, permissions, edits that survive a restart,
run-now through the queue (defects 5, 12, 14)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.integration.operations.conftest import Env
from tests.support.http_client import bearer, data_of, error_of
from whalefall.application.scheduler.builtins import EnsureBuiltins
from whalefall.domain.identity.roles import Role
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus

JOBS = "/api/v1/scheduler/jobs"


async def test_builtin_jobs_are_listed_with_next_fires_and_overlaps(env: Env) -> None:
    async with env.api() as api:
        page = data_of(await api.client.get(JOBS, params={"limit": 50}, headers=await api.headers(Role.AUDITOR)))
        jobs = {job["id"]: job for job in page["items"]}
        assert set(jobs) == {"partition_maintenance", "accounts_sync", "classification", "capacity_collection",
                             "capacity_aggregation", "retention_cleanup", "pipeline:nightly"}
        capacity = jobs["capacity_collection"]
        assert capacity["cron"] == "0 3 * * *" and capacity["enabled"] is True and capacity["is_builtin"] is True
        assert [f["at"] for f in capacity["next_fires"]] == [
            "2027-03-02T03:00:00Z", "2027-03-03T03:00:00Z", "2027-03-04T03:00:00Z"]
        assert jobs["pipeline:nightly"]["enabled"] is False and jobs["pipeline:nightly"]["next_fires"] == []
        assert capacity["overlaps_with"] == [] and capacity["running"] is None and capacity["last_fire"] is None
        assert jobs["capacity_aggregation"]["params"]["period_types"] == [
            "daily", "weekly", "monthly", "quarterly", "yearly"]


async def test_overlaps_are_marked_once_the_nightly_pipeline_is_resumed(env: Env) -> None:
    async with env.api() as api:
        headers = await api.headers(Role.OPERATOR)
        data_of(await api.client.post(f"{JOBS}/pipeline:nightly/actions/resume", headers=headers))
        jobs = {j["id"]: j for j in data_of(await api.client.get(JOBS, headers=headers))["items"]}
        assert jobs["pipeline:nightly"]["overlaps_with"] == [
            "accounts_sync", "capacity_aggregation", "capacity_collection", "classification", "partition_maintenance"]
        assert jobs["accounts_sync"]["overlaps_with"] == ["pipeline:nightly"]
        assert jobs["retention_cleanup"]["overlaps_with"] == []


async def test_permissions(env: Env) -> None:
    async with env.api() as api:
        error_of(await api.client.get(JOBS, headers=await api.headers(Role.VIEWER)), 403, "PERMISSION_DENIED")
        data_of(await api.client.get(JOBS, headers=await api.headers(Role.AUDITOR)))
        error_of(await api.client.post(f"{JOBS}/accounts_sync/actions/run", headers=await api.headers(Role.AUDITOR)),
                 403, "PERMISSION_DENIED")
        error_of(await api.client.post(f"{JOBS}/accounts_sync/actions/reset",
                                       headers=await api.headers(Role.OPERATOR)), 403, "PERMISSION_DENIED")
        data_of(await api.client.post(f"{JOBS}/accounts_sync/actions/reset", headers=await api.headers(Role.ADMIN)))
        response = await api.client.post(f"{JOBS}/accounts_sync/actions/run", headers=await api.headers(Role.OPERATOR))
        assert response.status_code == 202, response.text


async def test_patch_needs_the_current_revision_and_a_valid_cron(env: Env) -> None:
    async with env.api() as api:
        headers = await api.headers(Role.OPERATOR)
        url = f"{JOBS}/capacity_collection"
        job = data_of(await api.client.get(url, headers=headers))
        error_of(await api.client.patch(url, json={"cron": "0 4 * * *"}, headers=headers), 400, "VALIDATION_ERROR")
        body = error_of(await api.client.patch(url, json={"cron": "0 3 * * * *", "revision": job["revision"]},
                                               headers=headers), 422, "INVALID_CRON")
        assert body["details"][0]["field"] == "body.cron"
        body = error_of(await api.client.patch(url, json={"cron": "0 25 * * *", "revision": job["revision"]},
                                               headers=headers), 422, "INVALID_CRON")
        assert body["details"][0]["field"] == "body.cron.hour"
        error_of(await api.client.patch(url, json={"timezone": "Mars/Olympus", "revision": job["revision"]},
                                        headers=headers), 422, "UNPROCESSABLE")
        error_of(await api.client.patch(url, json={"cron": "0 4 * * *", "revision": job["revision"] + 5},
                                        headers=headers), 409, "VERSION_CONFLICT")
        updated = data_of(await api.client.patch(url, json={"cron": "0 1 * * 1", "timezone": "Europe/Berlin",
                                                            "revision": job["revision"]}, headers=headers))
        assert updated["revision"] == job["revision"] + 1
        # Defect 15: `1` is Monday. 2027-03-01 is a Monday; 01:00 Berlin (CET) = 00:00Z, past at 03:00Z.
        assert [f["at"] for f in updated["next_fires"]] == [
            "2027-03-08T00:00:00Z", "2027-03-15T00:00:00Z", "2027-03-22T00:00:00Z"]
        assert updated["next_fires"][0]["local"] == "2027-03-08T01:00:00+01:00"
        rows = await api.rows("SELECT action FROM audit_events WHERE target_id = 'capacity_collection'")
        assert [r["action"] for r in rows] == ["job.update"]


async def test_an_edit_survives_a_restart_and_drives_the_next_fire(env: Env) -> None:
    """Defect 14: edit through the API, rebuild every process, the edit is in force and the next fire follows."""
    async with env.api() as api:
        headers = await api.headers(Role.OPERATOR)
        job = data_of(await api.client.get(f"{JOBS}/retention_cleanup", headers=headers))
        data_of(await api.client.patch(f"{JOBS}/retention_cleanup", json={"cron": "15 6 * * *",
                                                                           "revision": job["revision"]},
                                       headers=headers))
    container = env.container()
    try:
        await env.run(container, EnsureBuiltins)  # start-up seeding never overwrites an edit
    finally:
        await container.close()
    async with env.api() as api:
        headers = bearer((await api.login("operator-user"))["access_token"])
        job = data_of(await api.client.get(f"{JOBS}/retention_cleanup", headers=headers))
        assert job["cron"] == "15 6 * * *"
        assert job["next_fires"][0]["at"] == "2027-03-01T06:15:00Z"


async def test_pause_and_resume_are_idempotent(env: Env) -> None:
    async with env.api() as api:
        headers = await api.headers(Role.OPERATOR)
        first = data_of(await api.client.post(f"{JOBS}/classification/actions/pause", headers=headers))
        second = data_of(await api.client.post(f"{JOBS}/classification/actions/pause", headers=headers))
        assert first["enabled"] is False and second["revision"] == first["revision"]
        resumed = data_of(await api.client.post(f"{JOBS}/classification/actions/resume", headers=headers))
        assert resumed["enabled"] is True and resumed["next_fires"]
        error_of(await api.client.post(f"{JOBS}/nope/actions/pause", headers=headers), 404, "RESOURCE_NOT_FOUND")


async def test_run_now_enqueues_and_answers_202_then_409_while_running(env: Env) -> None:
    """Defects 5 and 12: trigger `manual` with the user id; the request only creates and enqueues."""
    async with env.api(real_sessions=True) as api:
        headers = await api.headers(Role.OPERATOR)
        response = await api.client.post(f"{JOBS}/retention_cleanup/actions/run", headers=headers)
        assert response.status_code == 202, response.text
        receipt = response.json()["data"]
        assert response.headers["location"] == receipt["status_url"] == f"/api/v1/sync-sessions/{receipt['session_id']}"
        assert receipt["kind"] == "retention_cleanup" and receipt["scope"] == "fleet"
        sessions = [{**row, "id": str(row["id"])} for row in await api.rows(
            "SELECT id, kind, trigger, created_by, job_id, status FROM sync_sessions")]
        assert sessions == [{"id": receipt["session_id"], "kind": "retention_cleanup", "trigger": "manual",
                             "created_by": api.user(Role.OPERATOR).id, "job_id": "retention_cleanup",
                             "status": "running"}]
        records = await api.rows("SELECT id, status FROM sync_records ORDER BY id")
        assert {r["status"] for r in records} == {"pending"}  # nothing ran inside the request
        assert env.task_queue.enqueued == [r["id"] for r in records]
        conflict = error_of(await api.client.post(f"{JOBS}/retention_cleanup/actions/run", headers=headers),
                            409, "JOB_RUNNING")
        assert conflict["details"][0]["context"] == {"session_id": receipt["session_id"]}
        job = data_of(await api.client.get(f"{JOBS}/retention_cleanup", headers=headers))
        assert job["running"] == {"session_id": receipt["session_id"], "pipeline_run_id": None}


async def test_run_now_of_a_paused_job_and_queue_down(env: Env) -> None:
    async with env.api() as api:
        headers = await api.headers(Role.OPERATOR)
        data_of(await api.client.post(f"{JOBS}/accounts_sync/actions/pause", headers=headers))
        response = await api.client.post(f"{JOBS}/accounts_sync/actions/run", headers=headers)
        assert response.status_code == 202
        assert [s.request.trigger.value for s in env.launcher.launched(SessionKind.ACCOUNTS_SYNC)] == ["manual"]
        env.launcher.finish_kind(SessionKind.ACCOUNTS_SYNC, SessionStatus.COMPLETED)
        env.launcher.queue_down = True
        error_of(await api.client.post(f"{JOBS}/accounts_sync/actions/run", headers=headers), 503,
                 "QUEUE_UNAVAILABLE")


async def test_detail_lists_recent_fires_and_status(env: Env) -> None:
    async with env.api() as api:
        headers = await api.headers(Role.AUDITOR)
        detail = data_of(await api.client.get(f"{JOBS}/accounts_sync", headers=headers))
        assert detail["fires"] == []
        status = data_of(await api.client.get("/api/v1/scheduler/status", headers=headers))
        assert status == {"timezone": "UTC", "leader": None, "standbys": 0}
        assert datetime(2027, 3, 1, tzinfo=UTC)  # the clock the app runs on
