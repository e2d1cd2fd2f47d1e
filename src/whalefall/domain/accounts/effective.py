"""Effective privileges with grant paths (accounts.md §7): role traversal, PUBLIC, fixed roles and DENY."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, assert_never

from whalefall.domain.accounts.model import (
    AttrValue,
    GrantEffect,
    InstanceSnapshot,
    JsonValue,
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    PrivilegeGrant,
    RoleMembership,
    object_path,
)
from whalefall.domain.accounts.sqlserver_roles import (
    DATABASE_ROLE_DENIALS,
    DATABASE_ROLE_PERMISSIONS,
    SERVER_ROLE_PERMISSIONS,
)
from whalefall.domain.instances import DbEngine, Flavor
from whalefall.domain.privileges.names import Scope

MAX_DEPTH: Final = 16
MAX_PATHS: Final = 8
_AUTHENTICATED_ROLES: Final = frozenset({"PASSWORD", "EXTERNAL", "GLOBAL"})
_DATABASE_FAMILY: Final = frozenset({Scope.DATABASE, Scope.SCHEMA, Scope.TABLE, Scope.COLUMN, Scope.ROUTINE})


class PathMode(StrEnum):
    """How a path's privileges become active: at login (`default`), by SET ROLE, or by inheritance."""

    DEFAULT = "default"
    SET_ROLE = "set_role"
    INHERIT = "inherit"


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectivePath:
    """One way to hold a privilege: `source` names the holder (`direct`, `role:<key>`, `public`); `path` lists
    the role keys from the principal (or from PUBLIC) to the holder, inclusive."""

    source: str
    path: tuple[str, ...]
    mode: PathMode
    implicit: bool
    requires_authentication: bool

    def to_json(self) -> dict[str, JsonValue]:
        return {"source": self.source, "path": list(self.path), "mode": self.mode.value, "implicit": self.implicit,
                "requires_authentication": self.requires_authentication}


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectiveGrant:
    """An effective privilege with ≤ 8 paths, shortest first. `exceptions` lists objects inside this securable
    where a DENY (SQL Server) or a partial revoke (MySQL) removes it."""

    privilege: str
    scope: Scope
    object: tuple[str, ...]
    effect: GrantEffect
    grant_option: bool
    paths: tuple[EffectivePath, ...]
    exceptions: tuple[tuple[str, ...], ...] = ()

    @property
    def object_path(self) -> str:
        return object_path(self.object)

    def to_json(self) -> dict[str, JsonValue]:
        return {"privilege": self.privilege, "scope": self.scope.value, "object": list(self.object),
                "object_path": self.object_path, "grant_option": self.grant_option, "effect": self.effect.value,
                "paths": [p.to_json() for p in self.paths], "exceptions": [list(e) for e in self.exceptions]}


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectivePrivileges:
    """Effective grants and, separately, effective DENYs. Superuser bypass is never expanded into grants."""

    principal: PrincipalRef
    grants: tuple[EffectiveGrant, ...]
    denied: tuple[EffectiveGrant, ...]


@dataclass(frozen=True, slots=True)
class _Walk:
    node: PrincipalRef
    roles: tuple[PrincipalRef, ...]
    first: RoleMembership | None
    all_inherit: bool
    all_set: bool
    implicit: bool
    requires_auth: bool


@dataclass(frozen=True, slots=True)
class _Rules:
    engine: DbEngine
    flavor: Flavor | None
    activate_all: bool

    @property
    def mysql_family(self) -> bool:
        return self.engine is DbEngine.MYSQL

    def base_mode(self) -> PathMode:
        if self.engine in (DbEngine.POSTGRESQL, DbEngine.SQLSERVER):
            return PathMode.INHERIT
        return PathMode.DEFAULT

    def mode(self, walk: _Walk) -> PathMode:
        if walk.first is None:
            return self.base_mode()
        match self.engine:
            case DbEngine.POSTGRESQL:
                return PathMode.INHERIT if walk.all_inherit else PathMode.SET_ROLE
            case DbEngine.SQLSERVER:
                return PathMode.INHERIT
            case DbEngine.MYSQL:
                mysql_default = self.flavor is not Flavor.MARIADB and (walk.first.implicit or self.activate_all)
                return PathMode.DEFAULT if walk.first.default or mysql_default else PathMode.SET_ROLE
            case DbEngine.ORACLE:
                return PathMode.DEFAULT if walk.first.default else PathMode.SET_ROLE
            case _ as unreachable:
                assert_never(unreachable)


