"""Bodies of the log routes (api.md §2 LogEntry, §3.16)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from whalefall.application.logs.query_logs import ModuleCount
from whalefall.application.ports.logs import LogEntry, LogStats


class LogEntryOut(msgspec.Struct, kw_only=True):
    id: int
    ts: datetime
    level: str
    logger: str
    module: str
    event: str
    message: str
    process: str
    host: str
    pid: int
    request_id: str | None
    session_id: str | None
    pipeline_run_id: str | None
    instance_id: int | None
    user_id: int | None
    exception_type: str | None
    traceback: str | None
    context: dict[str, Any]

    @classmethod
    def of(cls, entry: LogEntry) -> LogEntryOut:
        return cls(id=entry.id, ts=entry.ts, level=entry.level, logger=entry.logger, module=entry.module,
                   event=entry.event, message=entry.message, process=entry.process, host=entry.host, pid=entry.pid,
                   request_id=entry.request_id, session_id=entry.session_id, pipeline_run_id=entry.pipeline_run_id,
                   instance_id=entry.instance_id, user_id=entry.user_id, exception_type=entry.exception_type,
                   traceback=entry.traceback, context=dict(entry.context))


class ModuleCountOut(msgspec.Struct, kw_only=True):
    module: str
    count: int

    @classmethod
    def of(cls, item: ModuleCount) -> ModuleCountOut:
        return cls(module=item.module, count=item.count)


class HourCountOut(msgspec.Struct, kw_only=True):
    hour: datetime
    count: int


class LogStatsOut(msgspec.Struct, kw_only=True):
    counts_by_level: dict[str, int]
    top_modules: list[ModuleCountOut]
    errors_per_hour: list[HourCountOut]
    dropped_events_total: int

    @classmethod
    def of(cls, stats: LogStats) -> LogStatsOut:
        return cls(counts_by_level=dict(stats.counts_by_level),
                   top_modules=[ModuleCountOut(module=m, count=n) for m, n in stats.top_modules],
                   errors_per_hour=[HourCountOut(hour=h, count=n) for h, n in stats.errors_per_hour],
                   dropped_events_total=stats.dropped_events_total)
