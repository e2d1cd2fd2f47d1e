"""Batch classification: rules compiled once, facts indexed once as bitsets, matches by set algebra (§7).

Bitsets are Python ints, one bit per account ordinal within an engine segment. Postings are collected as ordinal
lists while indexing (one pass over the facts) and turned into bitsets only when a leaf needs them; a leaf's value
and error sets are computed once per segment and cached in the index, so identical leaves of different rules (and
later rule sets run on the same index) share the work. Accounts whose candidate grants meet a deny fact are
re-checked one by one with the single-account evaluator, which keeps batch and per-account results identical.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, compress
from operator import itemgetter
from typing import Final, Generic, TypeVar, assert_never

from whalefall.domain.classification.evaluator import (
    DATABASE_SCOPES,
    PUBLIC_ENGINES,
    EvaluationError,
    is_public_name,
    leaf_error,
    privilege_names,
    privilege_value,
    public_role_applies,
    role_candidates,
    usage_always,
)
from whalefall.domain.classification.rules import (
    And,
    DbTypeIn,
    HasAnyPrivilege,
    HasCapability,
    HasPrivilege,
    HasRole,
    IsSuperuser,
    Leaf,
    LeafKey,
    Node,
    Not,
    Or,
    Rule,
    iter_leaves,
    leaf_key,
    privilege_names_of,
)
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import FactsError, GrantFact, PermissionFacts, RoleFact
from whalefall.domain.privileges.names import Scope

R = TypeVar("R", bound=Hashable)
A = TypeVar("A", bound=Hashable)
_TO_DIGITS: Final = bytes.maketrans(b"\x00\x01", b"01")
_FROM_DIGITS: Final = bytes.maketrans(b"01", b"\x00\x01")
_FIRST: Final = itemgetter(0)
_DIRECT_ONLY: Final = ("direct",)
_MISSING_MESSAGES: Final = {
    "facts_missing": "the account has no permission facts (never synced successfully)",
    "facts_invalid": "the account's permission facts are malformed",
    "facts_version_unsupported": "the account's permission facts have an unsupported version",
}


def _bits(size: int, postings: Iterable[Iterable[int]]) -> int:
    """Bitset of the union of ordinal lists (built in C: byte flags → binary digits → int)."""
    flags = bytearray(size)
    for ordinals in postings:
        for ordinal in ordinals:
            flags[ordinal] = 1
    if not size:
        return 0
    flags.reverse()
    return int(flags.translate(_TO_DIGITS), 2)


def _selectors(bits: int) -> bytes:
    """One byte (0/1) per ordinal, lowest ordinal first, up to the highest set bit."""
    return format(bits, "b").encode("ascii")[::-1].translate(_FROM_DIGITS)


def _members(bits: int, items: Sequence[A]) -> Iterator[A]:
    return compress(items, _selectors(bits)) if bits else iter(())


def _ordinals(bits: int) -> Iterator[int]:
    return compress(range(bits.bit_length()), _selectors(bits)) if bits else iter(())


RolePosting = tuple[str | None, bool, list[int]]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Segment(Generic[A]):
    """Inverted indexes of the accounts of one engine; ordinals are positions in `accounts`."""

    engine: DbEngine
    accounts: tuple[A, ...]
    facts: tuple[PermissionFacts, ...]
    universe: int
    capabilities: dict[tuple[str, ...], list[int]]
    capabilities_via_roles: dict[tuple[str, ...], list[int]]
    roles: dict[str, list[tuple[int, RoleFact]]]
    grants: dict[tuple[str, Scope, str, str | None], list[tuple[int, GrantFact]]]
    grant_databases: dict[tuple[str, Scope, str], list[str | None]]
    grant_sources: tuple[str, ...]
    denies: dict[str, list[int]]
    blind_any: list[int]
    blind_by_database: dict[str | None, list[int]]
    mariadb: list[int]
    public_group: list[int]
    cache: dict[LeafKey, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)
    refined_roles: dict[str, list[RolePosting]] = field(default_factory=dict, repr=False, compare=False)

    def role_postings(self, name: str) -> list[RolePosting]:
        """{(database, direct) → ordinals} of one role key, built on first use."""
        found = self.refined_roles.get(name)
        if found is None:
            grouped: defaultdict[tuple[str | None, bool], list[int]] = defaultdict(list)
            for ordinal, role in self.roles.get(name, ()):
                grouped[role.database, role.direct].append(ordinal)
            found = [(*key, ordinals) for key, ordinals in grouped.items()]
            self.refined_roles[name] = found
        return found

    def leaf(self, leaf: Leaf) -> tuple[int, int]:
        """(value bits, error bits) of a leaf; computed once per segment."""
        key = leaf_key(leaf)
        found = self.cache.get(key)
        if found is None:
            found = self._compute(leaf)
            self.cache[key] = found  # idempotent memo: a race only recomputes the same value
        return found

    def _compute(self, leaf: Leaf) -> tuple[int, int]:
        size = len(self.accounts)
        match leaf:
            case DbTypeIn(engines):
                if self.engine.value in engines:
                    return self.universe, 0
                return (_bits(size, [self.mariadb]) if "mariadb" in engines else 0), 0
            case IsSuperuser(via_roles):
                return self._capability("SUPERUSER", via_roles), 0
            case HasCapability(name=name, via_roles=via_roles):
                return self._capability(name, via_roles), 0
            case HasRole():
                value = self._role(leaf)
                if self.engine is not DbEngine.SQLSERVER:
                    return value, 0
                return value, self._blind(leaf.database) & ~value
            case HasPrivilege() | HasAnyPrivilege():
                value = self._privilege(leaf)
                if leaf.scope not in DATABASE_SCOPES:
                    return value, 0
                return value, self._blind(leaf.database) & ~value
            case _:
                assert_never(leaf)

    def _capability(self, name: str, via_roles: bool) -> int:
        postings = [ordinals for names, ordinals in self.capabilities.items() if name in names]
        if via_roles:
            postings += [ordinals for names, ordinals in self.capabilities_via_roles.items() if name in names]
        return _bits(len(self.accounts), postings)

    def _role(self, leaf: HasRole) -> int:
        if is_public_name(leaf.name) and self.engine in PUBLIC_ENGINES:
            return self.universe
        postings = [
            ordinals
            for candidate in role_candidates(self.engine, leaf.name)
            for database, direct, ordinals in self.role_postings(candidate)
            if (leaf.via_roles or direct) and (leaf.database is None or database == leaf.database)
        ]
        if is_public_name(leaf.name):
            postings.append(self.public_group)
        return _bits(len(self.accounts), postings)

    def _privilege(self, leaf: HasPrivilege | HasAnyPrivilege) -> int:
        names = privilege_names(self.engine, privilege_names_of(leaf))
        if usage_always(leaf, self.engine, names):
            return self.universe
        postings: list[Iterable[int]] = []
        database, obj, via_roles, grant_option = leaf.database, leaf.object, leaf.via_roles, leaf.grant_option
        sources = self.grant_sources if via_roles else _DIRECT_ONLY
        for name in names:
            for source in sources:
                databases = [database] if database is not None else self.grant_databases.get(
                    (name, leaf.scope, source), ())
                for grant_database in databases:
                    entries = self.grants.get((name, leaf.scope, source, grant_database))
                    if not entries:
                        continue
                    if obj is None and not grant_option:
                        postings.append(map(_FIRST, entries))
                    else:
                        postings.append([
                            ordinal for ordinal, grant in entries
                            if (obj is None or grant.object == obj) and (grant.grant_option or not grant_option)
                        ])
        size = len(self.accounts)
        value = _bits(size, postings)
        denied = [self.denies[name] for name in names if name in self.denies]
        suspects = value & _bits(size, denied) if denied and value else 0
        if suspects:
            blocked = [o for o in _ordinals(suspects) if not privilege_value(leaf, self.facts[o])]
            value &= ~_bits(size, [blocked])
        return value

    def _blind(self, database: str | None) -> int:
        if not self.blind_any:
            return 0
        if database is None:
            return _bits(len(self.accounts), [self.blind_any])
        return _bits(len(self.accounts), [self.blind_by_database.get(database, []),
                                          self.blind_by_database.get(None, [])])

    def tree(self, node: Node) -> int:
        """Value bits of an expression (before removing accounts with leaf errors)."""
        match node:
            case And(children):
                value = self.universe
                for child in children:
                    value &= self.tree(child)
                return value
            case Or(children):
                value = 0
                for child in children:
                    value |= self.tree(child)
                return value
            case Not(child):
                return self.universe ^ self.tree(child)
            case DbTypeIn() | IsSuperuser() | HasCapability() | HasRole() | HasPrivilege() | HasAnyPrivilege():
                return self.leaf(node)[0]
            case _:
                assert_never(node)


def _segment(engine: DbEngine, accounts: list[A], facts: list[PermissionFacts]) -> _Segment[A]:
    capabilities: defaultdict[tuple[str, ...], list[int]] = defaultdict(list)
    via_roles: defaultdict[tuple[str, ...], list[int]] = defaultdict(list)
    roles: defaultdict[str, list[tuple[int, RoleFact]]] = defaultdict(list)
    grants: defaultdict[tuple[str, Scope, str, str | None], list[tuple[int, GrantFact]]] = defaultdict(list)
    denies: defaultdict[str, list[int]] = defaultdict(list)
    blind_by_database: defaultdict[str | None, list[int]] = defaultdict(list)
    blind_any: list[int] = []
    mariadb: list[int] = []
    public_group: list[int] = []
    for ordinal, item in enumerate(facts):
        capabilities[item.capabilities].append(ordinal)
        if item.capabilities_via_roles:
            via_roles[item.capabilities_via_roles].append(ordinal)
        for role in item.roles:
            roles[role.name].append((ordinal, role))
        for grant in item.grants:
            if grant.effect == "grant":
                grants[grant.privilege, grant.scope, grant.source, grant.database].append((ordinal, grant))
            else:
                denies[grant.privilege].append(ordinal)
        if item.coverage.gaps:
            blind = item.blind_databases()
            if blind:
                blind_any.append(ordinal)
                for database in set(blind):
                    blind_by_database[database].append(ordinal)
        if item.flavor == "mariadb":
            mariadb.append(ordinal)
            if public_role_applies(item):
                public_group.append(ordinal)
    grant_databases: dict[tuple[str, Scope, str], list[str | None]] = {}
    for name, scope, source, database in grants:
        grant_databases.setdefault((name, scope, source), []).append(database)
    return _Segment(
        engine=engine, accounts=tuple(accounts), facts=tuple(facts), universe=(1 << len(accounts)) - 1,
        capabilities=dict(capabilities), capabilities_via_roles=dict(via_roles), roles=dict(roles),
        grants=dict(grants), grant_databases=grant_databases, grant_sources=tuple(sorted({key[2] for key in grants})),
        denies=dict(denies),
        blind_any=blind_any, blind_by_database=dict(blind_by_database),
        mariadb=mariadb, public_group=public_group,
    )


@dataclass(frozen=True, slots=True)
class FactsIndex(Generic[A]):
    """Facts of many accounts indexed per engine; reusable across rule sets.

    `unavailable` lists accounts without usable facts with their error code (`facts_missing`, `facts_invalid`,
    `facts_version_unsupported`); they get that error for every rule.
    """

    segments: Mapping[DbEngine, _Segment[A]]
    unavailable: tuple[tuple[A, str], ...] = ()

    @property
    def size(self) -> int:
        return sum(len(segment.accounts) for segment in self.segments.values()) + len(self.unavailable)


def build_index(facts_by_account: Mapping[A, PermissionFacts | FactsError | None]) -> FactsIndex[A]:
    """Index facts for batch evaluation. A value of None (no facts) or a `FactsError` makes the account unavailable.

    Raises TypeError for values of any other type.
    """
    grouped: dict[DbEngine, tuple[list[A], list[PermissionFacts]]] = {}
    unavailable: list[tuple[A, str]] = []
    for account, facts in facts_by_account.items():
        if isinstance(facts, PermissionFacts):
            group = grouped.get(facts.engine)
            if group is None:
                group = grouped[facts.engine] = ([], [])
            group[0].append(account)
            group[1].append(facts)
        elif facts is None:
            unavailable.append((account, "facts_missing"))
        elif isinstance(facts, FactsError):
            unavailable.append((account, facts.facts_code))
        else:
            raise TypeError(f"facts must be PermissionFacts, FactsError or None, not {type(facts).__name__}")
    segments = {engine: _segment(engine, accounts, facts) for engine, (accounts, facts) in grouped.items()}
    return FactsIndex(segments, tuple(unavailable))


@dataclass(frozen=True, slots=True)
class BatchResult(Generic[R, A]):
    """Matches per rule (every rule is a key), errors per account in (rule order, document order), pair count."""

    matches: dict[R, frozenset[A]]
    errors: dict[A, tuple[tuple[R, EvaluationError], ...]]
    evaluated_pairs: int
    rules_without_accounts: frozenset[R]


@dataclass(frozen=True, slots=True)
class CompiledRule(Generic[R]):
    """One rule ready for batch evaluation: its engine filter (None = every engine) and leaves in document order."""

    rule_id: R
    rule: Rule
    engine: DbEngine | None
    leaves: tuple[Leaf, ...]


@dataclass(frozen=True, slots=True)
class CompiledRuleSet(Generic[R]):
    """Rules compiled once; `distinct_leaves` counts leaves after de-duplication across rules."""

    rules: tuple[CompiledRule[R], ...]
    distinct_leaves: int

    def run(self, index: FactsIndex[A]) -> BatchResult[R, A]:
        """Evaluate every rule against the index (rules with an engine only see that engine's accounts)."""
        if not isinstance(index, FactsIndex):
            raise TypeError("run expects a FactsIndex")
        matches: dict[R, frozenset[A]] = {}
        errors: dict[A, list[tuple[R, EvaluationError]]] = {}
        pairs = 0
        without: set[R] = set()
        for compiled in self.rules:
            matched: list[Iterator[A]] = []
            paired = len(index.unavailable)
            for engine, segment in index.segments.items():
                if compiled.engine is not None and compiled.engine is not engine:
                    continue
                paired += len(segment.accounts)
                value = segment.tree(compiled.rule.expr)
                failed = 0
                erring: list[tuple[Leaf, int]] = []
                for leaf in compiled.leaves:
                    leaf_errors = segment.leaf(leaf)[1]
                    if leaf_errors:
                        failed |= leaf_errors
                        erring.append((leaf, leaf_errors))
                matched.append(_members(value & ~failed, segment.accounts))
                for leaf, leaf_errors in erring:
                    # The error depends only on the leaf and the account's never-observed gaps: build it once each.
                    made: dict[tuple[str | None, ...], EvaluationError | None] = {}
                    for ordinal in _ordinals(leaf_errors):
                        account_facts = segment.facts[ordinal]
                        blind = account_facts.blind_databases()
                        if blind not in made:
                            made[blind] = leaf_error(leaf, account_facts, False)
                        error = made[blind]
                        if error is not None:
                            errors.setdefault(segment.accounts[ordinal], []).append((compiled.rule_id, error))
            for account, code in index.unavailable:
                message = _MISSING_MESSAGES.get(code, code)
                errors.setdefault(account, []).append((compiled.rule_id, EvaluationError(code, "$", message)))
            matches[compiled.rule_id] = frozenset(chain.from_iterable(matched))
            pairs += paired
            if not paired:
                without.add(compiled.rule_id)
        return BatchResult(matches, {a: tuple(e) for a, e in errors.items()}, pairs, frozenset(without))


def compile_rules(rules: Mapping[R, Rule], *, engines: Mapping[R, DbEngine] | None = None) -> CompiledRuleSet[R]:
    """Compile rules for batch runs; with `engines`, a rule only sees accounts of its engine (absent id: all)."""
    compiled = []
    distinct: set[LeafKey] = set()
    for rule_id, rule in rules.items():
        if not isinstance(rule, Rule):
            raise TypeError(f"rule {rule_id!r} is not a Rule")
        engine = engines.get(rule_id) if engines is not None else None
        if engine is not None and not isinstance(engine, DbEngine):
            raise TypeError(f"engine of rule {rule_id!r} is not a DbEngine")
        leaves = tuple(iter_leaves(rule.expr))
        distinct.update(leaf_key(leaf) for leaf in leaves)
        compiled.append(CompiledRule(rule_id, rule, engine, leaves))
    return CompiledRuleSet(tuple(compiled), len(distinct))


def classify_detailed(
    rules: Mapping[R, Rule], facts_by_account: Mapping[A, PermissionFacts | FactsError | None], *,
    engines: Mapping[R, DbEngine] | None = None,
) -> BatchResult[R, A]:
    """Compile, index and run in one call (see `compile_rules`, `build_index`, `CompiledRuleSet.run`)."""
    return compile_rules(rules, engines=engines).run(build_index(facts_by_account))


def classify(
    rules: Mapping[R, Rule], facts_by_account: Mapping[A, PermissionFacts | FactsError | None], *,
    engines: Mapping[R, DbEngine] | None = None,
) -> dict[R, frozenset[A]]:
    """Matching accounts per rule; every rule id is a key (empty set when nothing matches)."""
    return classify_detailed(rules, facts_by_account, engines=engines).matches
