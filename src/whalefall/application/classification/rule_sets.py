"""Compiled rule sets per (rules_revision, catalog_version, engine) in a per-process LRU (classification.md §11).

The cache is never authoritative: every evaluation path reads `rules_revision` once, so a write in any process
(which bumps the counter in its own transaction) makes the next evaluation recompile; `invalidate()` also drops
everything explicitly (tests, embedders).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from whalefall.application.ports.classification import ActiveRule, ClassificationStore
from whalefall.domain.classification import CompiledRuleSet, Rule, compile_rules, validate_rule
from whalefall.domain.classification.rules import ValidationIssue
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.catalog import catalog_for

DEFAULT_CAPACITY: Final = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    """The active rules of one engine at one `rules_revision`, compiled; `broken` lists stored revisions that no
    longer compile (listed as `rule_errors` and excluded)."""

    rules_revision: int
    engine: DbEngine
    rules: Mapping[int, ActiveRule]
    parsed: Mapping[int, Rule]
    compiled: CompiledRuleSet[int]
    broken: Mapping[int, tuple[ValidationIssue, ...]]


class RuleSetCache:
    """Thread-safe LRU of RuleSets keyed by (rules_revision, catalog_version, engine); shared per process."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._items: OrderedDict[tuple[int, str, DbEngine], RuleSet] = OrderedDict()
        self._lock = threading.Lock()
        self.compilations = 0

    def get(self, key: tuple[int, str, DbEngine]) -> RuleSet | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[int, str, DbEngine], value: RuleSet) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def invalidate(self) -> None:
        with self._lock:
            self._items.clear()


def compile_active(rules: list[ActiveRule], engine: DbEngine, rules_revision: int) -> RuleSet:
    """Parse (with the engine and catalog) and compile the active rules of one engine."""
    catalog = catalog_for(engine)
    parsed: dict[int, Rule] = {}
    broken: dict[int, tuple[ValidationIssue, ...]] = {}
    for rule in rules:
        report = validate_rule(rule.expression, engine=engine, catalog=catalog)
        if report.rule is None:
            broken[rule.id] = report.errors
        else:
            parsed[rule.id] = report.rule
    compiled = compile_rules(parsed, engines=dict.fromkeys(parsed, engine))
    return RuleSet(rules_revision=rules_revision, engine=engine, rules={r.id: r for r in rules if r.id in parsed},
                   parsed=parsed, compiled=compiled, broken=broken)


async def load_rule_set(store: ClassificationStore, cache: RuleSetCache, engine: DbEngine) -> RuleSet:
    """The compiled active rules of `engine` at the store's current `rules_revision` (cache hit or compile)."""
    revision = await store.rules_revision()
    key = (revision, catalog_for(engine).catalog_version, engine)
    found = cache.get(key)
    if found is not None:
        return found
    rule_set = compile_active(await store.active_rules(frozenset({engine})), engine, revision)
    cache.compilations += 1
    cache.put(key, rule_set)
    return rule_set
