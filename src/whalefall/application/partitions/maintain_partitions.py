"""Plan and apply monthly partition maintenance of the metadata store (capacity.md §8.1–8.3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time, tzinfo

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.partitions import ApplyReport, PartitionManager
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.partitions import PartitionPlan, PartitionPolicy, plan_partitions


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionConfig:
    """Business time zone, the policy (`partitions.*` settings), each parent's key column and the daily
    maintenance time (00:30)."""

    zone: tzinfo
    policy: PartitionPolicy
    keys: Mapping[str, str] = field(default_factory=dict)
    maintenance_at: time = time(0, 30)

    def today(self, clock: Clock) -> date:
        return clock.now().astimezone(self.zone).date()


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanOutcome:
    supported: bool
    reason: str | None
    plan: PartitionPlan | None


@dataclass(frozen=True, slots=True)
class PlanPartitions:
    """Dry run: the plan for `today` (default: the business today) and `premake_months` (default: the setting),
    from the partitions the catalog reports. On SQLite `supported = false` and no plan. Requires `partitions:read`."""

    partitions: PartitionManager
    clock: Clock
    config: PartitionConfig

    async def execute(self, actor: Actor, *, today: date | None = None,
                      premake_months: int | None = None) -> PlanOutcome:
        actor.require(Permission.PARTITIONS_READ)
        if not self.partitions.supported:
            return PlanOutcome(supported=False, reason=self.partitions.reason, plan=None)
        policy = self.config.policy
        if premake_months is not None:
            policy = replace(policy, premake_months=premake_months)
        plan = plan_partitions(await self.partitions.existing(), today or self.config.today(self.clock), policy)
        return PlanOutcome(supported=True, reason=None, plan=plan)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyOutcome:
    supported: bool
    reason: str | None
    plan: PartitionPlan | None
    report: ApplyReport


@dataclass(frozen=True, slots=True)
class ApplyPartitionPlan(RecordWork):
    """Plan for the business today and execute it synchronously (CLI; the worker's `partition_maintenance`
    record does the same for its one table): one transaction per action, lock timeouts retried, a failed action
    does not stop the others, DEFAULT rows moved into created months, drops only after re-reading the bounds.
    `drops_only` is the cleanup action. On SQLite nothing happens and `supported = false`. A concurrent run →
    409 ALREADY_RUNNING. Requires `partitions:manage`."""

    partitions: PartitionManager
    clock: Clock
    config: PartitionConfig

    async def execute(self, actor: Actor, *, drops_only: bool = False,
                      tables: frozenset[str] | None = None) -> ApplyOutcome:
        actor.require(Permission.PARTITIONS_MANAGE)
        if not self.partitions.supported:
            return ApplyOutcome(supported=False, reason=self.partitions.reason, plan=None, report=ApplyReport())
        plan = plan_partitions(await self.partitions.existing(), self.config.today(self.clock), self.config.policy)
        report = await self.partitions.apply(plan, tables=tables, drops_only=drops_only)
        return ApplyOutcome(supported=True, reason=None, plan=plan, report=report)

    async def run(self, context: RecordContext) -> RecordResult:
        if not self.partitions.supported:
            return RecordResult(skipped_code="UNSUPPORTED_BACKEND", details={"reason": self.partitions.reason})
        table = context.record.item_key
        drops_only = bool(context.session.params.get("drops_only", False))
        await context.check_cancel()
        outcome = await self.execute(Actor.system("worker"), drops_only=drops_only, tables=frozenset({table}))
        report = outcome.report
        counters = {kind: sum(1 for o in report.outcomes if o.action == kind and o.ok)
                    for kind in ("create", "create_default", "drop")}
        warnings = [{"code": "PARTITION_ACTION_FAILED", "message": f"{o.action} {o.name}: {o.error}"}
                    for o in report.outcomes if not o.ok]
        if report.default_rows.get(table):
            warnings.append({"code": "DEFAULT_PARTITION_NOT_EMPTY",
                             "message": f"{report.default_rows[table]} rows in {table}'s DEFAULT partition"})
        return RecordResult(counters={**counters, "failed": report.failed,
                                      "moved_rows": sum(o.moved_rows for o in report.outcomes)},
                            warnings=warnings, details={"table": table,
                                                        "default_rows": report.default_rows.get(table, 0)})
