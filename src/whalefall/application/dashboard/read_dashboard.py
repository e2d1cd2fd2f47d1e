"""The dashboard (api.md §3.18, operations.md §7): cached sections with explicit invalidation after commit and one
computer per expired section."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

from whalefall.application.ports.cache import Cache, CacheUnavailableError
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.dashboard import DashboardReader, PartitionHealthReader, Section
from whalefall.application.ports.locks import LockBackendUnavailableError, LockManager
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.csv_codec import format_instant
from whalefall.domain.errors import NotFoundError
from whalefall.domain.identity.roles import Permission

logger = logging.getLogger(__name__)

#: The sections of operations.md §7, in the spec's order.
SECTIONS: Final = ("instances", "connectivity", "accounts", "databases", "capacity", "runs", "jobs", "partitions",
                   "logs", "growth", "trends")
#: Sections that only time changes get the short TTL; the rest rely on invalidation, with the TTL as a safety net.
SHORT_TTL: Final = {"logs": 60}
FAILING_LIMIT: Final = 50
LOCK_TTL_S: Final = 10.0
WAIT_S: Final = 2.0
POLL_S: Final = 0.05
SESSION_TREND_DAYS: Final = 14
FLEET_TREND_DAYS: Final = 30
Sleep = Callable[[float], Awaitable[None]]


def cache_key(section: str) -> str:
    return f"dashboard:v1:{section}"


def lock_name(section: str) -> str:
    return f"dashboard:v1:{section}:compute"


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _previous_month(today: date) -> date:
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


async def invalidate_sections(cache: Cache, sections: Iterable[str]) -> None:
    """Drop cached sections after a committed write; a cache failure is logged, never raised (the TTL bounds the
    staleness)."""
    keys = [cache_key(s) for s in sections]
    try:
        await cache.delete(*keys)
    except CacheUnavailableError:
        logger.warning("dashboard.cache_error", extra={"operation": "invalidate", "keys": keys})


class NoPartitionHealth(PartitionHealthReader):
    """Stand-in where partitions are not wired (unit tests): the section says so instead of failing."""

    async def partition_health(self) -> Section:
        return {"status": "not_applicable", "checks": [], "last_maintenance": None}


_NO_PARTITION_HEALTH: Final = NoPartitionHealth()


@dataclass(frozen=True, slots=True)
class ReadDashboard:
    """dashboard:read; figures are the same for every role that may read them. Each section is cached under
    `dashboard:v1:<section>` with its `computed_at` (TTL 300 s, `logs` 60 s); empty and zero results are cached
    like any other. A missing section is computed by one process at a time (lock `dashboard:v1:<section>:compute`,
    10 s expiry); the others wait up to 2 s for its result, then compute it themselves. Cache and lock errors never
    fail the request: the section is computed directly. Business dates (capacity freshness, growth month, fleet
    trend) follow the configured time zone; session and log days are UTC days. An unknown section → 404."""

    reader: DashboardReader
    cache: Cache
    clock: Clock
    ttl_s: int = 300
    locks: LockManager | None = None
    partitions: PartitionHealthReader = _NO_PARTITION_HEALTH
    zone: tzinfo = UTC
    sleep: Sleep = asyncio.sleep

    async def execute(self, actor: Actor, section: str | None = None) -> dict[str, dict[str, object]]:
        actor.require(Permission.DASHBOARD_READ)
        if section is not None and section not in SECTIONS:
            raise NotFoundError("dashboard section", section)
        names = SECTIONS if section is None else (section,)
        return {name: await self._section(name) for name in names}

    async def _cached(self, key: str) -> dict[str, object] | None:
        try:
            cached = await self.cache.get(key)
        except CacheUnavailableError:
            logger.warning("dashboard.cache_error", extra={"operation": "get", "key": key})
            return None
        if cached is None:
            return None
        value: dict[str, object] = json.loads(cached)
        return value

    async def _section(self, name: str) -> dict[str, object]:
        key = cache_key(name)
        cached = await self._cached(key)
        if cached is not None:
            return cached
        if self.locks is None:
            return await self._compute_and_store(name)
        try:
            lease = await self.locks.try_acquire(lock_name(name), owner="dashboard", ttl_s=LOCK_TTL_S)
        except LockBackendUnavailableError:
            logger.warning("dashboard.lock_error", extra={"section": name})
            return await self._compute_and_store(name)
        if lease is not None:
            try:
                return await self._compute_and_store(name)
            finally:
                try:
                    await self.locks.release(lease)
                except LockBackendUnavailableError:
                    logger.warning("dashboard.lock_error", extra={"section": name})  # it expires in 10 s
        waited = 0.0
        while waited < WAIT_S:
            await self.sleep(POLL_S)
            waited += POLL_S
            cached = await self._cached(key)
            if cached is not None:
                return cached
        return await self._compute_and_store(name)

    async def _compute_and_store(self, name: str) -> dict[str, object]:
        now = self.clock.now()
        computed = {"computed_at": now, **(await self._compute(name, now))}
        text = json.dumps(computed, default=_default, sort_keys=True)
        try:
            await self.cache.set(cache_key(name), text, ttl_s=SHORT_TTL.get(name, self.ttl_s))
        except CacheUnavailableError:
            logger.warning("dashboard.cache_error", extra={"operation": "set", "key": cache_key(name)})
        result: dict[str, object] = json.loads(text)
        return result

    async def _compute(self, name: str, now: datetime) -> Mapping[str, object]:
        today = now.astimezone(self.zone).date()
        utc_midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        computations: dict[str, Callable[[], Awaitable[Section]]] = {
            "instances": self.reader.instances,
            "connectivity": lambda: self.reader.connectivity(failing_limit=FAILING_LIMIT),
            "accounts": self.reader.accounts,
            "databases": self.reader.databases,
            "capacity": lambda: self.reader.capacity(today=today),
            "runs": lambda: self.reader.runs(since=now - timedelta(hours=24)),
            "jobs": self.reader.jobs,
            "partitions": self.partitions.partition_health,
            "logs": lambda: self.reader.logs(since=now - timedelta(hours=24),
                                             days_since=utc_midnight - timedelta(days=6)),
            "growth": lambda: self.reader.growth(month_start=_previous_month(today)),
            "trends": lambda: self.reader.trends(
                sessions_since=utc_midnight - timedelta(days=SESSION_TREND_DAYS - 1),
                session_days=SESSION_TREND_DAYS, samples_since=today - timedelta(days=FLEET_TREND_DAYS - 1),
                today=today),
        }
        return await computations[name]()
