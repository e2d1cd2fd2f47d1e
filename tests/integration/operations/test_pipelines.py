"""Pipelines: dependency-driven execution (O4), failure propagation and re-run (O5), cancel, one running run per
pipeline, and validation through the API (O6) — defect 26."""

from __future__ import annotations

from typing import Any

from dishka import AsyncContainer

from tests.integration.operations.conftest import Env
from tests.support.http_client import data_of, error_of
from whalefall.application.pipelines.advance import AdvancePipelineRun
from whalefall.application.pipelines.runs import GetPipelineRun, StartPipelineRun
from whalefall.application.ports.pipelines import PipelineRunningError
from whalefall.application.scheduler.builtins import EnsureBuiltins
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Role
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus, SessionTrigger

K = SessionKind


async def _start(env: Env, container: AsyncContainer) -> str:
    await env.run(container, EnsureBuiltins)
    async with container() as scope:
        start = await scope.get(StartPipelineRun)
        receipt = await start.start_run("nightly", trigger="manual", created_by=None, job_id=None, request_id=None)
    return receipt.pipeline_run_id


async def _steps(env: Env, container: AsyncContainer, run_id: str) -> dict[str, Any]:
    view = await env.run(container, GetPipelineRun, Actor.system(), run_id)
    return {"status": view.run.status.value,
            **{s.step_name: (s.status.value, s.blocked_by, s.degraded) for s in view.run.steps}}


async def _advance(env: Env, container: AsyncContainer, run_id: str) -> None:
    await env.run(container, AdvancePipelineRun, run_id)


async def test_o4_dependants_start_when_their_own_dependencies_complete(env: Env) -> None:
    container = env.container()
    try:
        run_id = await _start(env, container)
        assert env.advance_queue.enqueued == [run_id]
        await _advance(env, container, run_id)
        await _advance(env, container, run_id)  # idempotent: nothing new starts
        assert [s.request.kind for s in env.launcher.launched()] == [K.PARTITION_MAINTENANCE]
        env.launcher.finish_kind(K.PARTITION_MAINTENANCE, SessionStatus.COMPLETED)
        await _advance(env, container, run_id)
        assert {s.request.kind for s in env.launcher.launched()} == {K.PARTITION_MAINTENANCE, K.ACCOUNTS_SYNC,
                                                                       K.CAPACITY_COLLECTION}
        env.launcher.finish_kind(K.CAPACITY_COLLECTION, SessionStatus.COMPLETED)  # accounts still running
        await _advance(env, container, run_id)
        steps = await _steps(env, container, run_id)
        assert steps["aggregation"][0] == "running" and steps["classification"][0] == "pending"
        assert steps["accounts"][0] == "running"
        step_sessions = [s for s in env.launcher.launched() if s.request.step_name == "aggregation"]
        assert step_sessions[0].request.trigger is SessionTrigger.PIPELINE
        assert step_sessions[0].request.pipeline_run_id == run_id
        assert step_sessions[0].request.params == {"period_types": ["daily", "weekly", "monthly", "quarterly",
                                                                   "yearly"], "window": "last_complete"}
        env.launcher.finish_kind(K.ACCOUNTS_SYNC, SessionStatus.COMPLETED)
        env.launcher.finish_kind(K.CAPACITY_AGGREGATION, SessionStatus.COMPLETED)
        await _advance(env, container, run_id)
        env.launcher.finish_kind(K.CLASSIFICATION, SessionStatus.COMPLETED)
        await _advance(env, container, run_id)
        assert (await _steps(env, container, run_id))["status"] == "completed"
    finally:
        await container.close()