def _walks(start: PrincipalRef, states: Mapping[PrincipalRef, PrincipalState], rules: _Rules) -> Iterator[_Walk]:
    """Breadth-first simple paths from `start`, ≤ 16 roles deep, ≤ 8 kept per role (shortest first). For
    PostgreSQL a path is usable when it is set-edges then inherit-edges; an ADMIN-only edge confers nothing."""
    first = _Walk(start, (), None, all_inherit=True, all_set=True, implicit=False, requires_auth=False)
    kept: dict[PrincipalRef, int] = {start: 1}
    queue = deque([first])
    while queue:
        walk = queue.popleft()
        yield walk
        if len(walk.roles) >= MAX_DEPTH or walk.node not in states:
            continue
        for edge in states[walk.node].memberships:
            role = edge.role
            if role == start or role in walk.roles or kept.get(role, 0) >= MAX_PATHS:
                continue
            all_set = walk.all_set and edge.set
            all_inherit = walk.all_inherit and edge.inherit
            # Queued walks are usable, so appending an inherit edge keeps one usable; a set edge needs all-set.
            if rules.engine is DbEngine.POSTGRESQL and not (all_set or edge.inherit):
                continue
            auth = role in states and states[role].attributes.get("auth_method") in _AUTHENTICATED_ROLES
            kept[role] = kept.get(role, 0) + 1
            queue.append(_Walk(role, (*walk.roles, role), walk.first or edge, all_inherit=all_inherit,
                               all_set=all_set, implicit=walk.implicit or edge.implicit,
                               requires_auth=walk.requires_auth or (rules.engine is DbEngine.ORACLE and auth)))


def _implicit_grants(state: PrincipalState) -> list[PrivilegeGrant]:
    ref = state.ref
    if ref.kind is PrincipalKind.SERVER_ROLE:
        return [PrivilegeGrant(principal=ref, privilege=p, scope=Scope.GLOBAL, implicit=True)
                for p in SERVER_ROLE_PERMISSIONS.get(ref.key, ())]
    if ref.kind is PrincipalKind.DB_ROLE:
        db = (ref.namespace,)
        return ([PrivilegeGrant(principal=ref, privilege=p, scope=Scope.DATABASE, object=db, implicit=True)
                 for p in DATABASE_ROLE_PERMISSIONS.get(ref.key, ())]
                + [PrivilegeGrant(principal=ref, privilege=p, scope=Scope.DATABASE, object=db, implicit=True,
                                  effect=GrantEffect.DENY) for p in DATABASE_ROLE_DENIALS.get(ref.key, ())])
    return []


def _public_starts(principal: PrincipalState, states: Mapping[PrincipalRef, PrincipalState],
                   engine: DbEngine) -> list[PrincipalRef]:
    if principal.ref.kind is PrincipalKind.PUBLIC:
        return []
    starts = [PrincipalRef.public()]
    if engine is DbEngine.SQLSERVER:
        # Every database user is a member of its database's `public` role.
        mappings: AttrValue = principal.attributes.get("db_user_mappings")
        databases = list(mappings) if isinstance(mappings, Mapping) else []
        if principal.ref.kind is PrincipalKind.DB_USER:
            databases.append(principal.ref.namespace)
        starts += [PrincipalRef.public(db) for db in databases]
    return [ref for ref in starts if ref in states]


_Key = tuple[str, Scope, tuple[str, ...], GrantEffect]


