"""Monthly partition planner (capacity.md §8.1): E10, E11, legacy defect 18 and the planner invariants."""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterable
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whalefall.domain.partitions import (
    ExistingPartition,
    PartitionedTable,
    PartitionPlan,
    PartitionPolicy,
    PartitionSpec,
    add_months,
    month_start,
    partition_name,
    plan_partitions,
    write_horizon,
)

D = date
SAMPLES = "database_size_samples"
AGGREGATIONS = "database_size_aggregations"
MANUAL = "instance_size_samples"


def monthly(table: str, first: date, count: int) -> list[ExistingPartition]:
    months = [add_months(first, k) for k in range(count)]
    return [ExistingPartition(table, partition_name(table, m), m, add_months(m, 1), False) for m in months]


def default(table: str) -> ExistingPartition:
    return ExistingPartition(table, f"{table}_default", None, None, True)


def apply(existing: Iterable[ExistingPartition], plan: PartitionPlan) -> list[ExistingPartition]:
    state = [c for c in existing if c not in plan.drop]
    state += [ExistingPartition(s.table, s.name, s.lower, s.upper, False) for s in plan.create]
    state += [default(table) for table in plan.create_default]
    return state


E10_POLICY = PartitionPolicy((PartitionedTable(SAMPLES, 24), PartitionedTable(AGGREGATIONS, 60)), premake_months=3)
E10_EXISTING = [*monthly(SAMPLES, D(2025, 3, 1), 28), default(SAMPLES), *monthly(AGGREGATIONS, D(2024, 1, 1), 41)]


def spec(table: str, year: int, month: int) -> PartitionSpec:
    lower = D(year, month, 1)
    return PartitionSpec(table, f"{table}_{year:04d}_{month:02d}", lower, add_months(lower, 1))


def test_e10_plan() -> None:
    assert len([c for c in E10_EXISTING if c.table == SAMPLES and not c.is_default]) == 28
    plan = plan_partitions(E10_EXISTING, D(2027, 5, 19), E10_POLICY)
    assert plan.create == (
        spec(AGGREGATIONS, 2027, 6), spec(AGGREGATIONS, 2027, 7), spec(AGGREGATIONS, 2027, 8),
        spec(SAMPLES, 2027, 7), spec(SAMPLES, 2027, 8),
    )
    assert plan.create[-1] == PartitionSpec(SAMPLES, f"{SAMPLES}_2027_08", D(2027, 8, 1), D(2027, 9, 1))
    assert plan.create_default == (AGGREGATIONS,)
    assert [(c.name, c.upper) for c in plan.drop] == [
        (f"{SAMPLES}_2025_03", D(2025, 4, 1)), (f"{SAMPLES}_2025_04", D(2025, 5, 1))]
    assert dict(plan.cutoffs) == {SAMPLES: D(2025, 5, 1), AGGREGATIONS: D(2022, 5, 1)}
    assert plan.write_horizon == D(2027, 9, 1) == write_horizon(D(2027, 5, 19), E10_POLICY)
    assert (plan.ignored, plan.warnings) == ((), ())
    assert not plan.is_empty


@pytest.mark.parametrize("today", [D(2027, 5, 19), D(2027, 5, 31)])
def test_e10_replanning_the_applied_state_is_empty(today: date) -> None:
    applied = apply(E10_EXISTING, plan_partitions(E10_EXISTING, D(2027, 5, 19), E10_POLICY))
    assert plan_partitions(applied, today, E10_POLICY).is_empty


def test_e10_next_month() -> None:
    applied = apply(E10_EXISTING, plan_partitions(E10_EXISTING, D(2027, 5, 19), E10_POLICY))
    plan = plan_partitions(applied, D(2027, 6, 1), E10_POLICY)
    assert plan.create == (spec(AGGREGATIONS, 2027, 9), spec(SAMPLES, 2027, 9))
    assert [c.name for c in plan.drop] == [f"{SAMPLES}_2025_05"]
    assert plan.create_default == ()
    assert plan.write_horizon == D(2027, 10, 1)


def test_e11_year_boundary() -> None:
    policy = PartitionPolicy((PartitionedTable(MANUAL, 24),))
    plan = plan_partitions([default(MANUAL)], D(2027, 11, 30), policy)
    assert plan.create == (spec(MANUAL, 2027, 11), spec(MANUAL, 2027, 12), spec(MANUAL, 2028, 1),
                           spec(MANUAL, 2028, 2))
    assert plan.write_horizon == D(2028, 3, 1)
    assert (plan.create_default, plan.drop) == ((), ())


