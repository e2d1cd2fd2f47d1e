"""Evaluation of a rule against one account's permission facts, with global fail-closed (classification.md §5)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final, assert_never

from whalefall.domain.classification.rules import (
    And,
    DbTypeIn,
    HasAnyPrivilege,
    HasCapability,
    HasPrivilege,
    HasRole,
    IsSuperuser,
    Leaf,
    Node,
    Not,
    Or,
    Rule,
    privilege_names_of,
)
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.catalog import parse_version
from whalefall.domain.privileges.facts import GrantFact, PermissionFacts
from whalefall.domain.privileges.names import Scope, normalize_privilege_name

#: Scopes whose grants live in per-database segments (a never-observed gap may hide them).
DATABASE_SCOPES: Final = frozenset({Scope.DATABASE, Scope.SCHEMA, Scope.TABLE, Scope.COLUMN, Scope.ROUTINE})
#: Engines where `PUBLIC` names the implicit group of every principal (MariaDB ≥ 10.11 per account).
PUBLIC_ENGINES: Final = frozenset({DbEngine.POSTGRESQL, DbEngine.SQLSERVER, DbEngine.ORACLE})
MARIADB_PUBLIC_SINCE: Final = (10, 11)
#: MariaDB ≥ 10.5.2 stores REPLICATION CLIENT as BINLOG MONITOR (same bit): both names match both grants.
_MYSQL_EQUIVALENT: Final = {"REPLICATION CLIENT": "BINLOG MONITOR", "BINLOG MONITOR": "REPLICATION CLIENT"}
_CONTAINED_BY_SCHEMA: Final = frozenset({Scope.TABLE, Scope.COLUMN, Scope.ROUTINE})


@dataclass(frozen=True, slots=True)
class EvaluationError:
    """A leaf error (`facts_incomplete`, `facts_missing`, …) at the leaf's JSONPath."""

    code: str
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result for one (rule, account): `matched` is true only without errors (global fail-closed)."""

    matched: bool
    errors: tuple[EvaluationError, ...] = ()


@cache
def privilege_names(engine: DbEngine, names: tuple[str, ...]) -> frozenset[str]:
    """Canonical names a leaf matches on `engine` (engine aliases and MariaDB equivalences applied)."""
    result = {normalize_privilege_name(engine, name) for name in names}
    if engine is DbEngine.MYSQL:
        result |= {_MYSQL_EQUIVALENT[name] for name in result if name in _MYSQL_EQUIVALENT}
    return frozenset(result)


@cache
def role_candidates(engine: DbEngine, name: str) -> frozenset[str]:
    """Role keys a rule's role name denotes: on MySQL a name without `@` means `name@%` (MariaDB roles are bare)."""
    if engine is DbEngine.MYSQL and "@" not in name:
        return frozenset({f"{name}@%", name})
    return frozenset({name})


def is_public_name(name: str) -> bool:
    """`PUBLIC` in any case."""
    return name.upper() == "PUBLIC"


def public_role_applies(facts: PermissionFacts) -> bool:
    """Whether the engine/flavor/version of the account has the implicit PUBLIC group."""
    if facts.engine in PUBLIC_ENGINES:
        return True
    if facts.engine is DbEngine.MYSQL and facts.flavor == "mariadb":
        version = parse_version(facts.server_version)
        return version is not None and version >= MARIADB_PUBLIC_SINCE
    return False


def engine_matches(engines: frozenset[str], facts: PermissionFacts) -> bool:
    """`db_type_in`: `mariadb` matches only flavor mariadb, `mysql` both flavors."""
    return facts.engine.value in engines or ("mariadb" in engines and facts.flavor == "mariadb")


def usage_always(leaf: HasPrivilege | HasAnyPrivilege, engine: DbEngine, names: frozenset[str]) -> bool:
    """MySQL `USAGE` at global scope (without object or grant option) is held by every MySQL-engine account."""
    return (engine is DbEngine.MYSQL and leaf.scope is Scope.GLOBAL and "USAGE" in names and leaf.object is None
            and not leaf.grant_option)


def grant_fits(leaf: HasPrivilege | HasAnyPrivilege, grant: GrantFact) -> bool:
    """Filters of §5.2 other than name, scope and deny (the caller selected name and scope)."""
    return ((leaf.database is None or grant.database == leaf.database)
            and (leaf.object is None or grant.object == leaf.object)
            and (grant.grant_option or not leaf.grant_option)
            and (leaf.via_roles or grant.source == "direct"))


def deny_blocks(deny: GrantFact, grant: GrantFact) -> bool:
    """A deny on the same or a containing securable (database ⊃ schema ⊃ table/routine ⊃ column); engine quirk:
    a column-level grant survives a table-level deny."""
    if deny.database != grant.database:
        return False
    if deny.scope is grant.scope:
        return deny.object == grant.object
    if deny.scope is Scope.DATABASE:
        return not deny.object and grant.scope in DATABASE_SCOPES
    if deny.scope is Scope.SCHEMA:
        return grant.scope in _CONTAINED_BY_SCHEMA and grant.object[:1] == deny.object
    return False


def blocking_denies(grant: GrantFact, facts: PermissionFacts) -> tuple[GrantFact, ...]:
    """Deny facts (any source) that remove `grant` from the effective set."""
    return tuple(deny for deny in facts.denies_for(grant.privilege) if deny_blocks(deny, grant))


