"""Levels, dependency-driven starts (O4, defect 26), failure propagation and re-runs (O5) of the run planner."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whalefall.domain.errors import InvalidStateError, UnprocessableError
from whalefall.domain.pipelines import (
    NIGHTLY,
    NothingToRerunError,
    PipelineDefinition,
    PipelineInvalidError,
    RunStatus,
    StepState,
    StepStatus,
    definition_from_document,
    levels,
    plan_advance,
    plan_rerun,
    run_status,
    step_levels,
    step_state_from_session,
)

DONE = StepState(StepStatus.COMPLETED)
DEGRADED = StepState(StepStatus.COMPLETED, degraded=True)
RUNNING = StepState(StepStatus.RUNNING)
FAILED = StepState(StepStatus.FAILED)
CANCELLED = StepState(StepStatus.CANCELLED)
PENDING = StepState(StepStatus.PENDING)


def pipeline(edges: dict[str, list[str]], max_parallel: int = 4) -> PipelineDefinition:
    steps: list[dict[str, Any]] = [{"name": n, "kind": "accounts_sync", "depends_on": d} for n, d in edges.items()]
    return definition_from_document({"name": "p", "max_parallel_steps": max_parallel, "steps": steps})


def test_o4_levels_of_nightly() -> None:
    assert levels(NIGHTLY) == [["partitions"], ["accounts", "capacity"], ["aggregation", "classification"]]
    assert step_levels(NIGHTLY)["aggregation"] == 2


def test_levels_refuse_a_definition_that_is_not_a_dag() -> None:
    with pytest.raises(PipelineInvalidError) as caught:
        levels(pipeline({"a": ["b"], "b": ["a"], "c": ["zz"]}))
    assert [p.code for p in caught.value.problems] == ["unknown_step", "cycle"]


def test_o4_dependency_driven_execution_of_nightly() -> None:
    first = plan_advance(NIGHTLY, {})
    assert first.start == ("partitions",)
    assert first.status is RunStatus.RUNNING
    second = plan_advance(NIGHTLY, {"partitions": DONE})
    assert second.start == ("accounts", "capacity")
    # capacity finishes first: aggregation starts without waiting for accounts or classification.
    third = plan_advance(NIGHTLY, {"partitions": DONE, "accounts": RUNNING, "capacity": DONE})
    assert third.start == ("aggregation",)
    fourth = plan_advance(NIGHTLY, {"partitions": DONE, "accounts": DONE, "capacity": DONE, "aggregation": RUNNING})
    assert fourth.start == ("classification",)
    last = plan_advance(NIGHTLY, dict.fromkeys(("partitions", "accounts", "capacity", "aggregation",
                                                "classification"), DONE))
    assert (last.start, last.status) == ((), RunStatus.COMPLETED)


def test_dependant_waits_for_all_of_its_dependencies() -> None:
    definition = pipeline({"a": [], "b": [], "c": ["a", "b"]})
    assert plan_advance(definition, {"a": DONE, "b": RUNNING}).start == ()
    assert plan_advance(definition, {"a": DONE, "b": DONE}).start == ("c",)


def test_ready_steps_start_in_level_then_name_order_up_to_the_limit() -> None:
    definition = pipeline({"e": [], "d": [], "c": [], "b": [], "a": [], "z": ["a"]}, max_parallel=2)
    assert plan_advance(definition, {}).start == ("a", "b")
    assert plan_advance(definition, {"a": DONE, "b": RUNNING}).start == ("c",)
    assert plan_advance(definition, {"a": DONE, "b": DONE, "c": DONE}).start == ("d", "e")
    assert plan_advance(definition, {"a": DONE, "b": DONE, "c": DONE, "d": DONE, "e": DONE}).start == ("z",)
    assert plan_advance(definition, {"a": RUNNING, "b": RUNNING}).start == ()


def test_o5_failed_step_skips_its_dependants_and_the_run_is_partial() -> None:
    plan = plan_advance(NIGHTLY, {"partitions": DONE, "accounts": DONE, "classification": DONE, "capacity": FAILED})
    assert dict(plan.skip) == {"aggregation": "capacity"}
    assert (plan.start, plan.status) == ((), RunStatus.PARTIAL)


def test_independent_branch_continues_after_a_failure() -> None:
    plan = plan_advance(NIGHTLY, {"partitions": DONE, "accounts": DONE, "capacity": FAILED})
    assert dict(plan.skip) == {"aggregation": "capacity"}
    assert plan.start == ("classification",)
    assert plan.status is RunStatus.RUNNING


def test_skips_are_transitive_and_name_the_root_cause() -> None:
    definition = pipeline({"a": [], "b": ["a"], "c": ["b"], "d": ["c"], "x": []})
    plan = plan_advance(definition, {"a": CANCELLED, "x": DONE})
    assert dict(plan.skip) == {"b": "a", "c": "a", "d": "a"}
    later = plan_advance(definition, {"a": FAILED, "b": StepState(StepStatus.SKIPPED, blocked_by="a"), "x": DONE})
    assert dict(later.skip) == {"c": "a", "d": "a"}
    assert later.status is RunStatus.PARTIAL


def test_failure_everywhere_is_a_failed_run() -> None:
    plan = plan_advance(pipeline({"a": [], "b": ["a"]}), {"a": FAILED})
    assert plan.status is RunStatus.FAILED


def test_o5_partial_session_completes_the_step_degraded() -> None:
    capacity = step_state_from_session("partial")
    assert capacity == DEGRADED
    states = {"partitions": DONE, "accounts": DONE, "classification": DONE, "capacity": capacity}
    assert plan_advance(NIGHTLY, states).start == ("aggregation",)
    assert plan_advance(NIGHTLY, {**states, "aggregation": DONE}).status is RunStatus.PARTIAL


@pytest.mark.parametrize(("session", "expected"), [
    ("completed", DONE), ("partial", DEGRADED), ("failed", FAILED), ("cancelled", CANCELLED), ("running", RUNNING)])
def test_step_state_from_session(session: str, expected: StepState) -> None:
    assert step_state_from_session(session) == expected


def test_unknown_session_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown session status"):
        step_state_from_session("paused")


def test_cancel_requested_cancels_pending_steps_and_starts_nothing() -> None:
    plan = plan_advance(NIGHTLY, {"partitions": DONE, "accounts": RUNNING}, cancel_requested=True)
    assert plan.cancel == ("capacity", "aggregation", "classification")
    assert (plan.start, dict(plan.skip), plan.status) == ((), {}, RunStatus.RUNNING)
    done = plan_advance(NIGHTLY, {"partitions": DONE, "accounts": CANCELLED}, cancel_requested=True)
    assert done.status is RunStatus.CANCELLED


@pytest.mark.parametrize(("states", "cancel", "expected"), [
    ({"a": DONE, "b": DONE}, False, RunStatus.COMPLETED),
    ({"a": DONE, "b": DEGRADED}, False, RunStatus.PARTIAL),
    ({"a": DONE, "b": StepState(StepStatus.SKIPPED, blocked_by="x")}, False, RunStatus.PARTIAL),
    ({"a": FAILED, "b": StepState(StepStatus.SKIPPED, blocked_by="a")}, False, RunStatus.FAILED),
    ({"a": DONE, "b": DONE}, True, RunStatus.CANCELLED),
    ({"a": DONE, "b": PENDING}, True, RunStatus.RUNNING),
])
def test_run_status(states: dict[str, StepState], cancel: bool, expected: RunStatus) -> None:
    assert run_status(states, cancel_requested=cancel) is expected


def test_o5_rerun_reuses_completed_steps_and_runs_the_rest() -> None:
    original = {"partitions": DONE, "accounts": DONE, "classification": DONE, "capacity": FAILED,
                "aggregation": StepState(StepStatus.SKIPPED, blocked_by="capacity")}
    plan = plan_rerun(NIGHTLY, original)
    assert plan.reused == ("partitions", "accounts", "classification")
    assert plan.rerun == ("capacity", "aggregation")
    assert plan.states["capacity"] == PENDING and plan.states["accounts"] == DONE
    assert plan_advance(NIGHTLY, plan.states).start == ("capacity",)


def test_rerun_keeps_degraded_reused_steps() -> None:
    plan = plan_rerun(pipeline({"a": [], "b": []}), {"a": DEGRADED, "b": CANCELLED})
    assert plan.states == {"a": DEGRADED, "b": PENDING}


def test_rerun_needs_something_failed_and_a_finished_run() -> None:
    with pytest.raises(NothingToRerunError) as caught:
        plan_rerun(NIGHTLY, dict.fromkeys(("partitions", "accounts", "capacity", "aggregation", "classification"),
                                          DEGRADED))
    assert caught.value.code == "NOTHING_TO_RERUN" and isinstance(caught.value, UnprocessableError)
    with pytest.raises(InvalidStateError):
        plan_rerun(NIGHTLY, {"partitions": FAILED, "accounts": RUNNING})


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    size = draw(st.integers(1, 15))
    names = draw(st.permutations([f"s{i}" for i in range(size)]))
    return {name: draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3)) if i else []
            for i, name in enumerate(names)}


@settings(max_examples=200, deadline=None)
@given(dags())
def test_every_dependency_has_a_lower_level(graph: dict[str, list[str]]) -> None:
    definition = pipeline(graph)
    level = step_levels(definition)
    grouped = levels(definition)
    assert all(level[dep] < level[name] for name, deps in graph.items() for dep in deps)
    assert all(level[name] == 0 or any(level[d] == level[name] - 1 for d in graph[name]) for name in graph)
    assert sorted(n for group in grouped for n in group) == sorted(graph)
    assert all(group == sorted(group) and group for group in grouped)


_STATES = st.sampled_from([PENDING, RUNNING, DONE, DEGRADED, FAILED, CANCELLED])


@settings(max_examples=200, deadline=None)
@given(dags(), st.data(), st.integers(1, 4))
def test_a_step_never_starts_before_all_its_dependencies_completed(graph: dict[str, list[str]], data: st.DataObject,
                                                                   limit: int) -> None:
    definition = pipeline(graph, max_parallel=limit)
    states = {name: data.draw(_STATES) for name in graph}
    plan = plan_advance(definition, states)
    running = sum(s.status is StepStatus.RUNNING for s in states.values())
    assert len(plan.start) <= max(limit - running, 0)
    for name in plan.start:
        assert states[name].status is StepStatus.PENDING
        assert all(states[dep].status is StepStatus.COMPLETED for dep in graph[name])
    for name, blocker in plan.skip.items():
        assert states[name].status is StepStatus.PENDING
        assert states[blocker].status in {StepStatus.FAILED, StepStatus.CANCELLED}
    assert not set(plan.start) & set(plan.skip)
