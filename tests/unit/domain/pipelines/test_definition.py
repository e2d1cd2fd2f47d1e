"""Pipeline documents: shape parsing, every validation rule of operations §4.2 (O6) and the built-in nightly."""

from __future__ import annotations

import graphlib
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whalefall.domain.errors import Problem, UnprocessableError
from whalefall.domain.pipelines import (
    NIGHTLY,
    STEP_KINDS,
    PipelineDefinition,
    PipelineInvalidError,
    StepDefinition,
    definition_from_document,
    definition_to_document,
    nightly_document,
    require_valid,
    validate,
    validate_document,
)


def doc(*steps: object, **top: Any) -> dict[str, Any]:
    return {"name": "p", "steps": list(steps), **top}


def step(name: str, *depends_on: object, kind: str = "accounts_sync", **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "depends_on": list(depends_on), **extra}


def problems_of(document: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(p.field, p.code, p.message) for p in validate(definition_from_document(document))]


def test_nightly_is_valid_and_matches_the_spec() -> None:
    assert validate(NIGHTLY) == []
    assert NIGHTLY.name == "nightly"
    assert NIGHTLY.max_parallel_steps == 4
    assert NIGHTLY.schedule is not None and (NIGHTLY.schedule.cron, NIGHTLY.schedule.enabled) == ("30 0 * * *", False)
    deps = {s.name: s.depends_on for s in NIGHTLY.steps}
    assert deps == {"partitions": (), "accounts": ("partitions",), "classification": ("accounts",),
                    "capacity": ("partitions",), "aggregation": ("capacity",)}
    assert NIGHTLY.steps[-1].params["window"] == "last_complete"
    assert all(s.timeout_s == 14_400 for s in NIGHTLY.steps)


def test_nightly_document_is_a_fresh_copy() -> None:
    first = nightly_document()
    first["steps"][0]["name"] = "changed"
    assert nightly_document()["steps"][0]["name"] == "partitions"


def test_o6_unknown_dependency_and_cycle_details() -> None:
    document = doc(step("a", "c"), step("b", "a"), step("c", "b"), step("d", "x"))
    assert problems_of(document) == [
        ("steps[3].depends_on[0]", "unknown_step", 'unknown step "x"'),
        ("steps", "cycle", "cycle a → b → c → a"),
    ]


def test_two_step_cycle_with_a_tail_reports_only_the_cycle() -> None:
    found = problems_of(doc(step("t"), step("u", "t", "w"), step("w", "u"), step("z", "w")))
    assert found == [("steps", "cycle", "cycle u → w → u")]


def test_disjoint_cycles_are_each_reported() -> None:
    found = problems_of(doc(step("a", "b"), step("b", "a"), step("c", "d"), step("d", "c")))
    assert [f[2] for f in found] == ["cycle a → b → a", "cycle c → d → c"]


@pytest.mark.parametrize(("steps", "expected"), [
    ([step("a"), step("a")], [("steps[1].name", "duplicate", 'duplicate step name "a"')]),
    ([step("a", kind="connection_test")], [("steps[0].kind", "invalid_choice", 'unknown step kind "connection_test"')]),
    ([step("a", kind="credential_rotation")],
     [("steps[0].kind", "invalid_choice", 'unknown step kind "credential_rotation"')]),
    ([step("a", "a")], [("steps[0].depends_on[0]", "self_dependency", 'step "a" cannot depend on itself')]),
    ([step("a"), step("b", "a", "a")], [("steps[1].depends_on[1]", "duplicate", '"a" is listed twice')]),
    ([step("Bad")], [("steps[0].name", "invalid_format", "step name must match [a-z][a-z0-9_]{0,62}")]),
    ([step("a-b")], [("steps[0].name", "invalid_format", "step name must match [a-z][a-z0-9_]{0,62}")]),
    ([step("a" * 64)], [("steps[0].name", "invalid_format", "step name must match [a-z][a-z0-9_]{0,62}")]),
    ([step("a", timeout_s=0)], [("steps[0].timeout_s", "too_small", "timeout_s must be positive")]),
    ([], [("steps", "too_few_items", "a pipeline needs at least one step")]),
])
def test_step_rules(steps: list[dict[str, Any]], expected: list[tuple[str, str, str]]) -> None:
    assert problems_of(doc(*steps)) == expected


