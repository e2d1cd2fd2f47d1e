"""ClassifyRecord with fakes (classification.md §9; defects 1, 2, 4, 7, 17, 18, 19)."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import pytest

from tests.fakes.sessions import SettableClock
from tests.unit.application.classification.fakes import (
    T0,
    FixedFactsSource,
    MemoryAssignmentStore,
    MemoryClassificationStore,
    MemoryUnitOfWork,
    classification,
    context,
)
from whalefall.application.classification.classify_record import ClassifyRecord
from whalefall.application.classification.rule_sets import RuleSetCache
from whalefall.application.sessions.work import RecordCancelledError
from whalefall.domain.classification import classify, parse_rule
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import AccountRef, GrantFact, PermissionFacts
from whalefall.domain.privileges.names import Scope

SUPER: dict[str, Any] = {"fn": "is_superuser"}
LOGIN: dict[str, Any] = {"fn": "has_capability", "args": {"name": "LOGIN"}}
PROCESS: dict[str, Any] = {"fn": "has_privilege", "args": {"name": "PROCESS", "scope": "global"}}


def facts(key: str, *capabilities: str, grants: tuple[str, ...] = (),
          engine: DbEngine = DbEngine.MYSQL) -> PermissionFacts:
    return PermissionFacts(engine=engine, flavor="mysql" if engine is DbEngine.MYSQL else None,
                           account=AccountRef("", key, "user"), as_of=T0, capabilities=capabilities,
                           grants=tuple(GrantFact(privilege=g, scope=Scope.GLOBAL) for g in grants))


class World:
    def __init__(self) -> None:
        self.store = MemoryClassificationStore()
        self.assignments = MemoryAssignmentStore()
        self.facts = FixedFactsSource(instances={1: DbEngine.MYSQL, 2: DbEngine.MYSQL, 3: DbEngine.POSTGRESQL})
        self.uow = MemoryUnitOfWork(self.assignments)
        self.cache = RuleSetCache()
        self.clock = SettableClock(datetime(2026, 5, 1, 2, tzinfo=T0.tzinfo))
        self.store.classifications = {1: classification(1, "super", priority=100, risk=1),
                                      2: classification(2, "medium", priority=70, risk=4)}

    def work(self) -> ClassifyRecord:
        return ClassifyRecord(store=self.store, assignments=self.assignments, facts=self.facts, cache=self.cache,
                              uow=self.uow, clock=self.clock)

    async def run(self, engine: DbEngine = DbEngine.MYSQL, **kwargs: Any) -> dict[str, Any]:
        result = await self.work().run(context(engine, **kwargs))
        return dict(result.counters) | {"warnings": result.warnings, "details": result.details}


@pytest.fixture
def world() -> World:
    w = World()
    w.facts.accounts = {10: (1, DbEngine.MYSQL, facts("root@%", "SUPERUSER", "LOGIN", grants=("PROCESS",))),
                        11: (1, DbEngine.MYSQL, facts("app@%", "LOGIN")),
                        12: (2, DbEngine.MYSQL, facts("ops@%", "LOGIN", grants=("PROCESS",)))}
    w.store.add_rule(1, 1, DbEngine.MYSQL, SUPER)
    w.store.add_rule(2, 2, DbEngine.MYSQL, LOGIN)
    return w


async def test_classifies_marks_one_primary_and_is_a_no_op_when_nothing_changed(world: World) -> None:
    first = await world.run()
    auto = world.assignments.auto()
    assert sorted(auto) == [(10, 1), (10, 2), (11, 2), (12, 2)]
    assert [pair for pair, row in sorted(auto.items()) if row.is_primary] == [(10, 1), (11, 2), (12, 2)]
    assert (first["assignments_added"], first["matches"], first["rules_revision"]) == (4, 4, 2)
    writes = world.assignments.row_writes
    again = await world.run()
    assert world.assignments.row_writes == writes
    assert (again["assignments_added"], again["assignments_unchanged"]) == (0, 4)


async def test_defect_1_failure_during_apply_leaves_assignments_and_history(world: World) -> None:
    await world.run()
    before, history = dict(world.assignments.auto()), list(world.assignments.stretches)
    world.store.set_rule(2, active=False)
    world.assignments.fail_apply = True
    with pytest.raises(RuntimeError):
        await world.run()
    await world.uow.rollback()
    assert world.assignments.auto() == before and world.assignments.stretches == history
    world.assignments.fail_apply = False
    with pytest.raises(RecordCancelledError):
        await world.run(cancel=True)
    assert world.assignments.auto() == before


async def test_defect_2_an_account_without_facts_never_aborts(world: World) -> None:
    for n in range(100):
        world.facts.accounts[100 + n] = (2, DbEngine.MYSQL, facts(f"u{n}@%", "LOGIN"))
    world.facts.accounts[99] = (2, DbEngine.MYSQL, None)
    counters = await world.run()
    assert counters["accounts_without_facts"] == 1 and counters["accounts_evaluated"] == 103
    assert len([p for p in world.assignments.auto() if p[1] == 2]) == 103
    assert {(e.account_id, e.code, e.rule_id) for e in world.assignments.errors} == {
        (99, "facts_missing", 1), (99, "facts_missing", 2)}
    assert any(w["code"] == "facts_missing" for w in counters["warnings"])


@pytest.mark.parametrize("order", list(itertools.permutations([3, 4, 5])))
async def test_defect_4_three_matching_rules_all_credited_primary_deterministic(order: tuple[int, ...]) -> None:
    world = World()
    world.facts.accounts = {10: (1, DbEngine.MYSQL, facts("root@%", "SUPERUSER", "LOGIN", grants=("PROCESS",)))}
    expressions = {3: SUPER, 4: LOGIN, 5: PROCESS}
    for rule_id in order:
        world.store.add_rule(rule_id, 2, DbEngine.MYSQL, expressions[rule_id])
    world.store.add_rule(6, 1, DbEngine.MYSQL, SUPER)
    await world.run()
    auto = world.assignments.auto()
    assert auto[(10, 2)].matched_rules == ((3, 1), (4, 1), (5, 1))
    assert auto[(10, 1)].is_primary and not auto[(10, 2)].is_primary


async def test_defect_7_rules_without_facts_are_reported(world: World) -> None:
    world.store.add_rule(7, 1, DbEngine.ORACLE, SUPER)
    counters = await world.run(DbEngine.ORACLE)
    assert counters["details"]["rules_without_facts"] == [{"rule_id": 7, "reason": "no_instances"}]


async def test_defect_17_every_write_changes_the_next_evaluation(world: World) -> None:
    await world.run()
    world.store.set_rule(1, expr=PROCESS)
    await world.run()
    assert sorted(p for p in world.assignments.auto() if p[1] == 1) == [(10, 1), (12, 1)]
    world.store.set_rule(1, active=False)
    await world.run()
    assert not [p for p in world.assignments.auto() if p[1] == 1]
    world.store.set_rule(1, active=True)
    await world.run()
    world.store.set_rule(1, deleted=True)
    await world.run()
    assert not [p for p in world.assignments.auto() if p[1] == 1]
    assert world.cache.compilations == 5


async def test_defect_18_inactive_classification_loses_its_assignments(world: World) -> None:
    await world.run()
    world.store.classifications[2] = classification(2, "medium", priority=70, active=False)
    world.store.revision += 1
    await world.run()
    assert sorted(world.assignments.auto()) == [(10, 1)]
    closed = [h for h in world.assignments.stretches if h.classification_id == 2]
    assert closed and all(h.valid_to is not None for h in closed)


async def test_defect_19_auto_classify_agrees_with_the_batch_core_and_manual_wins_primary(world: World) -> None:
    world.assignments.add_manual(11, 1, 1)
    await world.run()
    rules = {1: parse_rule({"version": 4, "expr": SUPER}), 2: parse_rule({"version": 4, "expr": LOGIN})}
    expected = classify(rules, {a: f for a, (_, _, f) in world.facts.accounts.items() if f is not None})
    stored = {r: frozenset(a for (a, c), row in world.assignments.auto().items() if r in dict(row.matched_rules))
              for r in rules}
    assert stored == expected
    manual = next(r for r in world.assignments.rows.values() if r.source == "manual")
    assert manual.is_primary and not world.assignments.auto()[(11, 2)].is_primary


async def test_selection_limits_the_replaced_set(world: World) -> None:
    await world.run()
    world.store.set_rule(2, active=False)
    await world.run(instance_ids=[2])
    assert sorted(world.assignments.auto()) == [(10, 1), (10, 2), (11, 2)]
