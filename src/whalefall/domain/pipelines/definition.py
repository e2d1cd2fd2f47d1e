"""Pipeline definitions: document shape and parsing, validation (operations §4.1–4.2), the built-in `nightly`."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeVar

from whalefall.domain.errors import Problem, UnprocessableError
from whalefall.domain.pipelines.cron import cron_problems, timezone_problems

# The session kinds of operations §1.1 a step may run; kept here because slices do not import each other.
STEP_KINDS: Final = frozenset({
    "accounts_sync", "capacity_collection", "table_sizes", "capacity_aggregation", "classification",
    "partition_maintenance", "retention_cleanup",
})
MAX_STEPS: Final = 50
MAX_PARALLEL_STEPS_RANGE: Final = (1, 16)
DEFAULT_MAX_PARALLEL_STEPS: Final = 4
DEFAULT_STEP_TIMEOUT_S: Final = 14_400
_PIPELINE_NAME: Final = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_STEP_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,62}")
_DOCUMENT_KEYS: Final = frozenset({"name", "description", "max_parallel_steps", "schedule", "steps"})
_STEP_KEYS: Final = frozenset({"name", "kind", "depends_on", "params", "timeout_s"})
_SCHEDULE_KEYS: Final = frozenset({"cron", "timezone", "enabled"})

_T = TypeVar("_T")

ParamsValidator = Callable[[str, Mapping[str, object]], Sequence[Problem]]
"""Validates one step's params for its kind; problem fields are relative to the params (`instance_ids[0]`)."""


class PipelineInvalidError(UnprocessableError):
    """The pipeline document or definition was rejected; one problem per defect, fields are JSON paths."""

    code = "PIPELINE_INVALID"
    default_message = "The pipeline definition is invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepDefinition:
    """One step: runs a session of `kind` once all `depends_on` steps completed."""

    name: str
    kind: str
    depends_on: tuple[str, ...] = ()
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    timeout_s: int = DEFAULT_STEP_TIMEOUT_S


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineSchedule:
    """The pipeline job's schedule; `enabled=False` means the job exists paused."""

    cron: str
    timezone: str = "UTC"
    enabled: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineDefinition:
    """A parsed definition. It may be invalid: `validate` says how; `levels` refuses one that is not a DAG."""

    name: str
    steps: tuple[StepDefinition, ...]
    description: str | None = None
    max_parallel_steps: int = DEFAULT_MAX_PARALLEL_STEPS
    schedule: PipelineSchedule | None = None


def accept_mappings(kind: str, params: Mapping[str, object]) -> Sequence[Problem]:
    """Default params validator: any object is accepted (the shape check already required a mapping)."""
    return ()


def definition_from_document(doc: object) -> PipelineDefinition:
    """Parse a JSON-like document. Checks only the shape (types, required and unknown fields) and raises
    `PipelineInvalidError` with every shape problem; the rules are checked by `validate`."""
    problems: list[Problem] = []
    if not isinstance(doc, Mapping):
        raise PipelineInvalidError(problems=[Problem(None, "invalid_type", "the definition must be an object")])
    _unknown(doc, _DOCUMENT_KEYS, "", problems)
    name = _typed(doc, "name", str, "", problems, required=True)
    description = _typed(doc, "description", str, "", problems)
    max_parallel = _typed(doc, "max_parallel_steps", int, "", problems)
    schedule: PipelineSchedule | None = None
    raw_schedule = doc.get("schedule")
    if raw_schedule is not None and not isinstance(raw_schedule, Mapping):
        problems.append(Problem("schedule", "invalid_type", "schedule must be an object"))
    elif raw_schedule is not None:
        _unknown(raw_schedule, _SCHEDULE_KEYS, "schedule.", problems)
        cron = _typed(raw_schedule, "cron", str, "schedule.", problems, required=True)
        timezone = _typed(raw_schedule, "timezone", str, "schedule.", problems)
        enabled = _typed(raw_schedule, "enabled", bool, "schedule.", problems)
        schedule = PipelineSchedule(cron=cron or "", timezone=timezone or "UTC",
                                    enabled=True if enabled is None else enabled)
    steps = [_step(raw, f"steps[{i}]", problems) for i, raw in enumerate(_items(doc, "steps", "", problems, True))]
    if problems:
        raise PipelineInvalidError(problems=problems)
    return PipelineDefinition(
        name=name or "", steps=tuple(steps), description=description, schedule=schedule,
        max_parallel_steps=DEFAULT_MAX_PARALLEL_STEPS if max_parallel is None else max_parallel,
    )