def test_more_than_fifty_steps_is_one_problem() -> None:
    assert problems_of(doc(*[step(f"s{i}") for i in range(50)])) == []
    assert problems_of(doc(*[step(f"s{i}") for i in range(51)])) == [
        ("steps", "too_many_items", "a pipeline has at most 50 steps")]


@pytest.mark.parametrize(("top", "field", "code"), [
    ({"name": "Nightly"}, "name", "invalid_format"),
    ({"name": "n" * 65}, "name", "invalid_format"),
    ({"max_parallel_steps": 0}, "max_parallel_steps", "too_small"),
    ({"max_parallel_steps": 17}, "max_parallel_steps", "too_large"),
    ({"schedule": {"cron": "0 3 * * * *"}}, "schedule.cron", "invalid_format"),
    ({"schedule": {"cron": "0 25 * * *"}}, "schedule.cron.hour", "too_large"),
    ({"schedule": {"cron": "0 3 * * *", "timezone": "Mars/Olympus"}}, "schedule.timezone", "invalid_choice"),
])
def test_pipeline_rules(top: dict[str, Any], field: str, code: str) -> None:
    assert [(f, c) for f, c, _ in problems_of(doc(step("a"), **top))] == [(field, code)]


def test_pipeline_names_and_parallelism_bounds_that_pass() -> None:
    for top in ({"name": "nightly-2_b"}, {"max_parallel_steps": 1}, {"max_parallel_steps": 16},
                {"schedule": {"cron": "30 0 * * *", "timezone": "Europe/Berlin", "enabled": False}}):
        assert problems_of(doc(step("a"), **top)) == []


def test_params_validator_gets_valid_kinds_and_its_paths_are_rooted_in_the_step() -> None:
    seen: list[tuple[str, Mapping[str, object]]] = []

    def check(kind: str, params: Mapping[str, object]) -> Sequence[Problem]:
        seen.append((kind, params))
        return [Problem("instance_ids[0]", "not_found", "no such instance"), Problem(None, "invalid", "whole")]

    definition = definition_from_document(doc(step("a", params={"instance_ids": [9]}), step("b", kind="nope")))
    found = validate(definition, check)
    assert seen == [("accounts_sync", {"instance_ids": [9]})]
    assert [(p.field, p.code) for p in found] == [
        ("steps[0].params.instance_ids[0]", "not_found"), ("steps[0].params", "invalid"),
        ("steps[1].kind", "invalid_choice")]


def test_list_shaped_params_problem_paths() -> None:
    definition = definition_from_document(doc(step("a")))
    found = validate(definition, lambda kind, params: [Problem("[2]", "bad", "bad")])
    assert [p.field for p in found] == ["steps[0].params[2]"]