IRREGULAR = ExistingPartition(MANUAL, f"{MANUAL}_manual", D(2027, 5, 15), D(2027, 6, 15), False)


def test_e11_irregular_child_is_ignored_and_blocks_overlapping_months() -> None:
    policy = PartitionPolicy((PartitionedTable(MANUAL, 24),), premake_months=1)
    plan = plan_partitions([IRREGULAR, default(MANUAL)], D(2027, 5, 19), policy)
    assert plan.create == ()
    assert len(plan.warnings) == 2
    assert all(w.startswith("month_overlaps_existing") and IRREGULAR.name in w for w in plan.warnings)
    assert [(i.partition, i.reason) for i in plan.ignored] == [(IRREGULAR, "not_a_calendar_month")]
    assert plan.is_empty


@pytest.mark.parametrize("today", [D(2040, 1, 1), D(2099, 12, 31)])
def test_e11_irregular_child_is_never_dropped_however_old(today: date) -> None:
    policy = PartitionPolicy((PartitionedTable(MANUAL, 1),), premake_months=0)
    plan = plan_partitions([IRREGULAR], today, policy)
    assert IRREGULAR not in plan.drop
    assert [i.partition for i in plan.ignored] == [IRREGULAR]


def _defect_18_days() -> list[date]:
    days = []
    for year, month in [(2027, 1), (2027, 3), (2028, 2), (2028, 12), (2029, 2)]:
        last = calendar.monthrange(year, month)[1]
        days += [D(year, month, 1), D(year, month, 15), D(year, month, last)]
    return days


@pytest.mark.parametrize("today", _defect_18_days(), ids=str)
def test_defect_18_retention_12_keeps_exactly_13_months(today: date) -> None:
    policy = PartitionPolicy((PartitionedTable(SAMPLES, 12),), premake_months=2)
    existing = monthly(SAMPLES, add_months(month_start(today), -40), 41)
    kept = apply(existing, plan_partitions(existing, today, policy))
    up_to_now = sorted(c.lower for c in kept if c.lower is not None and c.lower <= today)
    assert len(up_to_now) == 13
    assert up_to_now[0] == add_months(month_start(today), -12)
    assert up_to_now[-1] == month_start(today)


def test_unknown_table_and_bad_policy_raise() -> None:
    policy = PartitionPolicy((PartitionedTable(SAMPLES, 12),))
    with pytest.raises(ValueError, match="unknown table"):
        plan_partitions([default("other")], D(2027, 5, 19), policy)
    for premake in (-1, 25):
        with pytest.raises(ValueError, match="premake_months"):
            plan_partitions([], D(2027, 5, 19), PartitionPolicy((PartitionedTable(SAMPLES, 12),), premake))
    for retention in (0, 601):
        with pytest.raises(ValueError, match="retention_months"):
            PartitionedTable(SAMPLES, retention)
    with pytest.raises(ValueError, match="twice"):
        PartitionPolicy((PartitionedTable(SAMPLES, 12), PartitionedTable(SAMPLES, 24)))


def test_name_taken_by_a_child_with_other_bounds_is_not_created() -> None:
    # A child named like July but holding June: creating "…_2027_07" would silently do nothing (IF NOT EXISTS).
    odd = ExistingPartition(SAMPLES, f"{SAMPLES}_2027_07", D(2027, 6, 1), D(2027, 7, 1), False)
    policy = PartitionPolicy((PartitionedTable(SAMPLES, 12),), premake_months=2, create_default=False)
    plan = plan_partitions([odd, *monthly(SAMPLES, D(2027, 5, 1), 1)], D(2027, 5, 19), policy)
    assert plan.create == ()
    assert any(w.startswith("partition_name_taken") for w in plan.warnings)
    assert any(w.startswith("default_missing") for w in plan.warnings)


@pytest.mark.parametrize(
    ("d", "n", "expected"),
    [(D(2027, 1, 31), 1, D(2027, 2, 28)), (D(2028, 1, 31), 1, D(2028, 2, 29)), (D(2027, 1, 15), -13, D(2025, 12, 15)),
     (D(2027, 12, 1), 1, D(2028, 1, 1)), (D(2027, 5, 1), 0, D(2027, 5, 1))],
)
def test_add_months(d: date, n: int, expected: date) -> None:
    assert add_months(d, n) == expected