async def test_o5_failure_skips_dependants_and_rerun_reuses_completed_steps(env: Env) -> None:
    async with env.api() as api:
        container = api.container
        run_id = await _start(env, container)
        await _advance(env, container, run_id)
        env.launcher.finish_kind(K.PARTITION_MAINTENANCE, SessionStatus.COMPLETED)
        await _advance(env, container, run_id)
        env.launcher.finish_kind(K.CAPACITY_COLLECTION, SessionStatus.FAILED)
        env.launcher.finish_kind(K.ACCOUNTS_SYNC, SessionStatus.COMPLETED)
        await _advance(env, container, run_id)
        env.launcher.finish_kind(K.CLASSIFICATION, SessionStatus.COMPLETED)
        await _advance(env, container, run_id)
        steps = await _steps(env, container, run_id)
        assert steps["capacity"][0] == "failed"
        assert steps["aggregation"] == ("skipped", "capacity", False)
        assert steps["status"] == "partial"

        headers = await api.headers(Role.OPERATOR)
        response = await api.client.post(f"/api/v1/pipeline-runs/{run_id}/actions/rerun-failed", headers=headers)
        assert response.status_code == 202, response.text
        rerun = response.json()["data"]
        assert rerun["pipeline"] == "nightly" and response.headers["location"] == rerun["status_url"]
        detail = data_of(await api.client.get(rerun["status_url"], headers=headers))
        assert detail["rerun_of"] == run_id and detail["created_by"]["username"] == "operator-user"
        by_name = {s["step_name"]: s for s in detail["steps"]}
        for name in ("partitions", "accounts", "classification"):
            assert by_name[name]["status"] == "completed" and by_name[name]["reused_from"] == run_id
        assert by_name["capacity"]["status"] == "pending" and by_name["aggregation"]["status"] == "pending"
        assert detail["levels"] == [["partitions"], ["accounts", "capacity"], ["aggregation", "classification"]]
        new_id = rerun["pipeline_run_id"]
        await _advance(env, container, new_id)
        assert len(env.launcher.launched(K.CAPACITY_COLLECTION)) == 2
        assert len(env.launcher.launched(K.ACCOUNTS_SYNC)) == 1  # reused, not executed
        env.launcher.finish_kind(K.CAPACITY_COLLECTION, SessionStatus.PARTIAL)
        await _advance(env, container, new_id)
        env.launcher.finish_kind(K.CAPACITY_AGGREGATION, SessionStatus.COMPLETED)
        await _advance(env, container, new_id)
        steps = await _steps(env, container, new_id)
        assert steps["capacity"] == ("completed", None, True)  # partial session → completed, degraded
        assert steps["status"] == "partial"
        error_of(await api.client.post(f"/api/v1/pipeline-runs/{new_id}/actions/rerun-failed", headers=headers),
                 422, "NOTHING_TO_RERUN")


async def test_cancel_and_one_running_run_per_pipeline(env: Env) -> None:
    async with env.api() as api:
        headers = await api.headers(Role.OPERATOR)
        response = await api.client.post("/api/v1/pipelines/nightly/actions/run", headers=headers)
        assert response.status_code == 202, response.text
        run_id = response.json()["data"]["pipeline_run_id"]
        conflict = error_of(await api.client.post("/api/v1/pipelines/nightly/actions/run", headers=headers),
                            409, "PIPELINE_RUNNING")
        assert conflict["details"][0]["context"] == {"pipeline_run_id": run_id}
        async with api.container() as scope:
            start = await scope.get(StartPipelineRun)
            try:
                await start.start_run("nightly", trigger="scheduled", created_by=None, job_id=None, request_id=None)
            except PipelineRunningError as exc:
                assert exc.pipeline_run_id == run_id
        await _advance(env, api.container, run_id)
        response = await api.client.post(f"/api/v1/pipeline-runs/{run_id}/actions/cancel", headers=headers)
        assert response.status_code == 202, response.text
        [partitions] = env.launcher.launched(K.PARTITION_MAINTENANCE)
        assert partitions.cancel_requested
        await _advance(env, api.container, run_id)
        steps = await _steps(env, api.container, run_id)
        assert steps["status"] == "cancelled"
        assert steps["partitions"][0] == "cancelled" and steps["accounts"][0] == "cancelled"
        error_of(await api.client.post(f"/api/v1/pipeline-runs/{run_id}/actions/cancel", headers=headers),
                 409, "INVALID_STATE")
        error_of(await api.client.post(f"/api/v1/pipeline-runs/{run_id}/actions/rerun-failed",
                                       headers=await api.headers(Role.AUDITOR)), 403, "PERMISSION_DENIED")
        runs = data_of(await api.client.get("/api/v1/pipeline-runs", params={"status": "cancelled"},
                                            headers=await api.headers(Role.AUDITOR)))
        assert [r["id"] for r in runs["items"]] == [run_id] and "steps" not in runs["items"][0]


