"""Read the unified logs (operations.md §5.4, api.md §3.16): bounded windows, filters, stats and module counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.logs import (
    LogEntry,
    LogLevel,
    LogQuery,
    LogReader,
    LogStats,
    TimeWindow,
    levels_at_or_above,
    resolve_window,
)
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import NotFoundError, Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.logs.redaction import LOG_MODULES

DEFAULT_WINDOW: Final = timedelta(hours=24)
MAX_WINDOW: Final = timedelta(days=31)
TOP_MODULES: Final = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class LogSearchInput:
    actor: Actor
    since: datetime | None = None
    until: datetime | None = None
    levels: frozenset[LogLevel] = frozenset()
    min_level: LogLevel | None = None
    modules: frozenset[str] = frozenset()
    logger_prefix: str | None = None
    event_prefix: str | None = None
    q: str | None = None
    request_id: str | None = None
    session_id: str | None = None
    pipeline_run_id: str | None = None
    instance_id: int | None = None
    user_id: int | None = None
    page: PageRequest = field(default_factory=PageRequest)


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowInput:
    actor: Actor
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModuleCount:
    module: str
    count: int


@dataclass(frozen=True, slots=True)
class SearchLogs:
    """logs:read. The window defaults to the last 24 h and spans at most 31 days (else 400 `window_too_large`);
    `level` and `min_level` are exclusive; `q` is a case-insensitive substring of the message only."""

    logs: LogReader
    clock: Clock

    async def execute(self, data: LogSearchInput) -> Page[LogEntry]:
        data.actor.require(Permission.LOGS_READ)
        window = log_window(data.since, data.until, self.clock.now())
        if data.levels and data.min_level is not None:
            raise ValidationProblemsError([Problem("query.min_level", "invalid_combination",
                                                   "give either level or min_level, not both")])
        unknown = sorted(data.modules - set(LOG_MODULES))
        if unknown:
            raise ValidationProblemsError([Problem("query.module", "invalid_choice", f"unknown module {name!r}",
                                                   {"allowed": list(LOG_MODULES)}) for name in unknown])
        levels = levels_at_or_above(data.min_level) if data.min_level is not None else data.levels
        query = LogQuery(window=window, levels=levels, modules=data.modules, logger_prefix=data.logger_prefix,
                         event_prefix=data.event_prefix, q=data.q, request_id=data.request_id,
                         session_id=data.session_id, pipeline_run_id=data.pipeline_run_id,
                         instance_id=data.instance_id, user_id=data.user_id)
        return await self.logs.search(query, data.page)


@dataclass(frozen=True, slots=True)
class GetLogEntry:
    """logs:read; 404 when the entry does not exist (or was removed by retention)."""

    logs: LogReader

    async def execute(self, actor: Actor, log_id: int) -> LogEntry:
        actor.require(Permission.LOGS_READ)
        entry = await self.logs.get(log_id)
        if entry is None:
            raise NotFoundError("log entry", log_id)
        return entry


@dataclass(frozen=True, slots=True)
class GetLogStats:
    """logs:read. Counts per level (every level present, zeros included), the top 20 modules, ERROR and CRITICAL
    events per hour and the dropped events the sink recorded in the window; same window rules as the search."""

    logs: LogReader
    clock: Clock

    async def execute(self, data: WindowInput) -> LogStats:
        data.actor.require(Permission.LOGS_READ)
        stats = await self.logs.stats(log_window(data.since, data.until, self.clock.now()), top=TOP_MODULES)
        counts = {level.value: stats.counts_by_level.get(level.value, 0) for level in LogLevel}
        return LogStats(counts_by_level=counts, top_modules=stats.top_modules, errors_per_hour=stats.errors_per_hour,
                        dropped_events_total=stats.dropped_events_total)


@dataclass(frozen=True, slots=True)
class ListLogModules:
    """logs:read. The fixed module list (operations.md §5.1) in its order, each with its count in the window."""

    logs: LogReader
    clock: Clock

    async def execute(self, data: WindowInput, page: PageRequest) -> Page[ModuleCount]:
        data.actor.require(Permission.LOGS_READ)
        counts = await self.logs.module_counts(log_window(data.since, data.until, self.clock.now()))
        items = [ModuleCount(module=name, count=counts.get(name, 0)) for name in LOG_MODULES]
        return Page(tuple(items[page.offset:page.offset + page.limit]), len(items), page.page, page.limit)


def log_window(since: datetime | None, until: datetime | None, now: datetime) -> TimeWindow:
    return resolve_window(since, until, now=now, default=DEFAULT_WINDOW, maximum=MAX_WINDOW)