def test_names() -> None:
    assert partition_name(SAMPLES, D(2027, 7, 1)) == "database_size_samples_2027_07"
    assert month_start(D(2027, 7, 31)) == D(2027, 7, 1)


TABLES = ("t_a", "t_b")


@st.composite
def states(draw: st.DrawFn) -> tuple[list[ExistingPartition], date, PartitionPolicy]:
    today = draw(st.dates(D(2001, 1, 1), D(2098, 12, 31)))
    policy = PartitionPolicy(
        tuple(PartitionedTable(t, draw(st.integers(1, 60))) for t in TABLES),
        premake_months=draw(st.integers(0, 24)), create_default=draw(st.booleans()),
    )
    existing: list[ExistingPartition] = []
    for table in TABLES:
        if draw(st.booleans()):
            existing.append(default(table))
        candidates: list[ExistingPartition] = []
        for offset in draw(st.sets(st.integers(-70, 30), max_size=30)):
            lower = add_months(month_start(today), offset)
            upper = add_months(lower, 1)
            candidates.append(ExistingPartition(table, partition_name(table, lower), lower, upper, False))
        for k in range(draw(st.integers(0, 3))):
            lower = today + timedelta(days=draw(st.integers(-2000, 900)))
            upper = lower + timedelta(days=draw(st.integers(1, 120)))
            bounded = draw(st.sampled_from(["both", "no_lower", "no_upper"]))
            candidates.append(ExistingPartition(table, f"{table}_odd_{k}", None if bounded == "no_lower" else lower,
                                                None if bounded == "no_upper" else upper, False))
        for child in draw(st.permutations(candidates)):
            # PostgreSQL refuses overlapping children, so the catalog never holds any.
            if not any(child.overlaps(o.lower or D.min, o.upper or D.max) or o.overlaps(child.lower or D.min,
                       child.upper or D.max) for o in existing if not o.is_default and o.table == table):
                existing.append(child)
    return existing, today, policy


@settings(max_examples=300)
@given(states())
def test_planner_invariants(state: tuple[list[ExistingPartition], date, PartitionPolicy]) -> None:
    existing, today, policy = state
    plan = plan_partitions(existing, today, policy)
    for create in plan.create:
        assert create.lower.day == 1
        assert create.upper == add_months(create.lower, 1)
        assert create.name == partition_name(create.table, create.lower)
        assert not any(c.overlaps(create.lower, create.upper) for c in existing if c.table == create.table)
        assert create.lower < plan.write_horizon
    assert len({(c.table, c.lower) for c in plan.create}) == len(plan.create)
    for drop in plan.drop:
        assert drop.upper is not None
        assert drop.upper <= plan.cutoffs[drop.table]
        assert drop.is_calendar_month
        assert drop in existing
    assert list(plan.create) == sorted(plan.create, key=lambda c: (c.table, c.lower))
    assert [(d.table, d.lower) for d in plan.drop] == sorted((d.table, d.lower) for d in plan.drop)
    assert plan.write_horizon == add_months(month_start(today), policy.premake_months + 1)
    irregular = {c for c in existing if not c.is_default and not c.is_calendar_month}
    assert {i.partition for i in plan.ignored} == irregular
    assert not irregular & set(plan.drop)

    applied = apply(existing, plan)
    assert plan_partitions(applied, today, policy).is_empty
    for table in TABLES:
        regular = {c.lower for c in applied if c.table == table and c.is_calendar_month}
        for k in range(policy.premake_months + 1):
            month = add_months(month_start(today), k)
            blocked = any(c.overlaps(month, add_months(month, 1)) for c in applied if c.table == table)
            assert month in regular or any(f"{month:%Y-%m}" in w and table in w for w in plan.warnings)
            assert blocked
        assert policy.create_default is False or any(c.is_default for c in applied if c.table == table)


@settings(max_examples=200)
@given(st.dates(D(2001, 1, 1), D(2098, 12, 31)), st.integers(0, 24), st.integers(1, 60))
def test_required_months_are_contiguous_from_scratch(today: date, premake: int, retention: int) -> None:
    policy = PartitionPolicy((PartitionedTable("t_a", retention),), premake_months=premake)
    plan = plan_partitions([], today, policy)
    assert [c.lower for c in plan.create] == [add_months(month_start(today), k) for k in range(premake + 1)]
    for before, after in itertools.pairwise(plan.create):
        assert after.lower == before.upper
    assert plan.create[-1].upper == plan.write_horizon
    assert plan.create_default == ("t_a",)