async def test_a_held_fleet_lock_fails_the_step_at_once(env: Env) -> None:
    container = env.container()
    try:
        run_id = await _start(env, container)
        from whalefall.application.ports.scheduler import LaunchRequest

        await env.launcher.launch(LaunchRequest(kind=K.PARTITION_MAINTENANCE, trigger=SessionTrigger.MANUAL))
        await _advance(env, container, run_id)
        view = await env.run(container, GetPipelineRun, Actor.system(), run_id)
        steps = {s.step_name: s for s in view.run.steps}
        assert steps["partitions"].status.value == "failed" and steps["partitions"].error_code == "ALREADY_RUNNING"
        assert view.run.status.value == "failed"
        assert {s.status.value for n, s in steps.items() if n != "partitions"} == {"skipped"}
    finally:
        await container.close()


O6 = {"name": "loops", "steps": [
    {"name": "a", "kind": "accounts_sync", "depends_on": ["c"]},
    {"name": "b", "kind": "capacity_collection", "depends_on": ["a"]},
    {"name": "c", "kind": "classification", "depends_on": ["b"]},
    {"name": "d", "kind": "retention_cleanup", "depends_on": ["x"]},
]}


async def test_o6_validation_through_the_api(env: Env) -> None:
    async with env.api() as api:
        headers = await api.headers(Role.OPERATOR)
        body = error_of(await api.client.post("/api/v1/pipelines", json=O6, headers=headers), 422,
                        "PIPELINE_INVALID")
        assert [(d["field"], d["message"]) for d in body["details"]] == [
            ("body.steps[3].depends_on[0]", 'unknown step "x"'), ("body.steps", "cycle a → b → c → a")]
        dry = data_of(await api.client.post("/api/v1/pipelines/actions/validate", json=O6,
                                            headers=await api.headers(Role.AUDITOR)))
        assert dry["valid"] is False and len(dry["problems"]) == 2
        error_of(await api.client.post("/api/v1/pipelines", json={**O6, "colour": 1}, headers=headers), 400,
                 "VALIDATION_ERROR")
        good = {"name": "weekly", "schedule": {"cron": "0 6 * * 0"},
                "steps": [{"name": "sync", "kind": "accounts_sync"},
                          {"name": "classify", "kind": "classification", "depends_on": ["sync"]}]}
        created = await api.client.post("/api/v1/pipelines", json=good, headers=headers)
        assert created.status_code == 201, created.text
        assert created.json()["data"]["levels"] == [["sync"], ["classify"]]
        error_of(await api.client.post("/api/v1/pipelines", json=good, headers=headers), 409, "ALREADY_EXISTS")
        job = data_of(await api.client.get("/api/v1/scheduler/jobs/pipeline:weekly", headers=headers))
        assert job["kind"] == "pipeline" and job["target"] == "weekly" and job["enabled"] is True
        put = {**good, "description": "d"}
        error_of(await api.client.put("/api/v1/pipelines/weekly", json=put, headers=headers), 400,
                 "VALIDATION_ERROR")
        error_of(await api.client.put("/api/v1/pipelines/weekly", json={**put, "revision": 9}, headers=headers),
                 409, "VERSION_CONFLICT")
        replaced = data_of(await api.client.put("/api/v1/pipelines/weekly", json={**put, "revision": 1},
                                                headers=headers))
        assert replaced["revision"] == 2 and replaced["description"] == "d"
        error_of(await api.client.delete("/api/v1/pipelines/nightly", headers=headers), 409, "RESOURCE_PROTECTED")
        data_of(await api.client.delete("/api/v1/pipelines/weekly", headers=headers))
        error_of(await api.client.get("/api/v1/scheduler/jobs/pipeline:weekly", headers=headers), 404,
                 "RESOURCE_NOT_FOUND")
        error_of(await api.client.post("/api/v1/pipelines/nightly/actions/reset", headers=headers), 403,
                 "PERMISSION_DENIED")
        reset = data_of(await api.client.post("/api/v1/pipelines/nightly/actions/reset",
                                              headers=await api.headers(Role.ADMIN)))
        assert reset["levels"] == [["partitions"], ["accounts", "capacity"], ["aggregation", "classification"]]
        error_of(await api.client.get("/api/v1/pipelines", headers=await api.headers(Role.VIEWER)), 403,
                 "PERMISSION_DENIED")
