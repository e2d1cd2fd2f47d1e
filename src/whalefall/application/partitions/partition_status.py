"""Partition info, health and listing (capacity.md §8.2, api.md §3.12); no full counts except DEFAULT."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from whalefall.application.partitions.maintain_partitions import PartitionConfig
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.partitions import PartitionDetail, PartitionManager
from whalefall.application.ports.sessions import SessionQuery, SessionStore
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest, SortKey
from whalefall.domain.identity.roles import Permission
from whalefall.domain.partitions import add_months, month_start
from whalefall.domain.sessions.sessions import TERMINAL_SESSION_STATUSES, SessionKind

Health = Literal["ok", "warning", "critical", "not_applicable"]
PartitionState = Literal["past", "current", "future", "default"]
_RANK = {"ok": 0, "warning": 1, "critical": 2}


def state_of(detail: PartitionDetail, today: date) -> PartitionState:
    if detail.is_default:
        return "default"
    if detail.upper is not None and detail.upper <= today:
        return "past"
    if detail.lower is not None and detail.lower > today:
        return "future"
    return "current"


@dataclass(frozen=True, slots=True, kw_only=True)
class TableInfo:
    table: str
    key: str
    partition_count: int
    oldest_lower: date | None
    newest_upper: date | None
    has_default: bool
    default_rows: int
    total_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionInfo:
    supported: bool
    reason: str | None
    tables: tuple[TableInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthCheck:
    check: str
    table: str
    status: Health
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceRun:
    """The latest finished `partition_maintenance` session."""

    session_id: str
    status: str
    finished_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionHealth:
    status: Health
    checks: tuple[HealthCheck, ...]
    next_maintenance_at: datetime
    last_maintenance: MaintenanceRun | None = None


def _table_checks(table: str, children: Sequence[PartitionDetail], today: date, premake: int) -> list[HealthCheck]:
    months = {c.lower for c in children if not c.is_default and c.lower is not None and c.lower.day == 1
              and c.upper == add_months(c.lower, 1)}
    current = month_start(today)
    checks = []
    missing_now = [m for m in (current, add_months(current, 1)) if m not in months]
    checks.append(HealthCheck(check="current_and_next_month", table=table,
                              status="critical" if missing_now else "ok",
                              message="missing " + ", ".join(f"{m:%Y-%m}" for m in missing_now) if missing_now
                              else "current and next month exist"))
    future = sum(1 for k in range(1, premake + 1) if add_months(current, k) in months)
    checks.append(HealthCheck(check="future_months", table=table, status="warning" if future < premake else "ok",
                              message=f"{future} of {premake} future months exist"))
    default_rows = sum(c.exact_rows or 0 for c in children if c.is_default)
    checks.append(HealthCheck(check="default_empty", table=table, status="warning" if default_rows else "ok",
                              message=f"{default_rows} rows in DEFAULT"))
    return checks


@dataclass(frozen=True, slots=True)
class InspectPartitions:
    """Read-only views of the partitions: info per table, health, and the children page. Requires
    `partitions:read`. Health: critical when the current or next month is missing for a table, warning when DEFAULT
    holds rows or fewer than `premake_months` future months exist, else ok; `not_applicable` on SQLite.
    `last_maintenance` is the most recently created `partition_maintenance` session that has ended (any terminal
    status, scheduled or manual), or None when none has."""

    partitions: PartitionManager
    clock: Clock
    config: PartitionConfig
    sessions: SessionStore

    async def info(self, actor: Actor) -> PartitionInfo:
        actor.require(Permission.PARTITIONS_READ)
        if not self.partitions.supported:
            return PartitionInfo(supported=False, reason=self.partitions.reason, tables=())
        details = await self.partitions.details()
        tables = []
        for table in sorted(t.name for t in self.config.policy.tables):
            children = [d for d in details if d.table == table]
            bounded = [d for d in children if not d.is_default]
            tables.append(TableInfo(
                table=table, key=self.config.keys.get(table, ""), partition_count=len(children),
                oldest_lower=min((d.lower for d in bounded if d.lower), default=None),
                newest_upper=max((d.upper for d in bounded if d.upper), default=None),
                has_default=any(d.is_default for d in children),
                default_rows=sum(d.exact_rows or 0 for d in children if d.is_default),
                total_bytes=sum(d.total_bytes for d in children)))
        return PartitionInfo(supported=True, reason=None, tables=tuple(tables))

    async def health(self, actor: Actor) -> PartitionHealth:
        actor.require(Permission.PARTITIONS_READ)
        now = self.clock.now().astimezone(self.config.zone)
        today = now.date()
        next_run = datetime.combine(today, self.config.maintenance_at, tzinfo=self.config.zone)
        if next_run <= now:
            next_run = datetime.combine(today + timedelta(days=1), self.config.maintenance_at,
                                        tzinfo=self.config.zone)
        last = await self._last_maintenance()
        if not self.partitions.supported:
            return PartitionHealth(status="not_applicable", checks=(), next_maintenance_at=next_run,
                                   last_maintenance=last)
        details = await self.partitions.details()
        checks = [c for t in sorted(t.name for t in self.config.policy.tables)
                  for c in _table_checks(t, [d for d in details if d.table == t], today,
                                         self.config.policy.premake_months)]
        worst: Health = max((c.status for c in checks), key=lambda s: _RANK.get(s, 0), default="ok")
        return PartitionHealth(status=worst, checks=tuple(checks), next_maintenance_at=next_run,
                               last_maintenance=last)

    async def _last_maintenance(self) -> MaintenanceRun | None:
        page = await self.sessions.list_sessions(
            SessionQuery(kinds=frozenset({SessionKind.PARTITION_MAINTENANCE}),
                         statuses=frozenset(TERMINAL_SESSION_STATUSES)),
            PageRequest(1, 1, (SortKey("created_at", descending=True),)))
        if not page.items:
            return None
        session = page.items[0]
        return MaintenanceRun(session_id=session.id, status=session.status.value, finished_at=session.finished_at)

    async def children(self, actor: Actor, *, tables: frozenset[str], state: PartitionState | None,
                       page: PageRequest) -> Page[tuple[PartitionDetail, PartitionState]]:
        actor.require(Permission.PARTITIONS_READ)
        today = self.config.today(self.clock)
        rows = [(d, state_of(d, today)) for d in await self.partitions.details()
                if (not tables or d.table in tables)]
        rows = [r for r in rows if state is None or r[1] == state]
        rows.sort(key=lambda r: (r[0].table, r[0].is_default, r[0].lower or date.min, r[0].name))
        return Page(tuple(rows[page.offset:page.offset + page.limit]), len(rows), page.page, page.limit)