def privilege_value(leaf: HasPrivilege | HasAnyPrivilege, facts: PermissionFacts) -> bool:
    """Value of a `has_privilege` / `has_any_privilege` leaf."""
    names = privilege_names(facts.engine, privilege_names_of(leaf))
    if usage_always(leaf, facts.engine, names):
        return True
    for name in names:
        for grant in facts.grants_for(name, leaf.scope):
            if grant_fits(leaf, grant) and not blocking_denies(grant, facts):
                return True
    return False


def role_value(leaf: HasRole, facts: PermissionFacts) -> bool:
    """Value of a `has_role` leaf (server-level roles never match a database filter)."""
    if is_public_name(leaf.name) and public_role_applies(facts):
        return True
    candidates = role_candidates(facts.engine, leaf.name)
    return any(
        role.name in candidates and (leaf.via_roles or role.direct)
        and (leaf.database is None or role.database == leaf.database)
        for role in facts.roles
    )


def leaf_value(leaf: Leaf, facts: PermissionFacts) -> bool:
    """Boolean value of one leaf for one account (errors are decided separately by `leaf_error`)."""
    match leaf:
        case DbTypeIn(engines):
            return engine_matches(engines, facts)
        case IsSuperuser(via_roles):
            return "SUPERUSER" in facts.capabilities or (via_roles and "SUPERUSER" in facts.capabilities_via_roles)
        case HasCapability(name=name, via_roles=via_roles):
            return name in facts.capabilities or (via_roles and name in facts.capabilities_via_roles)
        case HasRole():
            return role_value(leaf, facts)
        case HasPrivilege() | HasAnyPrivilege():
            return privilege_value(leaf, facts)
        case _:
            assert_never(leaf)


def hiding_gaps(leaf: Leaf, facts: PermissionFacts) -> tuple[str | None, ...]:
    """Never-observed gap databases that could contain a match for the leaf (empty: the leaf cannot be incomplete).

    Privilege leaves at database…routine scope and SQL Server role leaves (database roles live in database segments)
    can be hidden; cluster-level data never is.
    """
    blind = facts.blind_databases()
    if not blind:
        return ()
    match leaf:
        case HasPrivilege() | HasAnyPrivilege():
            if leaf.scope not in DATABASE_SCOPES:
                return ()
            database = leaf.database
        case HasRole():
            if facts.engine is not DbEngine.SQLSERVER:
                return ()
            database = leaf.database
        case DbTypeIn() | IsSuperuser() | HasCapability():
            return ()
        case _:
            assert_never(leaf)
    return tuple(gap for gap in blind if database is None or gap is None or gap == database)


def leaf_error(leaf: Leaf, facts: PermissionFacts, value: bool) -> EvaluationError | None:
    """`facts_incomplete` when the leaf is false and a never-observed gap could hide a match; else None."""
    if value:
        return None
    gaps = hiding_gaps(leaf, facts)
    if not gaps:
        return None
    names = ", ".join(sorted(gap if gap is not None else "(unnamed)" for gap in set(gaps)))
    return EvaluationError("facts_incomplete", leaf.path,
                           f"never-observed coverage gap could contain a match (databases: {names})")


def _full(node: Node, facts: PermissionFacts, errors: list[EvaluationError]) -> bool:
    """Evaluate every leaf (no short-circuit) so that no error can be hidden; errors in document order."""
    match node:
        case And(children):
            values = [_full(child, facts, errors) for child in children]
            return all(values)
        case Or(children):
            values = [_full(child, facts, errors) for child in children]
            return any(values)
        case Not(child):
            return not _full(child, facts, errors)
        case DbTypeIn() | IsSuperuser() | HasCapability() | HasRole() | HasPrivilege() | HasAnyPrivilege():
            value = leaf_value(node, facts)
            error = leaf_error(node, facts, value)
            if error is not None:
                errors.append(error)
            return value
        case _:
            assert_never(node)


def _fast(node: Node, facts: PermissionFacts) -> bool:
    """Short-circuit evaluation; valid only when no leaf can error (no never-observed gap)."""
    match node:
        case And(children):
            return all(_fast(child, facts) for child in children)
        case Or(children):
            return any(_fast(child, facts) for child in children)
        case Not(child):
            return not _fast(child, facts)
        case DbTypeIn() | IsSuperuser() | HasCapability() | HasRole() | HasPrivilege() | HasAnyPrivilege():
            return leaf_value(node, facts)
        case _:
            assert_never(node)


def _check(rule: object, facts: object) -> None:
    if not isinstance(rule, Rule):
        raise TypeError(f"rule must be a Rule, not {type(rule).__name__}")
    if not isinstance(facts, PermissionFacts):
        raise TypeError(f"facts must be PermissionFacts, not {type(facts).__name__}")


def evaluate_outcome(rule: Rule, facts: PermissionFacts) -> Outcome:
    """Evaluate `rule` for one account: every leaf error is reported and any error means no match (§5.3).

    No engine filter is applied (classification applies it); never raises for data problems.
    """
    _check(rule, facts)
    if not facts.blind_databases():
        return Outcome(_fast(rule.expr, facts))
    errors: list[EvaluationError] = []
    value = _full(rule.expr, facts, errors)
    return Outcome(value and not errors, tuple(errors))


def evaluate(rule: Rule, facts: PermissionFacts) -> bool:
    """True iff the rule matches the account without any leaf error."""
    _check(rule, facts)
    if not facts.coverage.gaps or not facts.blind_databases():
        return _fast(rule.expr, facts)
    errors: list[EvaluationError] = []
    return _full(rule.expr, facts, errors) and not errors
