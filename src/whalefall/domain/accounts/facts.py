"""Permission facts v3 from a canonical snapshot (classification.md §2.1-2.3): capabilities with reasons, roles with
paths and modes, one grant fact per (grant, path), coverage and the raw attributes `PermissionFacts.at` needs."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Final, assert_never

from whalefall.domain.accounts.effective import EffectiveGrant, PathMode, resolve_effective
from whalefall.domain.accounts.model import (
    GrantEffect,
    InstanceSnapshot,
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    RoleMembership,
    json_value,
)
from whalefall.domain.instances import DbEngine, Flavor
from whalefall.domain.privileges.facts import (
    AccountRef,
    Coverage,
    CoverageGap,
    FactsWarning,
    GrantFact,
    PermissionFacts,
    Reason,
    RoleFact,
    password_expired_at,
)
from whalefall.domain.privileges.names import Scope

#: Bumped whenever the builder's output for an unchanged state changes (facts cache key, §11).
FACTS_BUILDER_VERSION: Final = 1
_MAX_DEPTH: Final = 16
_NO_DATABASE_SCOPES: Final = frozenset({Scope.GLOBAL, Scope.TABLESPACE})
_ORACLE_ADMIN: Final = ("SYSDBA", "SYSOPER", "SYSASM", "SYSBACKUP", "SYSDG", "SYSKM")
_GRANT_ADMIN_PRIVILEGES: Final = MappingProxyType({
    DbEngine.MYSQL: ("GRANT OPTION", "CREATE USER", "ROLE_ADMIN"),
    DbEngine.POSTGRESQL: (),
    DbEngine.SQLSERVER: ("ALTER ANY LOGIN",),
    DbEngine.ORACLE: ("GRANT ANY PRIVILEGE", "GRANT ANY ROLE", "GRANT ANY OBJECT PRIVILEGE"),
})
_PG_FLAGS: Final = (("CREATEROLE", "rolcreaterole"), ("CREATEDB", "rolcreatedb"),
                    ("REPLICATION", "rolreplication"), ("BYPASSRLS", "rolbypassrls"), ("INHERIT", "rolinherit"))


@dataclass(frozen=True, slots=True)
class _RoleHit:
    """A role reached from the account by its shortest usable path."""

    ref: PrincipalRef
    path: tuple[str, ...]
    mode: PathMode
    admin_option: bool
    all_set: bool


class _Capabilities:
    """Collects own and via-role capabilities with their reasons (own wins over via-role)."""

    def __init__(self) -> None:
        self.own: dict[str, list[Reason]] = {}
        self.via: dict[str, list[Reason]] = {}

    def add(self, name: str, reason: Reason, *, own: bool = True) -> None:
        (self.own if own else self.via).setdefault(name, []).append(reason)

    def holds(self, name: str) -> bool | None:
        """True own, False via roles only, None not at all."""
        return True if name in self.own else False if name in self.via else None

    def reasons(self) -> Mapping[str, tuple[Reason, ...]]:
        merged = {name: tuple(reasons) for name, reasons in self.via.items() if name not in self.own}
        merged.update({name: tuple(reasons) for name, reasons in self.own.items()})
        return MappingProxyType(dict(sorted(merged.items())))


def build_facts(snapshot: InstanceSnapshot, ref: PrincipalRef, *, as_of: datetime) -> PermissionFacts:
    """Facts v3 of one principal of `snapshot` at `as_of`. Raises KeyError when `ref` is not in the snapshot."""
    states = snapshot.states_by_ref()
    state = states[ref]
    engine = snapshot.engine
    unblocked = resolve_effective(_without_denies(snapshot), ref)
    denied = resolve_effective(snapshot, ref).denied
    patterns = {(g.scope, g.object) for s in snapshot.principals for g in s.grants if g.pattern}
    stale_gaps = [gap for gap in snapshot.coverage.gaps if gap.stale_since is not None]
    grants: list[GrantFact] = []
    for effective in (*unblocked.grants, *denied):
        stale = any(gap.holds(effective.scope, effective.object) for gap in stale_gaps)
        grants.extend(_grant_facts(engine, effective, pattern=(effective.scope, effective.object) in patterns,
                                   stale=stale))
    roles = _reachable_roles(snapshot, state, states)
    attributes = {name: json_value(value) for name, value in state.attributes.items()}
    if engine is DbEngine.MYSQL:
        lifetime = snapshot.settings.get("default_password_lifetime")
        attributes["default_password_lifetime_days"] = lifetime if type(lifetime) is int else None
    caps = _capabilities(snapshot, state, states, grants, roles, attributes, as_of)
    warnings = ([FactsWarning("stale_segment", "some grants come from database segments carried forward")]
                if any(g.stale for g in grants) else [])
    gaps = tuple(CoverageGap(gap.database, gap.reason.value, gap.stale_since) for gap in snapshot.coverage.gaps)
    flavor = snapshot.flavor.value if engine is DbEngine.MYSQL and snapshot.flavor is not None else None
    return PermissionFacts(
        engine=engine, flavor=flavor, server_version=snapshot.server_version,
        account=AccountRef(ref.namespace, ref.key, ref.kind.value), as_of=as_of,
        capabilities=tuple(caps.own), capabilities_via_roles=tuple(caps.via), capability_reasons=caps.reasons(),
        roles=tuple(RoleFact(name=hit.ref.key, database=_role_database(hit.ref), direct=len(hit.path) == 1,
                             path=hit.path, mode=hit.mode.value, admin_option=hit.admin_option)
                    for hit in roles),
        grants=tuple(sorted(grants, key=_grant_order)),
        coverage=Coverage(not gaps, gaps), attributes=MappingProxyType(attributes), warnings=tuple(warnings),
    )


def build_all_facts(snapshot: InstanceSnapshot, *, as_of: datetime) -> dict[PrincipalRef, PermissionFacts]:
    """Facts of every account (principal with `is_account`) of the snapshot."""
    return {state.ref: build_facts(snapshot, state.ref, as_of=as_of)
            for state in snapshot.principals if state.is_account}


def _without_denies(snapshot: InstanceSnapshot) -> InstanceSnapshot:
    """The snapshot minus stored DENYs, so grants a DENY blocks stay visible (the evaluator applies the deny and
    explain shows it as `blocked_by`)."""
    principals = tuple(
        replace(s, grants=tuple(g for g in s.grants if g.effect is GrantEffect.GRANT))
        if any(g.effect is GrantEffect.DENY for g in s.grants) else s
        for s in snapshot.principals)
    return replace(snapshot, principals=principals)


def _grant_facts(engine: DbEngine, grant: EffectiveGrant, *, pattern: bool, stale: bool) -> list[GrantFact]:
    obj = grant.object
    if engine is not DbEngine.ORACLE and grant.scope not in _NO_DATABASE_SCOPES and obj:
        database: str | None = obj[0]
        rest = obj[1:]
    else:
        database, rest = None, obj
    facts = []
    for path in grant.paths:
        if path.source == "direct":
            source, via, mode = "direct", None, None
        elif path.source == "public":
            source, via, mode = "public", "PUBLIC", path.mode.value
        else:
            source, via, mode = "role", path.source.removeprefix("role:"), path.mode.value
        facts.append(GrantFact(
            privilege=grant.privilege, scope=grant.scope, database=database, object=rest,
            grant_option=grant.grant_option, effect=grant.effect.value, source=source, via=via, path=path.path,
            mode=mode, implicit=path.implicit, pattern=pattern, stale=stale))
    return facts


def _grant_order(g: GrantFact) -> tuple[int, str, tuple[str, ...], str, str, int, tuple[str, ...]]:
    return (g.scope.order, g.database or "", g.object, g.privilege, g.effect, len(g.path), g.path)


def _role_database(ref: PrincipalRef) -> str | None:
    return ref.namespace if ref.kind is PrincipalKind.DB_ROLE else None


def _mode(snapshot: InstanceSnapshot, first: RoleMembership, all_inherit: bool) -> PathMode:
    match snapshot.engine:
        case DbEngine.POSTGRESQL:
            return PathMode.INHERIT if all_inherit else PathMode.SET_ROLE
        case DbEngine.SQLSERVER:
            return PathMode.INHERIT
        case DbEngine.MYSQL:
            activate_all = bool(snapshot.settings.get("activate_all_roles_on_login"))
            mysql_default = snapshot.flavor is not Flavor.MARIADB and (first.implicit or activate_all)
            return PathMode.DEFAULT if first.default or mysql_default else PathMode.SET_ROLE
        case DbEngine.ORACLE:
            return PathMode.DEFAULT if first.default else PathMode.SET_ROLE
        case _ as unreachable:
            assert_never(unreachable)


def _reachable_roles(snapshot: InstanceSnapshot, state: PrincipalState,
                     states: Mapping[PrincipalRef, PrincipalState]) -> list[_RoleHit]:
    """Every role reachable from the principal (PUBLIC excluded), shortest usable path first, cycle-safe.

    On PostgreSQL a path must be SET edges then INHERIT edges; an edge with neither flag confers nothing.
    """
    seen: dict[PrincipalRef, _RoleHit] = {}
    queue: deque[tuple[PrincipalRef, tuple[str, ...], RoleMembership | None, bool, bool]] = deque(
        [(state.ref, (), None, True, True)])
    while queue:
        node, path, first, all_set, all_inherit = queue.popleft()
        if len(path) >= _MAX_DEPTH or node not in states:
            continue
        for edge in states[node].memberships:
            role = edge.role
            if role.kind is PrincipalKind.PUBLIC or role == state.ref or role in seen:
                continue
            next_set, next_inherit = all_set and edge.set, all_inherit and edge.inherit
            if snapshot.engine is DbEngine.POSTGRESQL and not (next_set or edge.inherit):
                continue
            start = first or edge
            hit = _RoleHit(role, (*path, role.key), _mode(snapshot, start, next_inherit), edge.admin_option,
                           next_set)
            seen[role] = hit
            queue.append((role, hit.path, start, next_set, next_inherit))
    return list(seen.values())


def _capabilities(snapshot: InstanceSnapshot, state: PrincipalState, states: Mapping[PrincipalRef, PrincipalState],
                  grants: list[GrantFact], roles: list[_RoleHit], attributes: Mapping[str, object],
                  as_of: datetime) -> _Capabilities:
    engine = snapshot.engine
    caps = _Capabilities()
    live = _live_grants(grants)

    def grant_basis(name: str, privilege: str) -> None:
        for g in live.get(privilege, ()):
            caps.add(name, Reason("grant" if g.source == "direct" else "role", privilege, g.path),
                     own=g.source == "direct")

    def role_basis(name: str, key: str, *, require_set: bool = False) -> None:
        for hit in roles:
            if hit.ref.key == key and hit.ref.kind is not PrincipalKind.DB_ROLE and (hit.all_set or not require_set):
                caps.add(name, Reason("role", key, hit.path), own=len(hit.path) == 1)

    match engine:
        case DbEngine.MYSQL:
            grant_basis("SUPERUSER", "SUPER")
            grant_basis("SUPERUSER", "SYSTEM_USER")
        case DbEngine.POSTGRESQL:
            if attributes.get("rolsuper") is True:
                caps.add("SUPERUSER", Reason("attribute", "rolsuper"))
            for hit in roles:
                if hit.all_set and hit.ref in states and states[hit.ref].attributes.get("rolsuper") is True:
                    caps.add("SUPERUSER", Reason("role", f"{hit.ref.key} is a superuser role", hit.path), own=False)
        case DbEngine.SQLSERVER:
            role_basis("SUPERUSER", "sysadmin")
            if not any(g.privilege == "CONTROL SERVER" and g.effect == "deny" for g in grants):
                grant_basis("SUPERUSER", "CONTROL SERVER")
        case DbEngine.ORACLE:
            role_basis("SUPERUSER", "DBA")
            grant_basis("SUPERUSER", "SYSDBA")
            if state.ref.key == "SYS":
                caps.add("SUPERUSER", Reason("attribute", "the user SYS"))
        case _ as unreachable:
            assert_never(unreachable)
    holds_super = caps.holds("SUPERUSER")
    if holds_super is not None:
        caps.add("GRANT_ADMIN", Reason("implied", "SUPERUSER"), own=holds_super)
    for privilege in _GRANT_ADMIN_PRIVILEGES[engine]:
        grant_basis("GRANT_ADMIN", privilege)
    if engine is DbEngine.POSTGRESQL and attributes.get("rolcreaterole") is True:
        caps.add("GRANT_ADMIN", Reason("attribute", "rolcreaterole"))
    if engine is DbEngine.SQLSERVER:
        role_basis("GRANT_ADMIN", "securityadmin")
    _attribute_capabilities(caps, engine, state, live, attributes, as_of)
    return caps


def _live_grants(grants: Iterable[GrantFact]) -> dict[str, list[GrantFact]]:
    """Global `grant` facts by privilege (the bases of capabilities)."""
    live: dict[str, list[GrantFact]] = {}
    for g in grants:
        if g.effect == "grant" and g.scope is Scope.GLOBAL:
            live.setdefault(g.privilege, []).append(g)
    return live


def _attribute_capabilities(caps: _Capabilities, engine: DbEngine, state: PrincipalState,
                            live: Mapping[str, list[GrantFact]], attributes: Mapping[str, object],
                            as_of: datetime) -> None:
    # PostgreSQL has no account lock: NOLOGIN is "not LOGIN", never LOCKED.
    if engine is not DbEngine.POSTGRESQL and attributes.get("locked") is True:
        reasons = attributes.get("lock_reasons")
        detail = ", ".join(str(r) for r in reasons) if isinstance(reasons, list) and reasons else "locked"
        caps.add("LOCKED", Reason("attribute", detail))
    if attributes.get("login_capable") is True:
        if engine is not DbEngine.ORACLE:
            caps.add("LOGIN", Reason("attribute", "login_capable"))
        else:
            logon = _oracle_logon(live)
            if logon is not None:
                caps.add("LOGIN", logon)
    verdict = password_expired_at(engine, attributes, as_of)
    if verdict is not None and verdict[0]:
        caps.add("PASSWORD_EXPIRED", Reason("attribute", verdict[1]))
    if engine is DbEngine.POSTGRESQL:
        for capability, attribute in _PG_FLAGS:
            if attributes.get(attribute) is True:
                caps.add(capability, Reason("attribute", attribute))
    limit = attributes.get("connection_limit")
    if type(limit) is int and (limit >= 0 if engine is DbEngine.POSTGRESQL else limit > 0):
        caps.add("CONNECTION_LIMIT", Reason("attribute", f"connection_limit {limit}"))
    if engine is DbEngine.MYSQL:
        if attributes.get("has_empty_password") is True:
            caps.add("EMPTY_PASSWORD", Reason("attribute", "empty stored password"))
        host = attributes.get("host")
        if host is None and state.kind is PrincipalKind.USER:
            host = state.ref.key.rpartition("@")[2]
        if host == "%":
            caps.add("ANY_HOST", Reason("attribute", "host %"))


def _oracle_logon(live: Mapping[str, list[GrantFact]]) -> Reason | None:
    """Oracle LOGIN: CREATE SESSION obtainable at logon (direct, PUBLIC or a default-role path) or an
    administrative privilege."""
    for g in live.get("CREATE SESSION", ()):
        if g.source != "role" or g.mode == PathMode.DEFAULT.value:
            return Reason("grant" if g.source == "direct" else "role", "CREATE SESSION", g.path)
    for privilege in _ORACLE_ADMIN:
        for g in live.get(privilege, ()):
            return Reason("grant" if g.source == "direct" else "role", privilege, g.path)
    return None
