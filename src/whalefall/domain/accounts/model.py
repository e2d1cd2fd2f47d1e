"""Canonical, engine-neutral principal model: refs, grants, memberships, states, snapshots and the state hash."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType
from typing import Final, TypeAlias

from whalefall.domain.instances import DbEngine, Flavor, InstanceId
from whalefall.domain.privileges.names import Scope

#: Version of the canonical state document (accounts.md §1.6); bump it only together with a state migration.
STATE_SCHEMA: Final = 1

#: An attribute value: JSON scalars, timestamps (UTC), string lists and flat string maps (`db_user_mappings`).
AttrValue: TypeAlias = "bool | int | float | str | datetime | tuple[str, ...] | Mapping[str, str | None] | None"
#: Typed JSON as stored and served (timestamps already rendered as ISO-8601 `Z`).
JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"


class PrincipalKind(StrEnum):
    """Kind of a principal (accounts.md §1.1); the wire `kind` of an account row."""

    USER = "user"
    ROLE = "role"
    LOGIN = "login"
    SERVER_ROLE = "server_role"
    DB_ROLE = "db_role"
    DB_USER = "db_user"
    PUBLIC = "public"


class RefClass(StrEnum):
    """Kind class: keeps a MySQL user literally named `PUBLIC` apart from the pseudo-principal."""

    PRINCIPAL = "principal"
    PUBLIC = "public"


class GrantEffect(StrEnum):
    GRANT = "grant"
    DENY = "deny"


class GapReason(StrEnum):
    """Why a database segment could not be read although the instance was."""

    CONNECT_FAILED = "connect_failed"
    QUERY_FAILED = "query_failed"
    OFFLINE = "offline"
    NOT_ACCESSIBLE = "not_accessible"


PUBLIC_KEY: Final = "PUBLIC"


@dataclass(frozen=True, slots=True, kw_only=True)
class PrincipalRef:
    """Identity of a principal inside one instance: (kind class, namespace, key), compared byte for byte.

    `kind` travels with the ref for display and traversal but is not part of equality (accounts.md §1.1), so a
    MySQL row re-detected as a user instead of a role keeps its identity. Build refs with `PrincipalRef.of`.
    """

    kind_class: RefClass
    kind: PrincipalKind = field(compare=False)
    namespace: str = ""
    key: str

    def __post_init__(self) -> None:
        expected = RefClass.PUBLIC if self.kind is PrincipalKind.PUBLIC else RefClass.PRINCIPAL
        if self.kind_class is not expected:
            raise ValueError(f"kind {self.kind} needs kind class {expected}")

    @classmethod
    def of(cls, kind: PrincipalKind, key: str, namespace: str = "") -> PrincipalRef:
        kind_class = RefClass.PUBLIC if kind is PrincipalKind.PUBLIC else RefClass.PRINCIPAL
        return cls(kind_class=kind_class, kind=kind, namespace=namespace, key=key)

    @classmethod
    def public(cls, namespace: str = "") -> PrincipalRef:
        return cls.of(PrincipalKind.PUBLIC, PUBLIC_KEY, namespace)

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return (self.kind_class.value, self.namespace, self.key)

    def to_json(self) -> dict[str, JsonValue]:
        return {"kind": self.kind.value, "namespace": self.namespace, "key": self.key}


#: Key of a grant within its holder: (privilege, scope, object, effect); the full key adds the principal.
GrantKey: TypeAlias = tuple[str, Scope, tuple[str, ...], GrantEffect]


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivilegeGrant:
    """One stored grant (accounts.md §1.3). `grant_option`/`implicit` are flags of the key; `object_kind` and
    `grantor` are informational (outside identity and hash); stored grants always have `source="direct"`."""

    principal: PrincipalRef
    privilege: str
    scope: Scope
    object: tuple[str, ...] = ()
    object_kind: str | None = None
    effect: GrantEffect = GrantEffect.GRANT
    grant_option: bool = False
    implicit: bool = False
    pattern: bool = False
    source: str = "direct"
    grantor: str | None = None

    @property
    def key(self) -> GrantKey:
        return (self.privilege, self.scope, self.object, self.effect)

    @property
    def sort_key(self) -> tuple[int, tuple[str, ...], str, str]:
        return (self.scope.order, self.object, self.privilege, self.effect.value)

    @property
    def object_path(self) -> str:
        return object_path(self.object)


#: Key of a membership edge: (member, role).
EdgeKey: TypeAlias = tuple[PrincipalRef, PrincipalRef]

#: Boolean flags of an edge with positive polarity (true = more access), in diff order.
EDGE_FLAGS: Final = ("admin_option", "inherit", "set", "default", "delegate_option")


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleMembership:
    """Edge member → role (accounts.md §1.4); every flag has positive polarity; `default` is None where the engine
    has no default-role notion (SQL Server, PostgreSQL); `implicit` edges are not stored as grants on the server."""

    member: PrincipalRef
    role: PrincipalRef
    admin_option: bool = False
    inherit: bool = True
    set: bool = True
    default: bool | None = None
    delegate_option: bool = False
    implicit: bool = False

    @property
    def key(self) -> EdgeKey:
        return (self.member, self.role)

    def flag(self, name: str) -> bool | None:
        value: bool | None = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True, kw_only=True)
class PrincipalState:
    """Canonical permission state of one principal. Grants and memberships are held in canonical order (build
    them with `canonical_grants` / `canonical_memberships`); `attributes` carries the §1.2 names, `stable_id`
    included."""

    ref: PrincipalRef
    is_account: bool
    attributes: Mapping[str, AttrValue] = field(default_factory=lambda: MappingProxyType({}))
    grants: tuple[PrivilegeGrant, ...] = ()
    memberships: tuple[RoleMembership, ...] = ()
    #: `state_hash` of this state, computed once on first use (not part of identity; `replace` recomputes it).
    _hash: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def kind(self) -> PrincipalKind:
        return self.ref.kind

    @property
    def stable_id(self) -> str | None:
        value = self.attributes.get("stable_id")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageGap:
    """A database segment that could not be read: items of scope ≥ `scope` below `database` are unknown.

    `stale_since` is filled by the application from the segment's last full observation (None = never observed).
    """

    scope: Scope
    database: str
    reason: GapReason
    detail: str | None = None
    stale_since: datetime | None = None

    def holds(self, scope: Scope, obj: tuple[str, ...]) -> bool:
        """True when an item at (scope, object) lies inside this segment."""
        return scope in _DATABASE_SCOPES and scope.order >= self.scope.order and obj[:1] == (self.database,)


_DATABASE_SCOPES: Final = frozenset({Scope.DATABASE, Scope.SCHEMA, Scope.TABLE, Scope.COLUMN, Scope.ROUTINE})


@dataclass(frozen=True, slots=True)
class Coverage:
    gaps: tuple[CoverageGap, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.gaps


@dataclass(frozen=True, slots=True)
class SnapshotWarning:
    code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceSnapshot:
    """Everything one sync observed on one instance (accounts.md §1.5), before filters.

    `settings` holds instance-level inputs (MySQL `mandatory_roles`, SQL Server collation…) once, never per
    principal; `observed_at` is the UTC time of the first catalog query.
    """

    instance_id: InstanceId
    engine: DbEngine
    flavor: Flavor | None
    server_version: str
    observed_at: datetime
    settings: Mapping[str, AttrValue]
    principals: tuple[PrincipalState, ...]
    coverage: Coverage = Coverage()
    warnings: tuple[SnapshotWarning, ...] = ()
    query_count: int = 0

    def states_by_ref(self) -> dict[PrincipalRef, PrincipalState]:
        return {state.ref: state for state in self.principals}


def object_path(parts: Iterable[str]) -> str:
    """Text form of an object path: parts joined by `.`, a part containing `.` or `"` double-quoted with `"`
    doubled (`FinanceDW.rpt."Q1.Invoices"`); `()` renders as the empty string."""
    if isinstance(parts, tuple):
        return _tuple_path(parts)
    return _render_path(parts)


@functools.lru_cache(maxsize=8192)
def _tuple_path(parts: tuple[str, ...]) -> str:
    # A sync renders each grant's path for its interval row and its change entry; grants name few distinct objects.
    return _render_path(parts)


def _render_path(parts: Iterable[str]) -> str:
    return ".".join(f'"{part.replace(chr(34), chr(34) * 2)}"' if "." in part or '"' in part else part
                    for part in parts)


def canonical_grants(grants: Iterable[PrivilegeGrant]) -> tuple[PrivilegeGrant, ...]:
    """Grants in canonical order, one per key: duplicates (e.g. PG 16 grantors) OR `grant_option` and are
    implicit only when every duplicate is implicit."""
    merged: dict[GrantKey, PrivilegeGrant] = {}
    for grant in grants:
        key = (grant.privilege, grant.scope, grant.object, grant.effect)
        seen = merged.get(key)
        if seen is None:
            merged[key] = grant
            continue
        merged[key] = PrivilegeGrant(
            principal=seen.principal, privilege=seen.privilege, scope=seen.scope, object=seen.object,
            object_kind=seen.object_kind or grant.object_kind, effect=seen.effect,
            grant_option=seen.grant_option or grant.grant_option, implicit=seen.implicit and grant.implicit,
            pattern=seen.pattern, source=seen.source, grantor=seen.grantor or grant.grantor,
        )
    return tuple(sorted(merged.values(), key=_grant_sort_key))


def canonical_memberships(edges: Iterable[RoleMembership]) -> tuple[RoleMembership, ...]:
    """Edges in canonical order (by role ref), one per key: flags of duplicates are OR-ed (PG 16 grantors);
    an edge is implicit only when every duplicate is."""
    merged: dict[EdgeKey, RoleMembership] = {}
    for edge in edges:
        seen = merged.get(edge.key)
        if seen is None:
            merged[edge.key] = edge
            continue
        default = None if seen.default is None and edge.default is None else bool(seen.default or edge.default)
        merged[edge.key] = RoleMembership(
            member=seen.member, role=seen.role, admin_option=seen.admin_option or edge.admin_option,
            inherit=seen.inherit or edge.inherit, set=seen.set or edge.set, default=default,
            delegate_option=seen.delegate_option or edge.delegate_option, implicit=seen.implicit and edge.implicit,
        )
    return tuple(sorted(merged.values(), key=lambda e: e.role.sort_key))


_PLAIN: Final = frozenset({bool, int, float, str, type(None)})


def json_value(value: AttrValue) -> JsonValue:
    """Typed JSON of an attribute value; timestamps become ISO-8601 UTC with `Z` (naive ones are taken as UTC)."""
    if type(value) in _PLAIN:
        return value  # type: ignore[return-value]
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return {k: value[k] for k in sorted(value)}
    return value


def grant_document(grant: PrivilegeGrant, *, informational: bool = False) -> dict[str, JsonValue]:
    doc: dict[str, JsonValue] = {
        "privilege": grant.privilege, "scope": grant.scope.value, "object": list(grant.object),
        "effect": grant.effect.value, "grant_option": grant.grant_option, "implicit": grant.implicit,
        "pattern": grant.pattern,
    }
    if informational:
        doc["object_kind"] = grant.object_kind
        doc["grantor"] = grant.grantor
    return doc


def membership_document(edge: RoleMembership) -> dict[str, JsonValue]:
    doc: dict[str, JsonValue] = {"role": edge.role.to_json(), "implicit": edge.implicit}
    for name in EDGE_FLAGS:
        doc[name] = edge.flag(name)
    return doc


def state_document(state: PrincipalState, *, informational: bool = False) -> dict[str, JsonValue]:
    """Canonical state document `{attributes, grants, memberships, schema}` (accounts.md §1.6).

    The hashed form leaves out informational fields; `informational=True` adds `object_kind` and `grantor` to
    each grant for storage (`state_from_document` reads both forms).
    """
    attributes = state.attributes
    return {
        "schema": STATE_SCHEMA,
        "attributes": {name: json_value(attributes[name]) for name in sorted(attributes)},
        "grants": [grant_document(g, informational=informational) for g in _in_order(state.grants)],
        "memberships": [membership_document(e) for e in sorted(state.memberships, key=lambda e: e.role.sort_key)],
    }


_SCOPE_ORDER: Final = {scope: scope.order for scope in Scope}


def _grant_sort_key(g: PrivilegeGrant) -> tuple[int, tuple[str, ...], str, str]:
    return (_SCOPE_ORDER[g.scope], g.object, g.privilege, g.effect.value)


def _in_order(grants: tuple[PrivilegeGrant, ...]) -> list[PrivilegeGrant] | tuple[PrivilegeGrant, ...]:
    """Grants by `sort_key` (stable): an already ordered tuple (the canonical form) is returned as is."""
    if len(grants) < 2:
        return grants
    keys = [_grant_sort_key(g) for g in grants]
    if all(a <= b for a, b in pairwise(keys)):
        return grants
    return sorted(grants, key=_grant_sort_key)


def canonical_json(document: Mapping[str, JsonValue]) -> str:
    """Compact, key-sorted JSON text, non-ASCII kept as is (hashed as UTF-8)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def state_hash(state: PrincipalState) -> str:
    """SHA-256 (hex) of the compact canonical document; independent of the order grants or edges were built in.
    Computed once per state object and kept on it (states are frozen)."""
    cached = state._hash
    if cached is None:
        cached = hashlib.sha256(canonical_json(state_document(state)).encode("utf-8")).hexdigest()
        object.__setattr__(state, "_hash", cached)
    return cached


