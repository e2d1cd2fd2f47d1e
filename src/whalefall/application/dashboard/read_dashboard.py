"""The dashboard (api.md §3.18, operations.md §7): cached sections with explicit invalidation after commit."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from whalefall.application.ports.cache import Cache, CacheUnavailableError
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.dashboard import DashboardReader, Section
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.csv_codec import format_instant
from whalefall.domain.errors import NotFoundError
from whalefall.domain.identity.roles import Permission

logger = logging.getLogger(__name__)

#: The sections of operations.md §7 whose sources exist today, in display order.
SECTIONS: Final = ("instances", "connectivity", "databases", "runs", "logs")
#: Sections that only time changes get the short TTL; the rest rely on invalidation, with the TTL as a safety net.
SHORT_TTL: Final = {"logs": 60}
FAILING_LIMIT: Final = 50


def cache_key(section: str) -> str:
    return f"dashboard:v1:{section}"


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return format_instant(value)
    return str(value)


async def invalidate_sections(cache: Cache, sections: Iterable[str]) -> None:
    """Drop cached sections after a committed write; a cache failure is logged, never raised (the TTL bounds the
    staleness)."""
    keys = [cache_key(s) for s in sections]
    try:
        await cache.delete(*keys)
    except CacheUnavailableError:
        logger.warning("dashboard.cache_error", extra={"operation": "invalidate", "keys": keys})


@dataclass(frozen=True, slots=True)
class ReadDashboard:
    """dashboard:read; figures are the same for every role that may read them. Each section is cached under
    `dashboard:v1:<section>` with its `computed_at` (TTL 300 s, `logs` 60 s); empty and zero results are cached
    like any other. Cache errors never fail the request: the section is computed directly. An unknown section →
    404."""

    reader: DashboardReader
    cache: Cache
    clock: Clock
    ttl_s: int = 300

    async def execute(self, actor: Actor, section: str | None = None) -> dict[str, dict[str, object]]:
        actor.require(Permission.DASHBOARD_READ)
        if section is not None and section not in SECTIONS:
            raise NotFoundError("dashboard section", section)
        names = SECTIONS if section is None else (section,)
        return {name: await self._section(name) for name in names}

    async def _section(self, name: str) -> dict[str, object]:
        key = cache_key(name)
        try:
            cached = await self.cache.get(key)
        except CacheUnavailableError:
            logger.warning("dashboard.cache_error", extra={"operation": "get", "key": key})
            cached = None
        if cached is not None:
            value: dict[str, object] = json.loads(cached)
            return value
        now = self.clock.now()
        computed = {"computed_at": now, **(await self._compute(name, now))}
        text = json.dumps(computed, default=_default, sort_keys=True)
        try:
            await self.cache.set(key, text, ttl_s=SHORT_TTL.get(name, self.ttl_s))
        except CacheUnavailableError:
            logger.warning("dashboard.cache_error", extra={"operation": "set", "key": key})
        result: dict[str, object] = json.loads(text)
        return result

    async def _compute(self, name: str, now: datetime) -> Mapping[str, object]:
        computations: dict[str, Callable[[], Awaitable[Section]]] = {
            "instances": self.reader.instances,
            "connectivity": lambda: self.reader.connectivity(failing_limit=FAILING_LIMIT),
            "databases": self.reader.databases,
            "runs": lambda: self.reader.runs(since=now - timedelta(hours=24)),
            "logs": lambda: self.reader.logs(since=now - timedelta(hours=24),
                                             days_since=(now - timedelta(days=6)).replace(hour=0, minute=0, second=0,
                                                                                          microsecond=0)),
        }
        return await computations[name]()
