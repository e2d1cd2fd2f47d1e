"""The DSL v4 rule AST: operator and function nodes, the validated `Rule` and validation issues (classification §3)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, assert_never

from whalefall.domain.privileges.names import Scope

ROOT_PATH = "$.expr"


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One validation problem: lower snake `code`, JSONPath `path` from the document root, severity."""

    code: str
    path: str
    message: str
    severity: Literal["error", "warning"] = "error"


@dataclass(frozen=True, slots=True)
class And:
    """True when every child is true (at least one child)."""

    children: tuple[Node, ...]
    path: str = ROOT_PATH


@dataclass(frozen=True, slots=True)
class Or:
    """True when some child is true (at least one child)."""

    children: tuple[Node, ...]
    path: str = ROOT_PATH


@dataclass(frozen=True, slots=True)
class Not:
    """Negation of exactly one child."""

    child: Node
    path: str = ROOT_PATH


@dataclass(frozen=True, slots=True)
class DbTypeIn:
    """The account's engine is one of `engines` (`mysql`, `mariadb`, `postgresql`, `sqlserver`, `oracle`)."""

    engines: frozenset[str]
    path: str = ROOT_PATH


@dataclass(frozen=True, slots=True)
class IsSuperuser:
    """The account holds SUPERUSER (or can obtain it through a role when `via_roles`)."""

    via_roles: bool = False
    path: str = ROOT_PATH


@dataclass(frozen=True, slots=True, kw_only=True)
class HasCapability:
    """The account holds the canonical capability `name`."""

    name: str
    via_roles: bool = False
    path: str = ROOT_PATH


@dataclass(frozen=True, slots=True, kw_only=True)
class HasRole:
    """The account holds role `name` (exact; MySQL `name` = `name@%`), in `database` when given."""

    name: str
    database: str | None = None
    via_roles: bool = False
    path: str = ROOT_PATH


@dataclass(frozen=True, slots=True, kw_only=True)
class HasPrivilege:
    """The account holds privilege `name` at `scope` (and database/object when given), not blocked by a deny.

    `scope_word` keeps the synonym the author wrote (`server`, `system`) so the canonical document round-trips;
    it never changes evaluation.
    """

    name: str
    scope: Scope
    database: str | None = None
    object: tuple[str, ...] | None = None
    via_roles: bool = False
    grant_option: bool = False
    path: str = ROOT_PATH
    scope_word: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HasAnyPrivilege:
    """`HasPrivilege` for at least one of `names`, under the same constraints (one leaf)."""

    names: tuple[str, ...]
    scope: Scope
    database: str | None = None
    object: tuple[str, ...] | None = None
    via_roles: bool = False
    grant_option: bool = False
    path: str = ROOT_PATH
    scope_word: str | None = None


Leaf = DbTypeIn | IsSuperuser | HasCapability | HasRole | HasPrivilege | HasAnyPrivilege
Node = And | Or | Not | Leaf


@dataclass(frozen=True, slots=True)
class Rule:
    """A validated rule: its expression, SHA-256 `fingerprint` of the canonical form, warnings and editor `meta`.

    Equality ignores `warnings` (they depend on how the document was spelled, e.g. a rewritten alias), so parsing the
    canonical document yields an equal rule.
    """

    expr: Node
    fingerprint: str
    warnings: tuple[ValidationIssue, ...] = field(default=(), compare=False)
    meta: Mapping[str, object] | None = field(default=None, hash=False)


def iter_leaves(node: Node) -> Iterator[Leaf]:
    """Leaves in document order."""
    match node:
        case And(children) | Or(children):
            for child in children:
                yield from iter_leaves(child)
        case Not(child):
            yield from iter_leaves(child)
        case DbTypeIn() | IsSuperuser() | HasCapability() | HasRole() | HasPrivilege() | HasAnyPrivilege():
            yield node
        case _:
            assert_never(node)


LeafKey = tuple[object, ...]


def leaf_key(leaf: Leaf) -> LeafKey:
    """Path-independent identity of a leaf's meaning (equal keys ⇒ equal value for every account).

    `is_superuser` equals `has_capability SUPERUSER`, and `has_privilege` equals a one-name `has_any_privilege`.
    """
    match leaf:
        case DbTypeIn(engines):
            return ("db_type_in", tuple(sorted(engines)))
        case IsSuperuser(via_roles):
            return ("capability", "SUPERUSER", via_roles)
        case HasCapability(name=name, via_roles=via_roles):
            return ("capability", name, via_roles)
        case HasRole(name=name, database=database, via_roles=via_roles):
            return ("role", name, database, via_roles)
        case HasPrivilege() | HasAnyPrivilege():
            return ("privilege", privilege_names_of(leaf), leaf.scope, leaf.database, leaf.object, leaf.via_roles,
                    leaf.grant_option)
        case _:
            assert_never(leaf)


def privilege_names_of(leaf: HasPrivilege | HasAnyPrivilege) -> tuple[str, ...]:
    """The leaf's privilege names as a sorted tuple."""
    return (leaf.name,) if isinstance(leaf, HasPrivilege) else tuple(sorted(set(leaf.names)))
