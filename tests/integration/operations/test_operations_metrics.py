"""Operations metrics of operations.md §9: store-backed gauges at scrape time (sessions running, next fires, last
partition maintenance, broker depth), sessions finished through the finalised listeners, reaper actions, worker
and scheduler gauges, and the `--metrics-port` listener of worker and scheduler processes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from dishka.integrations.taskiq import TaskiqProvider
from sqlalchemy import insert

from tests.fakes.sessions import ScriptedWork
from tests.integration.logs.test_metrics_api import assert_valid_exposition
from tests.integration.operations.conftest import Env
from tests.integration.operations.test_fire_logic import _setup, at
from tests.integration.worker.test_worker import factories, open_session, wait_terminal
from tests.support.http_client import Api
from whalefall.adapters.observability.metrics import MetricsRegistry
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.operations import scheduled_jobs
from whalefall.adapters.persistence.tables.sessions import sync_sessions
from whalefall.application.pipelines.advance import AdvancePipelineRun
from whalefall.application.pipelines.runs import StartPipelineRun
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.scheduler import DueFire
from whalefall.application.scheduler.fire_job import ClaimFire, FireJob, PlanFires
from whalefall.application.sessions.reap import ReapOutcome
from whalefall.domain.identity.roles import Role
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.di.operations import ProcessMetrics, metrics_endpoint
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker


async def test_scrape_time_operations_gauges(api: Api) -> None:
    now = (await api.container.get(Clock)).now()
    next_fire = now + timedelta(hours=3)
    database = await api.container.get(Database)
    async with database.engine.begin() as connection:
        await connection.execute(insert(sync_sessions), [
            {"id": str(uuid.uuid4()), "kind": kind, "scope": "targeted", "trigger": "manual", "status": status,
             "created_at": now - timedelta(hours=1), "finished_at": finished, "params": {}, "summary": {}}
            for kind, status, finished in (("connection_test", "running", None),
                                           ("partition_maintenance", "completed", now - timedelta(minutes=30)),
                                           ("partition_maintenance", "failed", now - timedelta(minutes=5)))])
        await connection.execute(insert(scheduled_jobs), [
            {"id": job_id, "kind": "retention_cleanup", "name": job_id, "cron": "0 5 * * *", "timezone": "UTC",
             "enabled": enabled, "params": {}, "is_builtin": False, "revision": 1, "updated_at": now,
             "schedule_changed_at": now, "next_fire_at": next_fire}
            for job_id, enabled in (("wf_h7_enabled", True), ("wf_h7_paused", False))])
    response = await api.client.get("/api/v1/metrics", headers=await api.headers(Role.AUDITOR))
    assert response.status_code == 200, response.text
    text = response.text
    assert_valid_exposition(text)
    assert 'whalefall_sessions_running{kind="connection_test"} 1.0' in text
    assert 'whalefall_sessions_running{kind="accounts_sync"} 0.0' in text, "every kind is exposed, zeros included"
    assert f'whalefall_scheduler_next_fire_timestamp_seconds{{job="wf_h7_enabled"}} {next_fire.timestamp()}' in text
    assert 'job="wf_h7_paused"' not in text, "a paused job has no next fire"
    success = (now - timedelta(minutes=30)).timestamp()
    assert f"whalefall_partition_maintenance_last_success_timestamp_seconds {success}" in text, \
        "the newest COMPLETED maintenance counts, not the later failed one"
    assert "whalefall_broker_queue_depth 0.0" in text, "the in-memory broker has no backlog"
    if database.is_sqlite:
        assert "whalefall_partition_default_rows{" not in text, "no partitions on SQLite"
    else:
        assert 'whalefall_partition_default_rows{table="database_size_samples"} 0.0' in text
        assert 'whalefall_partition_future_months{table="instance_size_aggregations"}' in text


async def test_finished_sessions_and_worker_gauges(env: Env) -> None:
    container = make_container(env.settings, WorkerProvider(factories(ScriptedWork())), TaskiqProvider())
    try:
        async with embedded_worker(container):
            session = await open_session(container, 3)
            await wait_terminal(container, session.id)
        metrics = await container.get(ProcessMetrics)
        metrics.reaped(ReapOutcome(workers_lost=2, finalised=1))
        finished = 'whalefall_sessions_finished_total{kind="connection_test",status="completed"} 1.0'
        async with asyncio.timeout(5):  # listeners are told after the finalising commit, maybe after the poll saw it
            while True:
                text = await metrics.render()
                if finished in text:
                    break
                await asyncio.sleep(0.05)
        assert "whalefall_worker_tasks_running 0.0" in text
        assert "whalefall_worker_concurrency_limit 32.0" in text
        assert 'whalefall_reaper_actions_total{action="worker_lost"} 2.0' in text
        assert 'whalefall_reaper_actions_total{action="redispatch"} 0.0' in text
    finally:
        await container.close()


async def test_metrics_port_serves_the_process_registry() -> None:
    registry = MetricsRegistry()
    metrics = ProcessMetrics(registry)
    leader = [False]
    metrics.watch_leadership(lambda: leader[0])
    async with metrics_endpoint(metrics, 0, host="127.0.0.1") as port:
        assert port
        leader[0] = True
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        answer = (await reader.read()).decode()
        writer.close()
        await writer.wait_closed()
    head, body = answer.split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 200 OK") and "text/plain; version=0.0.4" in head
    assert_valid_exposition(body)
    assert "whalefall_scheduler_is_leader 1.0" in body
    async with metrics_endpoint(metrics, None) as nothing:
        assert nothing is None


async def test_scheduler_fires_misfires_and_pipeline_runs_are_counted(env: Env) -> None:
    """O8's misfire and fires by outcome (the fleet lock turns the second fire into skipped_running); a pipeline
    run's steps observe their durations and the finished run is counted once."""
    container = await _setup(env, last_fire=at(2, 45))
    try:
        env.clock.current = at(4, 20)
        await env.run(container, PlanFires, "leader-a")
        await env.run(container, PlanFires, "leader-b")  # the same misfire, already written: not counted again
        for day in (1, 2):
            fire = DueFire(job_id="capacity_aggregation", scheduled_for=at(4, 0, day=day))
            assert await env.run(container, ClaimFire, fire, leader_id="a")
            await env.run(container, FireJob, fire)
        async with container() as scope:
            run = await (await scope.get(StartPipelineRun)).start_run(
                "nightly", trigger="manual", created_by=None, job_id=None, request_id=None)
        await env.run(container, AdvancePipelineRun, run.pipeline_run_id)
        env.clock.advance(90)
        env.launcher.finish_kind(SessionKind.PARTITION_MAINTENANCE, SessionStatus.FAILED)
        await env.run(container, AdvancePipelineRun, run.pipeline_run_id)  # blocked dependants skip → run failed
        await env.run(container, AdvancePipelineRun, run.pipeline_run_id)
        text = (await container.get(MetricsRegistry)).render()
    finally:
        await container.close()
    assert 'whalefall_scheduler_misfires_total{job="capacity_collection"} 1.0' in text
    assert 'whalefall_scheduler_fires_total{job="capacity_collection",outcome="misfire_skipped"} 1.0' in text
    assert 'whalefall_scheduler_fires_total{job="capacity_aggregation",outcome="fired"} 1.0' in text
    assert 'whalefall_scheduler_fires_total{job="capacity_aggregation",outcome="skipped_running"} 1.0' in text
    assert 'whalefall_pipeline_runs_total{pipeline="nightly",status="failed"} 1.0' in text
    assert ('whalefall_pipeline_step_duration_seconds_sum{pipeline="nightly",step="partitions"} 90.0'
            in text)
    assert 'step="accounts"' not in text, "a step that never started has no duration"