@pytest.mark.parametrize(("document", "expected"), [
    ([], [(None, "invalid_type")]),
    ({"steps": []}, [("name", "required")]),
    ({"name": "p"}, [("steps", "required")]),
    ({"name": 3, "steps": "a"}, [("name", "invalid_type"), ("steps", "invalid_type")]),
    (doc(step("a"), extra=1), [("extra", "unknown_field")]),
    (doc(step("a"), max_parallel_steps=True), [("max_parallel_steps", "invalid_type")]),
    (doc(step("a"), schedule="daily"), [("schedule", "invalid_type")]),
    (doc(step("a"), schedule={"timezone": "UTC"}), [("schedule.cron", "required")]),
    (doc("a"), [("steps[0]", "invalid_type")]),
    (doc({"kind": "accounts_sync", "retry": 1}), [("steps[0].retry", "unknown_field"), ("steps[0].name", "required")]),
    (doc(step("a", params=[1])), [("steps[0].params", "invalid_type")]),
    (doc({"name": "a", "kind": "accounts_sync", "depends_on": "b"}), [("steps[0].depends_on", "invalid_type")]),
    (doc(step("a", 1)), [("steps[0].depends_on[0]", "invalid_type")]),
    (doc(step("a", timeout_s=1.5)), [("steps[0].timeout_s", "invalid_type")]),
])
def test_shape_problems_are_collected(document: object, expected: list[tuple[str | None, str]]) -> None:
    with pytest.raises(PipelineInvalidError) as caught:
        definition_from_document(document)
    assert caught.value.code == "PIPELINE_INVALID"
    assert isinstance(caught.value, UnprocessableError)
    assert [(p.field, p.code) for p in caught.value.problems] == expected


def test_defaults_when_optional_fields_are_absent() -> None:
    definition = definition_from_document({"name": "p", "steps": [{"name": "a", "kind": "classification"}]})
    assert definition == PipelineDefinition(name="p", steps=(StepDefinition(name="a", kind="classification"),))
    assert definition.max_parallel_steps == 4 and definition.schedule is None
    assert definition.steps[0].depends_on == () and dict(definition.steps[0].params) == {}
    scheduled = definition_from_document(doc(step("a"), schedule={"cron": "0 1 * * *"}))
    assert scheduled.schedule is not None and (scheduled.schedule.timezone, scheduled.schedule.enabled) == ("UTC", True)


def test_params_are_copied_from_the_document() -> None:
    document = doc(step("a", params={"db_types": ["mysql"]}))
    definition = definition_from_document(document)
    document["steps"][0]["params"]["db_types"].append("oracle")
    assert definition.steps[0].params == {"db_types": ["mysql"]}


def test_document_round_trip() -> None:
    assert definition_from_document(definition_to_document(NIGHTLY)) == NIGHTLY
    plain = definition_from_document(doc(step("a")))
    assert definition_from_document(definition_to_document(plain)) == plain


def test_validate_document_and_require_valid() -> None:
    assert validate_document({"name": "p"}) == (None, [Problem("steps", "required", "steps is required")])
    definition, found = validate_document(doc(step("a", "b")))
    assert definition is not None and [p.code for p in found] == ["unknown_step"]
    with pytest.raises(PipelineInvalidError) as caught:
        require_valid(definition)
    assert [p.field for p in caught.value.problems] == ["steps[0].depends_on[0]"]
    require_valid(NIGHTLY)


def test_step_kinds_are_the_session_kinds_a_pipeline_may_run() -> None:
    assert {"accounts_sync", "capacity_collection", "table_sizes", "capacity_aggregation", "classification",
            "partition_maintenance", "retention_cleanup"} == STEP_KINDS


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, list[str]]:
    size = draw(st.integers(1, 12))
    names = [f"s{i}" for i in range(size)]
    return {n: [d for d in draw(st.lists(st.sampled_from(names), max_size=3, unique=True)) if d != n] for n in names}


@settings(max_examples=200, deadline=None)
@given(graphs(), st.randoms(use_true_random=False))
def test_cycles_are_reported_exactly_when_graphlib_finds_one(graph: dict[str, list[str]], rnd: Any) -> None:
    names = list(graph)
    rnd.shuffle(names)
    definition = definition_from_document(doc(*[step(n, *graph[n]) for n in names]))
    cycles = [p for p in validate(definition) if p.code == "cycle"]
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
        has_cycle = False
    except graphlib.CycleError:
        has_cycle = True
    assert bool(cycles) == has_cycle
    for problem in cycles:
        assert problem.context is not None
        path = problem.context["cycle"]
        assert isinstance(path, list) and path[0] == path[-1] and len(set(path)) == len(path) - 1
        assert all(before in graph[after] for before, after in pairwise(path))