def resolve_effective(states: InstanceSnapshot | Iterable[PrincipalState], ref: PrincipalRef, *,
                      engine: DbEngine | None = None, flavor: Flavor | None = None,
                      settings: Mapping[str, AttrValue] | None = None) -> EffectivePrivileges:
    """Effective privileges of `ref` over the states of one instance (snapshot or stored states at one time).

    With plain states, pass `engine` (and for MySQL `flavor`/`settings`, e.g. `activate_all_roles_on_login`).
    Raises KeyError when `ref` is not among the states, ValueError when the engine is unknown.
    """
    if isinstance(states, InstanceSnapshot):
        engine, flavor, settings = states.engine, states.flavor, states.settings
        by_ref = states.states_by_ref()
    else:
        by_ref = {s.ref: s for s in states}
    if engine is None:
        raise ValueError("engine is required when resolving over plain states")
    rules = _Rules(engine, flavor, bool((settings or {}).get("activate_all_roles_on_login")))
    principal = by_ref[ref]
    collected: dict[_Key, list[EffectivePath]] = {}
    flags: dict[_Key, bool] = {}
    starts = [(ref, False), *((public, True) for public in _public_starts(principal, by_ref, engine))]
    for start, via_public in starts:
        for walk in _walks(start, by_ref, rules):
            holder = by_ref.get(walk.node)
            if holder is None:
                continue
            grants = list(holder.grants)
            if engine is DbEngine.SQLSERVER:
                grants += _implicit_grants(holder)
            source = "public" if via_public else ("direct" if not walk.roles else f"role:{walk.node.key}")
            mode = rules.mode(walk)
            for g in grants:
                key = (g.privilege, g.scope, g.object, g.effect)
                collected.setdefault(key, []).append(EffectivePath(
                    source=source, path=tuple(r.key for r in walk.roles), mode=mode,
                    implicit=g.implicit or walk.implicit, requires_authentication=walk.requires_auth))
                flags[key] = flags.get(key, False) or g.grant_option
    return _finish(ref, collected, flags, rules)


def _finish(ref: PrincipalRef, collected: Mapping[_Key, list[EffectivePath]], flags: Mapping[_Key, bool],
            rules: _Rules) -> EffectivePrivileges:
    denies = [key for key in collected if key[3] is GrantEffect.DENY]
    # MySQL: GRANT OPTION held on a level lets its holder pass on every privilege of that level.
    option_levels = {(s, o) for p, s, o, e in collected if p == "GRANT OPTION" and e is GrantEffect.GRANT}
    grants: list[EffectiveGrant] = []
    for key, paths in collected.items():
        privilege, scope, obj, effect = key
        if effect is GrantEffect.DENY:
            continue
        same = [d for d in denies if d[0] == privilege]
        if any(_covers(d[1], d[2], scope, obj) for d in same):
            continue
        exceptions = tuple(sorted(d[2] for d in same if _inside(d[1], d[2], scope, obj)))
        option = flags[key] or (rules.mysql_family and (scope, obj) in option_levels)
        grants.append(_effective(key, paths, option, exceptions))
    denied = [_effective(key, collected[key], flags[key], ()) for key in denies]
    return EffectivePrivileges(principal=ref, grants=tuple(sorted(grants, key=_order)),
                               denied=tuple(sorted(denied, key=_order)))


def _order(grant: EffectiveGrant) -> tuple[int, tuple[str, ...], str]:
    return (grant.scope.order, grant.object, grant.privilege)


def _effective(key: _Key, paths: list[EffectivePath], option: bool,
               exceptions: tuple[tuple[str, ...], ...]) -> EffectiveGrant:
    unique = sorted(set(paths), key=lambda p: (len(p.path), p.source, p.path, p.mode.value))
    return EffectiveGrant(privilege=key[0], scope=key[1], object=key[2], effect=key[3], grant_option=option,
                          paths=tuple(unique[:MAX_PATHS]), exceptions=exceptions)


def _covers(deny_scope: Scope, deny_obj: tuple[str, ...], scope: Scope, obj: tuple[str, ...]) -> bool:
    """A DENY on the same securable or a containing one (database ⊃ schema ⊃ object ⊃ column) removes the
    grant, except that a column-level GRANT survives a table-level DENY (engine behaviour)."""
    if deny_scope is Scope.GLOBAL or scope is Scope.GLOBAL:
        return deny_scope is scope and deny_obj == obj
    if deny_scope not in _DATABASE_FAMILY or scope not in _DATABASE_FAMILY:
        return deny_scope is scope and deny_obj == obj
    if scope is Scope.COLUMN and deny_scope is Scope.TABLE:
        return False
    return obj[: len(deny_obj)] == deny_obj


def _inside(deny_scope: Scope, deny_obj: tuple[str, ...], scope: Scope, obj: tuple[str, ...]) -> bool:
    """The DENY sits strictly inside the granted securable (e.g. a MySQL partial revoke below a global grant)."""
    if deny_scope not in _DATABASE_FAMILY:
        return False
    if scope is Scope.GLOBAL:
        return True
    return scope in _DATABASE_FAMILY and len(deny_obj) > len(obj) and deny_obj[: len(obj)] == obj