def _step(raw: object, path: str, problems: list[Problem]) -> StepDefinition:
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "invalid_type", "a step must be an object"))
        return StepDefinition(name="", kind="")
    prefix = path + "."
    _unknown(raw, _STEP_KEYS, prefix, problems)
    name = _typed(raw, "name", str, prefix, problems, required=True)
    kind = _typed(raw, "kind", str, prefix, problems, required=True)
    timeout_s = _typed(raw, "timeout_s", int, prefix, problems)
    depends_on: list[str] = []
    for j, dep in enumerate(_items(raw, "depends_on", prefix, problems, False)):
        if isinstance(dep, str):
            depends_on.append(dep)
        else:
            problems.append(Problem(f"{prefix}depends_on[{j}]", "invalid_type", "a dependency must be a string"))
    params: Mapping[str, object] = {}
    raw_params = raw.get("params")
    if raw_params is not None and not isinstance(raw_params, Mapping):
        problems.append(Problem(prefix + "params", "invalid_type", "params must be an object"))
    elif raw_params is not None:
        params = raw_params
    return StepDefinition(
        name=name or "", kind=kind or "", depends_on=tuple(depends_on),
        params=MappingProxyType(copy.deepcopy(dict(params))),
        timeout_s=DEFAULT_STEP_TIMEOUT_S if timeout_s is None else timeout_s,
    )


def _unknown(doc: Mapping[Any, object], allowed: frozenset[str], prefix: str, problems: list[Problem]) -> None:
    for key in doc:
        if key not in allowed:
            problems.append(Problem(f"{prefix}{key}", "unknown_field", f"unknown field {key!r}"))


def _items(doc: Mapping[Any, object], key: str, prefix: str, problems: list[Problem], required: bool) -> list[object]:
    """`doc[key]` as a list (empty when absent or of the wrong type, with a problem recorded)."""
    value = doc.get(key)
    if isinstance(value, list | tuple):
        return list(value)
    if value is not None or required:
        code = "required" if value is None else "invalid_type"
        problems.append(Problem(prefix + key, code, f"{key} is required" if value is None else f"{key} must be a list"))
    return []


def _typed(doc: Mapping[Any, object], key: str, kind: type[_T], prefix: str, problems: list[Problem],
           *, required: bool = False) -> _T | None:
    """`doc[key]` if it has type `kind` (bools are not ints), else None with a problem recorded."""
    value = doc.get(key)
    if value is None:
        if required:
            problems.append(Problem(prefix + key, "required", f"{key} is required"))
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        problems.append(Problem(prefix + key, "invalid_type", f"{key} must be of type {kind.__name__}"))
        return None
    return value


def validate(definition: PipelineDefinition, params_validator: ParamsValidator = accept_mappings) -> list[Problem]:
    """Every rule of operations §4.1–4.2, one problem per defect, in document order then cycles.

    Paths and codes: `name` invalid_format; `steps` too_few_items/too_many_items; `steps[i].name`
    invalid_format/duplicate; `steps[i].kind` invalid_choice; `steps[i].depends_on[j]` self_dependency, duplicate,
    unknown_step (`unknown step "x"`); `steps[i].timeout_s` too_small; `steps[i].params…` from the validator;
    `max_parallel_steps` too_small/too_large; `schedule.cron…` as cron; `schedule.timezone` invalid_choice;
    `steps` cycle (`cycle a → b → c → a`, arrows in execution order: b depends on a).
    """
    problems: list[Problem] = []
    if not _PIPELINE_NAME.fullmatch(definition.name):
        problems.append(Problem("name", "invalid_format", "name must match [a-z][a-z0-9_-]{0,63}"))
    low, high = MAX_PARALLEL_STEPS_RANGE
    if definition.max_parallel_steps < low:
        problems.append(Problem("max_parallel_steps", "too_small", f"max_parallel_steps must be at least {low}"))
    elif definition.max_parallel_steps > high:
        problems.append(Problem("max_parallel_steps", "too_large", f"max_parallel_steps must be at most {high}"))
    if definition.schedule is not None:
        problems.extend(cron_problems(definition.schedule.cron, "schedule.cron"))
        problems.extend(timezone_problems(definition.schedule.timezone, "schedule.timezone"))
    if not definition.steps:
        problems.append(Problem("steps", "too_few_items", "a pipeline needs at least one step"))
    elif len(definition.steps) > MAX_STEPS:
        problems.append(Problem("steps", "too_many_items", f"a pipeline has at most {MAX_STEPS} steps"))
    names = {step.name for step in definition.steps}
    seen: set[str] = set()
    for i, step in enumerate(definition.steps):
        path = f"steps[{i}]"
        if not _STEP_NAME.fullmatch(step.name):
            problems.append(Problem(f"{path}.name", "invalid_format", "step name must match [a-z][a-z0-9_]{0,62}"))
        if step.name in seen:
            problems.append(Problem(f"{path}.name", "duplicate", f'duplicate step name "{step.name}"'))
        seen.add(step.name)
        kind_ok = step.kind in STEP_KINDS
        if not kind_ok:
            problems.append(Problem(f"{path}.kind", "invalid_choice", f'unknown step kind "{step.kind}"',
                                    {"allowed": sorted(STEP_KINDS)}))
        problems.extend(_dependency_problems(step, path, names))
        if step.timeout_s <= 0:
            problems.append(Problem(f"{path}.timeout_s", "too_small", "timeout_s must be positive"))
        if kind_ok:
            for p in params_validator(step.kind, step.params):
                suffix = "" if not p.field else p.field if p.field.startswith("[") else "." + p.field
                problems.append(Problem(f"{path}.params{suffix}", p.code, p.message, p.context))
    problems.extend(_cycle_problems(definition))
    return problems


