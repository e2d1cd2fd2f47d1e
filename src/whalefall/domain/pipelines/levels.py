"""Pipeline levels and the pure run planner: skips, starts, run status and re-runs (operations §4.3–4.5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from whalefall.domain.errors import InvalidStateError, Problem, UnprocessableError
from whalefall.domain.pipelines.definition import PipelineDefinition, PipelineInvalidError, validate


class StepStatus(StrEnum):
    """Status of a step run (wire values of `StepRun.status`)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class RunStatus(StrEnum):
    """Status of a pipeline run (wire values of `PipelineRun.status`)."""

    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepErrorCode(StrEnum):
    """Step-level error codes set by the advancer."""

    STEP_TIMEOUT = "STEP_TIMEOUT"
    ALREADY_RUNNING = "ALREADY_RUNNING"


OPEN_STEP_STATUSES: Final = frozenset({StepStatus.PENDING, StepStatus.RUNNING})
_BLOCKING: Final = frozenset({StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.SKIPPED})


class NothingToRerunError(UnprocessableError):
    """A re-run was asked for a run with no failed, skipped or cancelled step."""

    code = "NOTHING_TO_RERUN"
    default_message = "The run has no failed, skipped or cancelled step"


@dataclass(frozen=True, slots=True)
class StepState:
    """What the planner needs of a step run. `degraded` = completed from a `partial` session."""

    status: StepStatus
    degraded: bool = False
    blocked_by: str | None = None


PENDING: Final = StepState(StepStatus.PENDING)


def graph_problems(definition: PipelineDefinition) -> list[Problem]:
    """The problems that keep the steps from forming a DAG: duplicate names, unknown or self dependencies, cycles."""
    return [p for p in validate(definition) if p.code in {"self_dependency", "unknown_step", "cycle"}
            or (p.code == "duplicate" and (p.field or "").endswith(".name"))]


def step_levels(definition: PipelineDefinition) -> dict[str, int]:
    """level = 0 without dependencies, else 1 + the highest level of its dependencies.

    Raises `PipelineInvalidError` when the steps do not form a DAG (duplicate names, unknown or self
    dependencies, cycles).
    """
    problems = graph_problems(definition)
    if problems:
        raise PipelineInvalidError(problems=problems)
    waiting = {step.name: set(step.depends_on) for step in definition.steps}
    level: dict[str, int] = {}
    while waiting:
        ready = [name for name, deps in waiting.items() if deps <= level.keys()]
        for name in ready:
            level[name] = 1 + max((level[dep] for dep in waiting.pop(name)), default=-1)
    return level


def levels(definition: PipelineDefinition) -> list[list[str]]:
    """The steps grouped by level, names sorted within a level (`nightly`: [partitions], [accounts, capacity],
    [aggregation, classification]). Raises `PipelineInvalidError` for a definition that is not a DAG."""
    level = step_levels(definition)
    grouped: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for name, value in level.items():
        grouped[value].append(name)
    return [sorted(names) for names in grouped]


def step_state_from_session(session_status: str) -> StepState:
    """A step's state from its session's wire status: `partial` counts as completed but degraded."""
    match session_status:
        case "completed":
            return StepState(StepStatus.COMPLETED)
        case "partial":
            return StepState(StepStatus.COMPLETED, degraded=True)
        case "failed":
            return StepState(StepStatus.FAILED)
        case "cancelled":
            return StepState(StepStatus.CANCELLED)
        case "running":
            return StepState(StepStatus.RUNNING)
    raise ValueError(f"unknown session status {session_status!r}")


def run_status(states: Mapping[str, StepState], *, cancel_requested: bool) -> RunStatus:
    """`running` while a step is pending or running; then `cancelled` if cancel was requested, `completed` if
    every step completed without `degraded`, `failed` if no step completed, otherwise `partial`."""
    if any(state.status in OPEN_STEP_STATUSES for state in states.values()):
        return RunStatus.RUNNING
    if cancel_requested:
        return RunStatus.CANCELLED
    completed = [state for state in states.values() if state.status is StepStatus.COMPLETED]
    if len(completed) == len(states) and not any(state.degraded for state in completed):
        return RunStatus.COMPLETED
    return RunStatus.PARTIAL if completed else RunStatus.FAILED


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvancePlan:
    """One idempotent advancer pass: pending steps to skip (name → `blocked_by`), pending steps to cancel,
    steps to start in this order, and the run's status once these are applied (`running` = not finished)."""

    skip: Mapping[str, str]
    cancel: tuple[str, ...]
    start: tuple[str, ...]
    status: RunStatus


