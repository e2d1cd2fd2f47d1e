"""Unified-log ports (operations.md §5): the sink's batch writer, the query side, retention, and time windows."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Protocol

from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import Problem, ValidationProblemsError


class LogLevel(StrEnum):
    """Standard level names; the wire form keeps the upper case (api.md §1.11)."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


LEVEL_ORDER: Final = tuple(LogLevel)


def levels_at_or_above(level: LogLevel) -> frozenset[LogLevel]:
    return frozenset(LEVEL_ORDER[LEVEL_ORDER.index(level):])


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """`since` inclusive, `until` exclusive (api.md §1.10)."""

    since: datetime
    until: datetime


def resolve_window(since: datetime | None, until: datetime | None, *, now: datetime, default: timedelta,
                   maximum: timedelta) -> TimeWindow:
    """The bounded window of a query: missing ends default to `now` and `default` before the other end.

    Raises ValidationProblemsError: naive instants (`naive_datetime`), `since ≥ until` (`invalid_range`), a span
    over `maximum` (`window_too_large`, `context.max_days`).
    """
    problems = [Problem(f"query.{name}", "naive_datetime", "must carry a UTC offset (e.g. Z)")
                for name, value in (("since", since), ("until", until)) if value is not None and value.tzinfo is None]
    if problems:
        raise ValidationProblemsError(problems)
    end = until if until is not None else (now if since is None or since < now else since + default)
    start = since if since is not None else end - default
    if start >= end:
        raise ValidationProblemsError([Problem("query.since", "invalid_range", "since must be before until")])
    if end - start > maximum:
        days = maximum.days
        raise ValidationProblemsError([Problem("query.since", "window_too_large",
                                               f"the window may span at most {days} days", {"max_days": days})])
    return TimeWindow(start, end)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """One stored event (api.md §2 `LogEntry`)."""

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
    context: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class LogQuery:
    """Filters of `GET /logs`; empty sets and None mean "no restriction". `q` searches the message only."""

    window: TimeWindow
    levels: frozenset[LogLevel] = frozenset()
    modules: frozenset[str] = frozenset()
    logger_prefix: str | None = None
    event_prefix: str | None = None
    q: str | None = None
    request_id: str | None = None
    session_id: str | None = None
    pipeline_run_id: str | None = None
    instance_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LogStats:
    counts_by_level: Mapping[str, int]
    top_modules: Sequence[tuple[str, int]]
    errors_per_hour: Sequence[tuple[datetime, int]]
    dropped_events_total: int = 0


class LogBatchWriter(Protocol):
    """Appends sink events to `unified_logs` on a connection of its own (never a caller's transaction)."""

    @abstractmethod
    async def write_batch(self, events: Sequence[Mapping[str, object]]) -> None:
        """One multi-row insert of events in the redacted sink shape (logging_setup); all or nothing.

        Raises StoreUnavailableError when the store refuses or cannot be reached.
        """


class LogReader(Protocol):
    """Read side of `unified_logs`."""

    @abstractmethod
    async def search(self, query: LogQuery, page: PageRequest) -> Page[LogEntry]:
        """Sorted by `ts` (page.sort), ties by id; exact total."""

    @abstractmethod
    async def get(self, log_id: int) -> LogEntry | None:
        """None when there is no such entry."""

    @abstractmethod
    async def stats(self, window: TimeWindow, *, top: int) -> LogStats:
        """Counts per level, the `top` modules, ERROR+CRITICAL per hour, dropped events recorded in the window."""

    @abstractmethod
    async def module_counts(self, window: TimeWindow) -> Mapping[str, int]:
        """Events per module in the window (modules without events are absent)."""


class ExpiredRowPurger(Protocol):
    """Deletes rows older than a cutoff, one bounded batch per call, each in its own transaction."""

    @abstractmethod
    async def delete_batch(self, cutoff: datetime, limit: int) -> int:
        """Delete at most `limit` rows with a timestamp before `cutoff` and commit; returns how many went."""
