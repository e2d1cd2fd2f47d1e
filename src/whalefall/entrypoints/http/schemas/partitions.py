"""Wire shapes of the partition routes (api.md §3.12)."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from whalefall.application.partitions.maintain_partitions import PlanOutcome
from whalefall.application.partitions.partition_status import PartitionHealth, PartitionInfo, PartitionState
from whalefall.application.ports.partitions import PartitionDetail
from whalefall.domain.partitions import PartitionPolicy


class PolicyTableOut(msgspec.Struct, kw_only=True):
    name: str
    retention_months: int


class PolicyOut(msgspec.Struct, kw_only=True):
    premake_months: int
    create_default: bool
    tables: list[PolicyTableOut]

    @classmethod
    def of(cls, policy: PartitionPolicy) -> PolicyOut:
        return cls(premake_months=policy.premake_months, create_default=policy.create_default,
                   tables=[PolicyTableOut(name=t.name, retention_months=t.retention_months) for t in policy.tables])


class TableInfoOut(msgspec.Struct, kw_only=True):
    table: str
    key: str
    partition_count: int
    oldest_lower: date | None
    newest_upper: date | None
    has_default: bool
    default_rows: int
    total_bytes: int


class InfoOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    supported: bool
    tables: list[TableInfoOut]
    policy: PolicyOut
    reason: str | None = None

    @classmethod
    def of(cls, info: PartitionInfo, policy: PartitionPolicy) -> InfoOut:
        return cls(supported=info.supported, reason=info.reason, policy=PolicyOut.of(policy),
                   tables=[TableInfoOut(table=t.table, key=t.key, partition_count=t.partition_count,
                                        oldest_lower=t.oldest_lower, newest_upper=t.newest_upper,
                                        has_default=t.has_default, default_rows=t.default_rows,
                                        total_bytes=t.total_bytes) for t in info.tables])


class CheckOut(msgspec.Struct, kw_only=True):
    check: str
    table: str
    status: str
    message: str


class MaintenanceOut(msgspec.Struct, kw_only=True):
    session_id: str
    status: str
    finished_at: datetime | None


class StatusOut(msgspec.Struct, kw_only=True):
    status: str
    checks: list[CheckOut]
    last_maintenance: MaintenanceOut | None
    next_maintenance_at: datetime

    @classmethod
    def of(cls, health: PartitionHealth) -> StatusOut:
        last = health.last_maintenance
        return cls(status=health.status, next_maintenance_at=health.next_maintenance_at,
                   last_maintenance=None if last is None else MaintenanceOut(
                       session_id=last.session_id, status=last.status, finished_at=last.finished_at),
                   checks=[CheckOut(check=c.check, table=c.table, status=c.status, message=c.message)
                           for c in health.checks])


class PartitionOut(msgspec.Struct, kw_only=True):
    table: str
    name: str
    lower: date | None
    upper: date | None
    is_default: bool
    row_estimate: int | None
    total_bytes: int
    state: str

    @classmethod
    def of(cls, item: tuple[PartitionDetail, PartitionState]) -> PartitionOut:
        d, state = item
        return cls(table=d.table, name=d.name, lower=d.lower, upper=d.upper, is_default=d.is_default,
                   row_estimate=d.exact_rows if d.is_default else d.row_estimate, total_bytes=d.total_bytes,
                   state=state)


class PartitionSpecOut(msgspec.Struct, kw_only=True):
    table: str
    name: str
    lower: date | None
    upper: date | None


class IgnoredOut(msgspec.Struct, kw_only=True):
    name: str
    reason: str


class PlanOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    supported: bool
    create: list[PartitionSpecOut]
    create_default: list[str]
    drop: list[PartitionSpecOut]
    ignored: list[IgnoredOut]
    cutoffs: dict[str, date]
    write_horizon: date | None
    warnings: list[str]
    reason: str | None = None

    @classmethod
    def of(cls, outcome: PlanOutcome) -> PlanOut:
        plan = outcome.plan
        if plan is None:
            return cls(supported=False, reason=outcome.reason, create=[], create_default=[], drop=[], ignored=[],
                       cutoffs={}, write_horizon=None, warnings=[])
        return cls(supported=True, create=[PartitionSpecOut(table=s.table, name=s.name, lower=s.lower, upper=s.upper)
                                           for s in plan.create],
                   create_default=list(plan.create_default),
                   drop=[PartitionSpecOut(table=d.table, name=d.name, lower=d.lower, upper=d.upper) for d in plan.drop],
                   ignored=[IgnoredOut(name=i.partition.name, reason=i.reason) for i in plan.ignored],
                   cutoffs=dict(plan.cutoffs), write_horizon=plan.write_horizon, warnings=list(plan.warnings))


class UnsupportedOut(msgspec.Struct, kw_only=True):
    supported: bool
    reason: str | None
