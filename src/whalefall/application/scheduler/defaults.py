"""The built-in jobs of operations.md §3.2 and the overlap rule between jobs and enabled pipeline jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from whalefall.application.ports.scheduler import PIPELINE_JOB_KIND, JobRecord

_PERIODS: Final = ("daily", "weekly", "monthly", "quarterly", "yearly")


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDefault:
    id: str
    kind: str
    name: str
    cron: str
    enabled: bool = True
    target: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def params_copy(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}


BUILTIN_JOBS: Final[Mapping[str, JobDefault]] = MappingProxyType({job.id: job for job in (
    JobDefault(id="partition_maintenance", kind="partition_maintenance", name="Partition maintenance",
               cron="30 0 * * *"),
    JobDefault(id="accounts_sync", kind="accounts_sync", name="Accounts sync", cron="0 1 * * *"),
    JobDefault(id="classification", kind="classification", name="Auto-classification", cron="0 2 * * *"),
    JobDefault(id="capacity_collection", kind="capacity_collection", name="Capacity collection", cron="0 3 * * *"),
    JobDefault(id="capacity_aggregation", kind="capacity_aggregation", name="Capacity aggregation",
               cron="0 4 * * *", params=MappingProxyType({"period_types": _PERIODS, "window": "last_complete"})),
    JobDefault(id="retention_cleanup", kind="retention_cleanup", name="Retention cleanup", cron="0 5 * * *"),
    JobDefault(id="pipeline:nightly", kind=PIPELINE_JOB_KIND, target="nightly", name="Nightly pipeline",
               cron="30 0 * * *", enabled=False),
)})


def pipeline_job_id(pipeline: str) -> str:
    """The job that schedules a pipeline (created with its definition's `schedule`)."""
    return f"pipeline:{pipeline}"


def builtin_record(default: JobDefault, *, timezone: str, now: datetime) -> JobRecord:
    return JobRecord(id=default.id, kind=default.kind, target=default.target, name=default.name, description=None,
                     cron=default.cron, timezone=timezone, enabled=default.enabled, params=default.params_copy(),
                     is_builtin=True, revision=1, updated_at=now, updated_by=None, schedule_changed_at=now)


def overlaps(jobs: Sequence[JobRecord], pipeline_kinds: Mapping[str, frozenset[str]]) -> dict[str, list[str]]:
    """`overlaps_with` per job: an enabled session job whose kind is a step kind of an enabled pipeline job
    overlaps with it, and the pipeline job lists every such job (operations.md §3.2). `pipeline_kinds` maps a
    pipeline name to its step kinds."""
    result: dict[str, list[str]] = {job.id: [] for job in jobs}
    pipelines = [job for job in jobs if job.kind == PIPELINE_JOB_KIND and job.enabled and job.target]
    for job in jobs:
        if job.kind == PIPELINE_JOB_KIND or not job.enabled:
            continue
        for pipeline_job in pipelines:
            if job.kind in pipeline_kinds.get(pipeline_job.target or "", frozenset()):
                result[job.id].append(pipeline_job.id)
                result[pipeline_job.id].append(job.id)
    return {job_id: sorted(ids) for job_id, ids in result.items()}