def state_from_document(ref: PrincipalRef, document: Mapping[str, object], *, is_account: bool) -> PrincipalState:
    """Rebuild a state from a stored document (either form). Timestamps stay ISO strings: diffs and hashes
    compare typed JSON, in which both render alike. Raises ValueError for another `schema`."""
    if document.get("schema") != STATE_SCHEMA:
        raise ValueError(f"state document schema {document.get('schema')!r} is not {STATE_SCHEMA}")
    attributes = _mapping(document.get("attributes"))
    grants = [
        PrivilegeGrant(
            principal=ref, privilege=str(g["privilege"]), scope=Scope(str(g["scope"])),
            object=tuple(str(p) for p in _sequence(g["object"])), effect=GrantEffect(str(g["effect"])),
            grant_option=bool(g["grant_option"]), implicit=bool(g["implicit"]), pattern=bool(g.get("pattern")),
            object_kind=_optional_str(g.get("object_kind")), grantor=_optional_str(g.get("grantor")),
        )
        for g in (_mapping(item) for item in _sequence(document.get("grants")))
    ]
    edges = []
    for item in _sequence(document.get("memberships")):
        e = _mapping(item)
        role = _mapping(e["role"])
        default = e.get("default")
        edges.append(RoleMembership(
            member=ref,
            role=PrincipalRef.of(PrincipalKind(str(role["kind"])), str(role["key"]), str(role["namespace"])),
            admin_option=bool(e["admin_option"]), inherit=bool(e["inherit"]), set=bool(e["set"]),
            default=None if default is None else bool(default), delegate_option=bool(e["delegate_option"]),
            implicit=bool(e["implicit"]),
        ))
    return PrincipalState(
        ref=ref, is_account=is_account, attributes={k: _attr(v) for k, v in attributes.items()},
        grants=canonical_grants(grants), memberships=canonical_memberships(edges),
    )


def _mapping(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValueError("expected a JSON object in the state document")
    return value


def _sequence(value: object) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValueError("expected a JSON array in the state document")
    return list(value)


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _attr(value: object) -> AttrValue:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): None if v is None else str(v) for k, v in value.items()}
    raise ValueError(f"unsupported attribute value {value!r}")
