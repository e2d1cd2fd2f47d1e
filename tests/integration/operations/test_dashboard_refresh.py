"""Dashboard invalidation outside HTTP answers (operations.md §7 "invalidated by"): scheduler fires and misfires
drop `jobs`, a fire that created a session also `runs` and `trends`, pipeline step sessions `runs` and `trends`,
a finalised pipeline run `runs` and `jobs`. Checked on the container's real cache."""

from __future__ import annotations

from dishka import AsyncContainer

from tests.integration.operations.conftest import Env
from tests.integration.operations.test_fire_logic import _setup, at
from tests.integration.operations.test_pipelines import _advance, _start, _steps
from tests.support.http_client import data_of
from whalefall.application.dashboard.read_dashboard import SECTIONS, cache_key
from whalefall.application.ports.cache import Cache
from whalefall.application.ports.scheduler import DueFire, FireOutcome
from whalefall.application.scheduler.fire_job import ClaimFire, FireJob, PlanFires
from whalefall.domain.identity.roles import Role
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus


async def _fill(container: AsyncContainer) -> Cache:
    """Every section cached, as after a dashboard read."""
    cache = await container.get(Cache)
    for section in SECTIONS:
        await cache.set(cache_key(section), "{}", ttl_s=300)
    return cache


async def _dropped(cache: Cache) -> set[str]:
    return {section for section in SECTIONS if await cache.get(cache_key(section)) is None}


async def test_a_fire_drops_jobs_and_the_runs_it_created(env: Env) -> None:
    container = await _setup(env, last_fire=at(2, 45))
    try:
        cache = await _fill(container)
        first = DueFire(job_id="capacity_collection", scheduled_for=at(3, 0))
        assert await env.run(container, ClaimFire, first, leader_id="a")
        assert await _dropped(cache) == set(), "claiming the instant is not the fire yet"
        assert await env.run(container, FireJob, first) is FireOutcome.FIRED
        assert await _dropped(cache) == {"jobs", "runs", "trends"}
        cache = await _fill(container)
        second = DueFire(job_id="capacity_collection", scheduled_for=at(3, 0, day=2))
        assert await env.run(container, ClaimFire, second, leader_id="a")
        assert await env.run(container, FireJob, second) is FireOutcome.SKIPPED_RUNNING
        assert await _dropped(cache) == {"jobs"}, "a skipped fire created no session"
    finally:
        await container.close()


async def test_a_misfire_drops_jobs_and_a_plan_without_one_drops_nothing(env: Env) -> None:
    container = await _setup(env, last_fire=at(2, 45))
    try:
        cache = await _fill(container)
        env.clock.current = at(2, 50)
        await env.run(container, PlanFires, "leader-a")
        assert await _dropped(cache) == set()
        env.clock.current = at(4, 20)  # capacity_collection's 03:00 instant is past the grace: misfire_skipped
        await env.run(container, PlanFires, "leader-a")
        assert await _dropped(cache) == {"jobs"}
    finally:
        await container.close()


async def test_pipeline_step_sessions_and_the_run_finalisation_drop_their_sections(env: Env) -> None:
    container = env.container()
    try:
        run_id = await _start(env, container)
        cache = await _fill(container)
        await _advance(env, container, run_id)  # partitions starts: its session was created
        assert await _dropped(cache) == {"runs", "trends"}
        cache = await _fill(container)
        await _advance(env, container, run_id)  # nothing new
        assert await _dropped(cache) == set()
        env.launcher.finish_kind(SessionKind.PARTITION_MAINTENANCE, SessionStatus.FAILED)
        await _advance(env, container, run_id)  # every other step is blocked: the run is finalised
        assert (await _steps(env, container, run_id))["status"] == "failed"
        assert await _dropped(cache) == {"runs", "jobs"}
    finally:
        await container.close()


async def test_job_edits_through_the_api_drop_the_jobs_section(env: Env) -> None:
    async with env.api() as api:
        operator = await api.headers(Role.OPERATOR)
        job = data_of(await api.client.get("/api/v1/scheduler/jobs/retention_cleanup", headers=operator))
        cache = await _fill(api.container)
        data_of(await api.client.patch("/api/v1/scheduler/jobs/retention_cleanup", headers=operator,
                                       json={"revision": job["revision"], "cron": "15 5 * * *"}))
        assert await _dropped(cache) == {"jobs"}
        cache = await _fill(api.container)
        data_of(await api.client.post("/api/v1/scheduler/jobs/retention_cleanup/actions/pause", headers=operator))
        assert await _dropped(cache) == {"jobs"}
