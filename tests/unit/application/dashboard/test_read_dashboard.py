"""ReadDashboard (operations.md §7): one computer per missing section, the 2 s wait, fallbacks, invalidation by
finalised sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from tests.fakes.sessions import SettableClock
from whalefall.adapters.inmemory.cache import InMemoryCache
from whalefall.adapters.inmemory.locks import InMemoryLockManager
from whalefall.application.dashboard.invalidation import DashboardInvalidator, sections_for
from whalefall.application.dashboard.read_dashboard import SECTIONS, ReadDashboard, cache_key, lock_name
from whalefall.application.ports.dashboard import DashboardReader, Section
from whalefall.application.ports.locks import Lease, LockBackendUnavailableError, LockManager
from whalefall.application.ports.sessions import SessionView
from whalefall.application.shared.actor import Actor
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger


class CountingReader(DashboardReader):
    """Every section is `{"n": <how many times it was computed>}`; `gate` holds computations until set."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.gate = asyncio.Event()
        self.gate.set()

    async def _count(self, name: str) -> Section:
        self.calls[name] = self.calls.get(name, 0) + 1
        await self.gate.wait()
        return {"n": self.calls[name]}

    async def instances(self) -> Section:
        return await self._count("instances")

    async def connectivity(self, *, failing_limit: int) -> Section:
        return await self._count("connectivity")

    async def databases(self) -> Section:
        return await self._count("databases")

    async def runs(self, *, since: datetime) -> Section:
        return await self._count("runs")

    async def accounts(self) -> Section:
        return await self._count("accounts")

    async def capacity(self, *, today: date) -> Section:
        return await self._count("capacity")

    async def jobs(self) -> Section:
        return await self._count("jobs")

    async def growth(self, *, month_start: date) -> Section:
        assert month_start == date(2027, 2, 1)  # the last complete month on 2027-03-01
        return await self._count("growth")

    async def trends(self, *, sessions_since: datetime, session_days: int, samples_since: date, today: date
                     ) -> Section:
        assert (session_days, (today - samples_since).days) == (14, 29)
        return await self._count("trends")

    async def logs(self, *, since: datetime, days_since: datetime) -> Section:
        return await self._count("logs")


class BrokenLocks(InMemoryLockManager):
    async def try_acquire(self, name: str, *, owner: str, ttl_s: float) -> Lease | None:
        raise LockBackendUnavailableError()


def _dashboard(reader: DashboardReader, cache: InMemoryCache, locks: LockManager | None,
               slept: list[float] | None = None) -> ReadDashboard:
    async def sleep(seconds: float) -> None:
        if slept is not None:
            slept.append(seconds)
        await asyncio.sleep(0)

    return ReadDashboard(reader, cache, SettableClock(), locks=locks, sleep=sleep)


async def test_every_section_of_the_spec_is_computed_once_then_cached() -> None:
    reader, cache = CountingReader(), InMemoryCache()
    dashboard = _dashboard(reader, cache, InMemoryLockManager())
    first = await dashboard.execute(Actor.system())
    assert tuple(first) == SECTIONS == ("instances", "connectivity", "accounts", "databases", "capacity", "runs",
                                        "jobs", "partitions", "logs", "growth", "trends")
    assert first["partitions"]["status"] == "not_applicable"
    assert await dashboard.execute(Actor.system()) == first
    assert set(reader.calls.values()) == {1}


async def test_concurrent_readers_of_a_missing_section_compute_it_once() -> None:
    reader, cache, locks = CountingReader(), InMemoryCache(), InMemoryLockManager()
    reader.gate.clear()
    slept: list[float] = []
    dashboard = _dashboard(reader, cache, locks, slept)
    readers = [asyncio.create_task(dashboard.execute(Actor.system(), "accounts")) for _ in range(3)]
    for _ in range(10):  # let the first take the lock and the two others start waiting for its result
        await asyncio.sleep(0)
    assert slept
    assert await locks.holder(lock_name("accounts")) == "dashboard"
    reader.gate.set()
    results = await asyncio.gather(*readers)
    assert reader.calls == {"accounts": 1}
    assert all(r["accounts"]["n"] == 1 for r in results)
    assert await locks.holder(lock_name("accounts")) is None


async def test_a_waiter_computes_itself_after_2_seconds() -> None:
    """The holder died (its lock lives on for 10 s): the others do not wait longer than 2 s."""
    reader, cache, locks = CountingReader(), InMemoryCache(), InMemoryLockManager()
    await locks.try_acquire(lock_name("jobs"), owner="crashed", ttl_s=10)
    slept: list[float] = []
    result = await _dashboard(reader, cache, locks, slept).execute(Actor.system(), "jobs")
    assert result["jobs"]["n"] == 1
    assert sum(slept) == pytest.approx(2.0)
    assert await cache.get(cache_key("jobs")) is not None


async def test_a_lock_backend_failure_computes_directly() -> None:
    reader, cache = CountingReader(), InMemoryCache()
    result = await _dashboard(reader, cache, BrokenLocks()).execute(Actor.system(), "growth")
    assert result["growth"]["n"] == 1


async def test_a_finalised_session_drops_the_sections_its_kind_feeds() -> None:
    cache = InMemoryCache()
    for name in SECTIONS:
        await cache.set(cache_key(name), "{}", ttl_s=300)
    at = datetime(2027, 3, 1, 3, tzinfo=UTC)
    view = SessionView(id="s1", kind=SessionKind.CAPACITY_AGGREGATION, scope=SessionScope.FLEET,
                       trigger=SessionTrigger.SCHEDULED, status=SessionStatus.COMPLETED, job_id=None,
                       pipeline_run_id=None, step_name=None, created_by=None, created_by_name=None,
                       origin_request_id=None, params={}, summary={}, total=1, pending=0, running=0, succeeded=1,
                       failed=0, skipped=0, cancelled=0, created_at=at, started_at=at, finished_at=at,
                       cancel_requested_at=None, error_code=None, error_message=None)
    await DashboardInvalidator(cache).session_finalised(view)
    dropped = {name for name in SECTIONS if await cache.get(cache_key(name)) is None}
    assert dropped == {"capacity", "growth", "runs", "jobs", "trends"}
    assert set(sections_for(SessionKind.ACCOUNTS_SYNC)) == {"connectivity", "accounts", "runs", "jobs", "trends"}
    assert set(sections_for(SessionKind.PARTITION_MAINTENANCE)) == {"partitions", "runs", "jobs", "trends"}
    assert set(sections_for(SessionKind.RETENTION_CLEANUP)) == {"runs", "jobs", "trends"}
