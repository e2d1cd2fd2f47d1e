"""The fire logic against the job store (operations.md §3.3–3.4, O8, O9, defects 11, 13, 15)."""

from __future__ import annotations

from datetime import UTC, datetime

from dishka import AsyncContainer
from sqlalchemy import text

from tests.integration.operations.conftest import Env
from whalefall.adapters.persistence.engine import Database
from whalefall.application.ports.scheduler import DueFire, FireOutcome, JobChange, JobStore
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.scheduler.builtins import EnsureBuiltins
from whalefall.application.scheduler.fire_job import ClaimFire, FireJob, PlanFires
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus, SessionTrigger


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2027, 3, day, hour, minute, tzinfo=UTC)


async def _setup(env: Env, *, last_fire: datetime) -> AsyncContainer:
    """Built-ins seeded long ago, every job last fired at `last_fire` (as if the scheduler had run until then)."""
    container = env.container()
    env.clock.current = at(0, 0, day=1).replace(month=2)
    await env.run(container, EnsureBuiltins)
    database = await container.get(Database)
    async with database.connect() as connection:
        await connection.execute(text("UPDATE scheduled_jobs SET last_fire_at = :t"), {"t": last_fire})
        await connection.commit()
    return container


async def test_o8_misfire_is_visible_and_a_recent_miss_fires_once(env: Env) -> None:
    """Scheduler down 02:50–04:20: capacity_collection (03:00, 80 min ago) → misfire_skipped; capacity_aggregation
    (04:00, 20 min ago) fires once at 04:20; retention_cleanup (05:00) waits for its instant."""
    container = await _setup(env, last_fire=at(2, 45))
    try:
        env.clock.current = at(4, 20)
        due = {f.job_id: f.scheduled_for for f in await env.run(container, PlanFires, "leader-a")}
        assert due["capacity_aggregation"] == at(4, 0)
        assert due["capacity_collection"] == at(3, 0, day=2)
        assert due["retention_cleanup"] == at(5, 0)
        fires = await env.rows(container, "SELECT job_id, scheduled_for, outcome FROM job_fires")
        assert [(f["job_id"], f["outcome"]) for f in fires] == [("capacity_collection", "misfire_skipped")]
        jobs = {j["id"]: j for j in await env.rows(container, "SELECT id, last_misfire_at FROM scheduled_jobs")}
        assert jobs["capacity_collection"]["last_misfire_at"] is not None
        again = {f.job_id: f.scheduled_for for f in await env.run(container, PlanFires, "leader-b")}
        assert again == due  # a second leader neither re-writes the misfire nor changes the plan
        assert len(await env.rows(container, "SELECT id FROM job_fires")) == 1
    finally:
        await container.close()


async def test_each_instant_is_claimed_once(env: Env) -> None:
    """Defect 11 at the store: two leaders overlapping both try the same instant; one row, one winner."""
    container = await _setup(env, last_fire=at(2, 45))
    try:
        fire = DueFire(job_id="capacity_collection", scheduled_for=at(3, 0))
        results = [await env.run(container, ClaimFire, fire, leader_id=name) for name in ("a", "b")]
        assert results == [True, False]
        rows = await env.rows(container, "SELECT leader_id, outcome FROM job_fires")
        assert rows == [{"leader_id": "a", "outcome": "fired"}]
    finally:
        await container.close()


async def test_fire_starts_a_scheduled_session_and_a_running_fleet_session_skips(env: Env) -> None:
    """O9 and §3.4: a still-running previous run turns the next fire into `skipped_running`."""
    container = await _setup(env, last_fire=at(2, 45))
    try:
        first = DueFire(job_id="capacity_collection", scheduled_for=at(3, 0))
        assert await env.run(container, ClaimFire, first, leader_id="a")
        assert await env.run(container, FireJob, first) is FireOutcome.FIRED
        [session] = env.launcher.launched(SessionKind.CAPACITY_COLLECTION)
        assert session.request.trigger is SessionTrigger.SCHEDULED and session.request.created_by is None
        assert session.request.job_id == "capacity_collection"
        second = DueFire(job_id="capacity_collection", scheduled_for=at(3, 0, day=2))
        assert await env.run(container, ClaimFire, second, leader_id="a")
        assert await env.run(container, FireJob, second) is FireOutcome.SKIPPED_RUNNING
        rows = await env.rows(container, "SELECT outcome, session_id FROM job_fires ORDER BY scheduled_for")
        assert rows == [{"outcome": "fired", "session_id": session.id},
                        {"outcome": "skipped_running", "session_id": session.id}]
        env.launcher.finish(session.id, SessionStatus.COMPLETED)
        audit = await env.rows(container, "SELECT actor_type, action FROM audit_events WHERE action = 'job.fire'")
        assert audit == [{"actor_type": "scheduler", "action": "job.fire"}] * 2
    finally:
        await container.close()


async def test_mondays_and_paused_jobs(env: Env) -> None:
    """Defect 15: `0 0 * * 1` fires on Mondays (2027-03-01 and 03-08 are Mondays); paused jobs are not planned."""
    container = await _setup(env, last_fire=at(2, 45))
    try:
        async with container() as scope:
            jobs = await scope.get(JobStore)
            await jobs.update("accounts_sync", JobChange(cron="0 0 * * 1", schedule_changed=True),
                              expected_revision=None, by=None, now=at(0, 0, day=2))
            await jobs.update("classification", JobChange(enabled=False), expected_revision=None, by=None,
                              now=at(0, 0, day=2))
            await (await scope.get(UnitOfWork)).commit()
        env.clock.current = at(12, 0, day=3)
        due = {f.job_id: f.scheduled_for for f in await env.run(container, PlanFires, "a")}
        assert due["accounts_sync"] == at(0, 0, day=8)
        assert "classification" not in due
    finally:
        await container.close()