def plan_advance(definition: PipelineDefinition, states: Mapping[str, StepState], *,
                 cancel_requested: bool = False) -> AdvancePlan:
    """Decide one advancer pass over a run (a step absent from `states` is pending).

    - Cancel requested: every pending step is cancelled, nothing starts (running steps' sessions are cancelled
      by the caller).
    - A pending step with a failed, cancelled or skipped dependency is skipped; `blocked_by` names the root cause
      (the failed or cancelled step, inherited through skipped ones; the first dependency in (level, name) order).
    - A pending step starts once all its dependencies are completed (degraded counts), in (level, name) order,
      while fewer than `max_parallel_steps` steps run.
    """
    level = step_levels(definition)
    current = {step.name: states.get(step.name, PENDING) for step in definition.steps}
    ordered = sorted(current, key=lambda name: (level[name], name))
    deps = {step.name: sorted(set(step.depends_on), key=lambda d: (level[d], d)) for step in definition.steps}
    if cancel_requested:
        cancel = tuple(name for name in ordered if current[name].status is StepStatus.PENDING)
        after = {**current, **{name: StepState(StepStatus.CANCELLED) for name in cancel}}
        return AdvancePlan(skip=MappingProxyType({}), cancel=cancel, start=(),
                           status=run_status(after, cancel_requested=True))
    skip: dict[str, str] = {}
    for name in ordered:
        if current[name].status is not StepStatus.PENDING:
            continue
        for dep in deps[name]:
            dep_state = current[dep]
            if dep_state.status in _BLOCKING:
                skip[name] = (dep_state.blocked_by or dep) if dep_state.status is StepStatus.SKIPPED else dep
                current[name] = StepState(StepStatus.SKIPPED, blocked_by=skip[name])
                break
    slots = definition.max_parallel_steps - sum(state.status is StepStatus.RUNNING for state in current.values())
    ready = [
        name for name in ordered
        if current[name].status is StepStatus.PENDING
        and all(current[dep].status is StepStatus.COMPLETED for dep in deps[name])
    ]
    start = tuple(ready[:max(slots, 0)])
    for name in start:
        current[name] = StepState(StepStatus.RUNNING)
    return AdvancePlan(skip=MappingProxyType(skip), cancel=(), start=start,
                       status=run_status(current, cancel_requested=False))


@dataclass(frozen=True, slots=True, kw_only=True)
class RerunPlan:
    """The initial step states of a re-run: `reused` steps are copied as completed (keeping `degraded`, since
    their data is what it was) with `reused_from` set by the caller; every other step starts pending."""

    reused: tuple[str, ...]
    rerun: tuple[str, ...]
    states: Mapping[str, StepState]


def plan_rerun(definition: PipelineDefinition, states: Mapping[str, StepState]) -> RerunPlan:
    """Plan `rerun-failed` on the original run's definition snapshot and final step states.

    Raises `InvalidStateError` if a step is still pending or running (the run is not terminal) and
    `NothingToRerunError` if no step failed, was skipped or was cancelled.
    """
    level = step_levels(definition)
    ordered = sorted(level, key=lambda name: (level[name], name))
    current = {name: states.get(name, PENDING) for name in ordered}
    if any(state.status in OPEN_STEP_STATUSES for state in current.values()):
        raise InvalidStateError("The run has not finished")
    if not any(state.status in _BLOCKING for state in current.values()):
        raise NothingToRerunError()
    reused = tuple(name for name in ordered if current[name].status is StepStatus.COMPLETED)
    rerun = tuple(name for name in ordered if name not in reused)
    new_states = {name: StepState(StepStatus.COMPLETED, degraded=current[name].degraded) if name in reused
                  else PENDING for name in ordered}
    return RerunPlan(reused=reused, rerun=rerun, states=MappingProxyType(new_states))