def require_valid(definition: PipelineDefinition, params_validator: ParamsValidator = accept_mappings) -> None:
    """Raise `PipelineInvalidError` with every problem `validate` finds; no-op for a valid definition."""
    problems = validate(definition, params_validator)
    if problems:
        raise PipelineInvalidError(problems=problems)


def validate_document(doc: object, params_validator: ParamsValidator = accept_mappings,
                      ) -> tuple[PipelineDefinition | None, list[Problem]]:
    """Shape and rules at once (the dry-validate route): the definition (None if the shape is wrong) and problems."""
    try:
        definition = definition_from_document(doc)
    except PipelineInvalidError as exc:
        return None, list(exc.problems)
    return definition, validate(definition, params_validator)


def _dependency_problems(step: StepDefinition, path: str, names: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    listed: set[str] = set()
    for j, dep in enumerate(step.depends_on):
        dep_path = f"{path}.depends_on[{j}]"
        if dep == step.name:
            problems.append(Problem(dep_path, "self_dependency", f'step "{dep}" cannot depend on itself'))
        elif dep in listed:
            problems.append(Problem(dep_path, "duplicate", f'"{dep}" is listed twice'))
        elif dep not in names:
            problems.append(Problem(dep_path, "unknown_step", f'unknown step "{dep}"'))
        listed.add(dep)
    return problems


def _cycle_problems(definition: PipelineDefinition) -> list[Problem]:
    """One `cycle` problem per cycle left once the acyclic part is peeled off (Kahn), each a concrete path
    starting at its earliest step; after reporting, its steps are removed and peeling goes on."""
    order: dict[str, int] = {}
    deps: dict[str, list[str]] = {}
    for i, step in enumerate(definition.steps):
        order.setdefault(step.name, i)
        deps.setdefault(step.name, [d for d in dict.fromkeys(step.depends_on) if d != step.name])
    dependants: dict[str, list[str]] = {name: [] for name in order}
    missing = dict.fromkeys(order, 0)
    for name, names in deps.items():
        for dep in (d for d in names if d in order):
            dependants[dep].append(name)
            missing[name] += 1
    remaining = set(order)

    def release(nodes: list[str]) -> None:
        while nodes:
            node = nodes.pop()
            if node in remaining:
                remaining.discard(node)
                for dependant in dependants[node]:
                    missing[dependant] -= 1
                    if missing[dependant] == 0:
                        nodes.append(dependant)

    release([name for name in order if missing[name] == 0])
    problems: list[Problem] = []
    while remaining:
        # Every remaining step still waits on a remaining step, so following dependencies must loop.
        walk: dict[str, int] = {}
        node = min(remaining, key=order.__getitem__)
        while node not in walk:
            walk[node] = len(walk)
            node = min((d for d in deps[node] if d in remaining), key=order.__getitem__)
        cycle = list(walk)[walk[node]:][::-1]
        first = min(range(len(cycle)), key=lambda k: order[cycle[k]])
        path = [*cycle[first:], *cycle[:first], cycle[first]]
        problems.append(Problem("steps", "cycle", "cycle " + " → ".join(path), {"cycle": path}))
        release(cycle)
    return problems


def definition_to_document(definition: PipelineDefinition) -> dict[str, Any]:
    """The JSON document of a definition (the stored snapshot); `definition_from_document` reads it back."""
    steps = [{"name": st.name, "kind": st.kind, "depends_on": list(st.depends_on),
              "params": copy.deepcopy(dict(st.params)), "timeout_s": st.timeout_s} for st in definition.steps]
    schedule = definition.schedule and {"cron": definition.schedule.cron, "timezone": definition.schedule.timezone,
                                        "enabled": definition.schedule.enabled}
    return {"name": definition.name, "description": definition.description, "schedule": schedule,
            "max_parallel_steps": definition.max_parallel_steps, "steps": steps}


_NIGHTLY: Final[Mapping[str, Any]] = MappingProxyType({
    "name": "nightly",
    "description": "Nightly maintenance, collection and statistics",
    "max_parallel_steps": 4,
    "schedule": {"cron": "30 0 * * *", "timezone": "UTC", "enabled": False},
    "steps": [
        {"name": "partitions", "kind": "partition_maintenance"},
        {"name": "accounts", "kind": "accounts_sync", "depends_on": ["partitions"]},
        {"name": "classification", "kind": "classification", "depends_on": ["accounts"]},
        {"name": "capacity", "kind": "capacity_collection", "depends_on": ["partitions"]},
        {"name": "aggregation", "kind": "capacity_aggregation", "depends_on": ["capacity"],
         "params": {"period_types": ["daily", "weekly", "monthly", "quarterly", "yearly"], "window": "last_complete"}},
    ],
})


def nightly_document() -> dict[str, Any]:
    """A fresh copy of the built-in `nightly` document of operations §4.1 (what `reset` restores)."""
    return copy.deepcopy(dict(_NIGHTLY))


NIGHTLY: Final = definition_from_document(nightly_document())
