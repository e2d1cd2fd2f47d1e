"""Kernel: permission facts v3, the per-account read-only projection rules are evaluated against (classification §2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import ClassVar, Final

from whalefall.domain.errors import UnprocessableError
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.names import (
    CAPABILITIES,
    Scope,
    canonical_capability,
    normalize_privilege_name,
    parse_scope,
)

FACTS_VERSION: Final = 3
PASSWORD_EXPIRED: Final = "PASSWORD_EXPIRED"
ROLE_MODES: Final = frozenset({"default", "set_role", "inherit"})
GRANT_SOURCES: Final = frozenset({"direct", "role", "public"})
_EMPTY: Final[Mapping[str, object]] = MappingProxyType({})
_NO_REASONS: Final[Mapping[str, tuple[Reason, ...]]] = MappingProxyType({})
#: Attributes from which PASSWORD_EXPIRED is derived; facts without any of them keep their stored verdict.
_EXPIRY_INPUTS: Final = ("password_expired", "password_changed_at", "valid_until")
_LEGACY_CATEGORY_WORDS: Final = frozenset({"DATABASE", "SCHEMA", "TABLE", "COLUMN"})
_LEGACY_ENGINES: Final = MappingProxyType({
    "mysql": (DbEngine.MYSQL, "mysql"), "mariadb": (DbEngine.MYSQL, "mariadb"),
    "postgresql": (DbEngine.POSTGRESQL, None), "postgres": (DbEngine.POSTGRESQL, None),
    "pg": (DbEngine.POSTGRESQL, None), "sqlserver": (DbEngine.SQLSERVER, None), "mssql": (DbEngine.SQLSERVER, None),
    "oracle": (DbEngine.ORACLE, None),
})


def _no_reasons() -> Mapping[str, tuple[Reason, ...]]:
    return _NO_REASONS


def _no_attributes() -> Mapping[str, object]:
    return _EMPTY


class FactsError(UnprocessableError):
    """A facts document cannot be read; `facts_code` is `facts_invalid` or `facts_version_unsupported`."""

    code: ClassVar[str] = "FACTS_INVALID"
    default_message: ClassVar[str] = "The permission facts are invalid"

    def __init__(self, facts_code: str, message: str | None = None) -> None:
        super().__init__(message or facts_code, context={"code": facts_code})
        self.facts_code = facts_code


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a capability holds: basis `attribute` | `grant` | `role` | `implied`, a detail and the role path."""

    basis: str
    detail: str
    path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleFact:
    """A role reachable from the account; `path` runs from the account to the role, inclusive."""

    name: str
    database: str | None = None
    direct: bool = True
    path: tuple[str, ...] = ()
    mode: str = "inherit"
    admin_option: bool = False

    def __post_init__(self) -> None:
        if not self.path:
            object.__setattr__(self, "path", (self.name,))


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantFact:
    """One (grant, path) pair; `source` is `direct`, `role` (then `via` names the holder) or `public`."""

    privilege: str
    scope: Scope
    database: str | None = None
    object: tuple[str, ...] = ()
    grant_option: bool = False
    effect: str = "grant"
    source: str = "direct"
    via: str | None = None
    path: tuple[str, ...] = ()
    mode: str | None = None
    implicit: bool = False
    pattern: bool = False
    stale: bool = False


@dataclass(frozen=True, slots=True)
class CoverageGap:
    """A segment that could not be read; `stale_since` = last observation (data carried forward) or None (never)."""

    database: str | None
    reason: str
    stale_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Coverage:
    """Whether every database segment was read at the last sync."""

    complete: bool = True
    gaps: tuple[CoverageGap, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountRef:
    """Account identity of accounts.md 1.1 (namespace only for SQL Server contained users)."""

    namespace: str
    key: str
    kind: str


@dataclass(frozen=True, slots=True)
class FactsWarning:
    """A facts-level warning such as `stale_segment` or `legacy_category_key`."""

    code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PermissionFacts:
    """Facts v3 of one account at `as_of` (classification.md §2). Immutable; `at()` derives other instants.

    `capabilities` and `capabilities_via_roles` are sorted, disjoint tuples of canonical names. `attributes` keeps the
    raw inputs of time-dependent capabilities (`password_expired`, `password_changed_at`, `password_lifetime_days`,
    `default_password_lifetime_days` — the instance default, `valid_until`), so `at()` can recompute them.
    """

    version: int = FACTS_VERSION
    engine: DbEngine
    flavor: str | None = None
    server_version: str = ""
    account: AccountRef
    as_of: datetime
    capabilities: tuple[str, ...] = ()
    capabilities_via_roles: tuple[str, ...] = ()
    capability_reasons: Mapping[str, tuple[Reason, ...]] = field(default_factory=_no_reasons, hash=False)
    roles: tuple[RoleFact, ...] = ()
    grants: tuple[GrantFact, ...] = ()
    coverage: Coverage = Coverage()
    attributes: Mapping[str, object] = field(default_factory=_no_attributes, hash=False)
    warnings: tuple[FactsWarning, ...] = ()
    _lookup: _GrantLookup | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.engine, DbEngine):
            raise TypeError("engine must be a DbEngine")
        if not isinstance(self.as_of, datetime) or self.as_of.tzinfo is None:
            raise TypeError("as_of must be an aware datetime")
        own = tuple(sorted(set(self.capabilities)))
        object.__setattr__(self, "capabilities", own)
        object.__setattr__(self, "capabilities_via_roles",
                           tuple(sorted(set(self.capabilities_via_roles) - set(own))))

    def grants_for(self, privilege: str, scope: Scope) -> tuple[GrantFact, ...]:
        """Grant facts (effect `grant`) of one canonical privilege at one scope; computed once, then cached."""
        return self._grant_lookup().grants.get((privilege, scope), ())

    def denies_for(self, privilege: str) -> tuple[GrantFact, ...]:
        """Deny facts of one canonical privilege at any scope."""
        return self._grant_lookup().denies.get(privilege, ())

    def blind_databases(self) -> tuple[str | None, ...]:
        """Databases of never-observed coverage gaps (`stale_since` null); None stands for an unnamed segment."""
        return tuple(gap.database for gap in self.coverage.gaps if gap.stale_since is None)

    def _grant_lookup(self) -> _GrantLookup:
        lookup = self._lookup
        if lookup is None:
            grants: dict[tuple[str, Scope], list[GrantFact]] = {}
            denies: dict[str, list[GrantFact]] = {}
            for grant in self.grants:
                if grant.effect == "grant":
                    grants.setdefault((grant.privilege, grant.scope), []).append(grant)
                else:
                    denies.setdefault(grant.privilege, []).append(grant)
            lookup = _GrantLookup({k: tuple(v) for k, v in grants.items()}, {k: tuple(v) for k, v in denies.items()})
            object.__setattr__(self, "_lookup", lookup)  # benign race: every thread computes the same value
        return lookup

    def at(self, as_of: datetime) -> PermissionFacts:
        """The same facts at another instant: PASSWORD_EXPIRED is recomputed from the stored raw attributes.

        Facts whose attributes hold none of the raw inputs (hand-built or legacy v2 facts) keep their stored verdict.
        """
        if not isinstance(as_of, datetime) or as_of.tzinfo is None:
            raise TypeError("as_of must be an aware datetime")
        verdict = password_expired_at(self.engine, self.attributes, as_of)
        if verdict is None:
            return replace(self, as_of=as_of)
        expired, detail = verdict
        capabilities = set(self.capabilities)
        reasons = dict(self.capability_reasons)
        if expired:
            capabilities.add(PASSWORD_EXPIRED)
            reasons[PASSWORD_EXPIRED] = (Reason("attribute", detail),)
        else:
            capabilities.discard(PASSWORD_EXPIRED)
            reasons.pop(PASSWORD_EXPIRED, None)
        return replace(self, as_of=as_of, capabilities=tuple(capabilities),
                       capability_reasons=MappingProxyType(reasons))

    def to_json(self) -> dict[str, object]:
        """The facts v3 document (§2.1); `from_json(to_json())` yields equal facts."""
        return {
            "version": self.version,
            "engine": self.engine.value,
            "flavor": self.flavor,
            "server_version": self.server_version,
            "account": {"namespace": self.account.namespace, "key": self.account.key, "kind": self.account.kind},
            "as_of": format_instant(self.as_of),
            "capabilities": list(self.capabilities),
            "capabilities_via_roles": list(self.capabilities_via_roles),
            "capability_reasons": {
                name: [{"basis": r.basis, "detail": r.detail, "path": list(r.path)} for r in reasons]
                for name, reasons in sorted(self.capability_reasons.items())
            },
            "roles": [
                {"name": r.name, "database": r.database, "direct": r.direct, "path": list(r.path), "mode": r.mode,
                 "admin_option": r.admin_option}
                for r in self.roles
            ],
            "grants": [
                {"privilege": g.privilege, "scope": g.scope.value, "database": g.database, "object": list(g.object),
                 "grant_option": g.grant_option, "effect": g.effect, "source": g.source, "via": g.via,
                 "path": list(g.path), "mode": g.mode, "implicit": g.implicit, "pattern": g.pattern,
                 "stale": g.stale}
                for g in self.grants
            ],
            "coverage": {
                "complete": self.coverage.complete,
                "gaps": [
                    {"database": gap.database, "reason": gap.reason,
                     "stale_since": format_instant(gap.stale_since) if gap.stale_since else None}
                    for gap in self.coverage.gaps
                ],
            },
            "attributes": _jsonable(self.attributes),
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, object], *, as_of: datetime | None = None) -> PermissionFacts:
        """Read a facts v3 or legacy v2 document (§2.4).

        v3: `as_of` from the document, recomputed at the caller's `as_of` when given. v2: `as_of` must be given.
        Raises `FactsError("facts_version_unsupported")` for another version and `FactsError("facts_invalid")` for
        a malformed document.
        """
        if not isinstance(doc, Mapping):
            raise FactsError("facts_invalid", "facts document is not an object")
        version = doc.get("version")
        if type(version) is not int:
            raise FactsError("facts_invalid", "facts version is missing or not an integer")
        if version == 2:
            if as_of is None:
                raise FactsError("facts_invalid", "legacy facts v2 need the caller's as_of")
            return _from_v2(doc, as_of)
        if version != FACTS_VERSION:
            raise FactsError("facts_version_unsupported", f"facts version {version} is not supported")
        try:
            facts = _from_v3(doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise FactsError("facts_invalid", f"malformed facts document: {exc}") from exc
        return facts.at(as_of) if as_of is not None else facts


@dataclass(frozen=True, slots=True)
class _GrantLookup:
    grants: dict[tuple[str, Scope], tuple[GrantFact, ...]]
    denies: dict[str, tuple[GrantFact, ...]]


def format_instant(value: datetime) -> str:
    """ISO-8601 UTC with a `Z` suffix (microseconds only when non-zero)."""
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def parse_instant(value: object) -> datetime:
    """An aware datetime from a datetime or an ISO-8601 text with offset or `Z`; ValueError otherwise."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    else:
        raise ValueError(f"not an instant: {value!r}")
    if parsed.tzinfo is None:
        raise ValueError(f"instant without offset: {value!r}")
    return parsed.astimezone(UTC)


def password_expired_at(
    engine: DbEngine, attributes: Mapping[str, object], as_of: datetime
) -> tuple[bool, str] | None:
    """PASSWORD_EXPIRED verdict at `as_of` from raw attributes (§2.3) with its detail; None without any raw input."""
    if not any(attributes.get(key) is not None for key in _EXPIRY_INPUTS):
        return None
    if attributes.get("password_expired") is True:
        return True, "password_expired flag"
    if engine is DbEngine.MYSQL and attributes.get("password_changed_at") is not None:
        lifetime = attributes.get("password_lifetime_days")
        if lifetime is None:
            lifetime = attributes.get("default_password_lifetime_days")
        if type(lifetime) is int and lifetime > 0:
            deadline = parse_instant(attributes["password_changed_at"]) + timedelta(days=lifetime)
            if deadline <= as_of:
                return True, f"password older than {lifetime} days (expired {format_instant(deadline)})"
    if engine is DbEngine.POSTGRESQL and attributes.get("valid_until") is not None:
        valid_until = parse_instant(attributes["valid_until"])
        if valid_until <= as_of:
            return True, f"valid_until {format_instant(valid_until)} has passed"
    return False, ""


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _str(value: object, name: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    return value


def _req_str(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    return value


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a boolean")
    return value


def _strings(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a list of strings")
    return tuple(value)


def _items(value: object, name: str) -> Sequence[Mapping[str, object]]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, Mapping) for v in value):
        raise TypeError(f"{name} must be a list of objects")
    return value


def _capabilities(value: object, name: str) -> tuple[str, ...]:
    names = []
    for raw in _strings(value, name):
        canonical = canonical_capability(raw)
        if canonical is None:
            raise ValueError(f"unknown capability {raw!r}")
        names.append(canonical)
    return tuple(names)


def _scope(value: object) -> Scope:
    scope = parse_scope(_req_str(value, "scope"))
    if scope is None:
        raise ValueError(f"unknown scope {value!r}")
    return scope


def _from_v3(doc: Mapping[str, object]) -> PermissionFacts:
    engine = DbEngine(_req_str(doc["engine"], "engine"))
    account = doc["account"]
    if not isinstance(account, Mapping):
        raise TypeError("account must be an object")
    reasons_doc = doc.get("capability_reasons") or {}
    if not isinstance(reasons_doc, Mapping):
        raise TypeError("capability_reasons must be an object")
    reasons = {
        _capabilities([name], "capability_reasons")[0]: tuple(
            Reason(_req_str(r["basis"], "basis"), _req_str(r.get("detail", ""), "detail"),
                   _strings(r.get("path"), "path"))
            for r in _items(items, "capability_reasons")
        )
        for name, items in reasons_doc.items()
    }
    coverage_doc = doc.get("coverage") or {"complete": True, "gaps": []}
    if not isinstance(coverage_doc, Mapping):
        raise TypeError("coverage must be an object")
    gaps = tuple(
        CoverageGap(_str(g.get("database"), "database", optional=True), _req_str(g.get("reason", ""), "reason"),
                    parse_instant(g["stale_since"]) if g.get("stale_since") is not None else None)
        for g in _items(coverage_doc.get("gaps"), "gaps")
    )
    attributes = doc.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise TypeError("attributes must be an object")
    flavor = _str(doc.get("flavor"), "flavor", optional=True)
    return PermissionFacts(
        engine=engine, flavor=flavor, server_version=_req_str(doc.get("server_version", ""), "server_version"),
        account=AccountRef(_req_str(account.get("namespace", ""), "namespace"), _req_str(account["key"], "key"),
                           _req_str(account.get("kind", "user"), "kind")),
        as_of=parse_instant(doc["as_of"]),
        capabilities=_capabilities(doc.get("capabilities"), "capabilities"),
        capabilities_via_roles=_capabilities(doc.get("capabilities_via_roles"), "capabilities_via_roles"),
        capability_reasons=MappingProxyType(reasons),
        roles=tuple(
            RoleFact(name=_req_str(r["name"], "name"), database=_str(r.get("database"), "database", optional=True),
                     direct=_bool(r.get("direct", True), "direct"), path=_strings(r.get("path"), "path"),
                     mode=_req_str(r.get("mode", "inherit"), "mode"),
                     admin_option=_bool(r.get("admin_option", False), "admin_option"))
            for r in _items(doc.get("roles"), "roles")
        ),
        grants=tuple(_grant_v3(g) for g in _items(doc.get("grants"), "grants")),
        coverage=Coverage(_bool(coverage_doc.get("complete", not gaps), "complete"), gaps),
        attributes=MappingProxyType(dict(attributes)),
        warnings=tuple(
            FactsWarning(_req_str(w["code"], "code"), _req_str(w.get("message", ""), "message"))
            for w in _items(doc.get("warnings"), "warnings")
        ),
    )


def _grant_v3(g: Mapping[str, object]) -> GrantFact:
    effect = _req_str(g.get("effect", "grant"), "effect")
    source = _req_str(g.get("source", "direct"), "source")
    if effect not in ("grant", "deny") or source not in GRANT_SOURCES:
        raise ValueError(f"bad effect/source {effect!r}/{source!r}")
    return GrantFact(
        privilege=_req_str(g["privilege"], "privilege"), scope=_scope(g["scope"]),
        database=_str(g.get("database"), "database", optional=True), object=_strings(g.get("object"), "object"),
        grant_option=_bool(g.get("grant_option", False), "grant_option"), effect=effect, source=source,
        via=_str(g.get("via"), "via", optional=True), path=_strings(g.get("path"), "path"),
        mode=_str(g.get("mode"), "mode", optional=True), implicit=_bool(g.get("implicit", False), "implicit"),
        pattern=_bool(g.get("pattern", False), "pattern"), stale=_bool(g.get("stale", False), "stale"),
    )


def _from_v2(doc: Mapping[str, object], as_of: datetime) -> PermissionFacts:
    """Legacy facts v2: aliases mapped, roles direct, privilege maps become direct grants (§2.4)."""
    try:
        engine_text = doc.get("engine", doc.get("db_type"))
        engine, flavor = _LEGACY_ENGINES[_req_str(engine_text, "db_type").strip().lower()]
        flavor = _str(doc.get("flavor"), "flavor", optional=True) or flavor
        warnings: list[FactsWarning] = []
        capabilities = []
        for raw in _strings(doc.get("capabilities"), "capabilities"):
            canonical = canonical_capability(raw)
            if canonical is None or canonical not in CAPABILITIES:
                warnings.append(FactsWarning("unknown_capability", f"legacy capability {raw!r} dropped"))
            else:
                capabilities.append(canonical)
        roles = tuple(RoleFact(name=name) for name in _strings(doc.get("roles"), "roles"))
        privileges = doc.get("privileges") or {}
        if not isinstance(privileges, Mapping):
            raise TypeError("privileges must be an object")
        grants: list[GrantFact | None] = []
        for key in ("global", "server", "system"):
            grants.extend(_legacy_grant(engine, name, Scope.GLOBAL, None, warnings)
                          for name in _legacy_names(privileges.get(key), key))
        for key in ("database", "database_permissions"):
            per_db = privileges.get(key) or {}
            if not isinstance(per_db, Mapping):
                raise TypeError(f"privileges.{key} must be an object")
            for database, names in per_db.items():
                if str(database).strip().upper() in _LEGACY_CATEGORY_WORDS:
                    warnings.append(FactsWarning("legacy_category_key", f"category word {database!r} dropped"))
                    continue
                grants.extend(_legacy_grant(engine, name, Scope.DATABASE, str(database), warnings)
                              for name in _legacy_names(names, key))
        account = doc.get("account")
        if isinstance(account, Mapping):
            ref = AccountRef(str(account.get("namespace", "")), str(account.get("key", "")),
                             str(account.get("kind", "user")))
        else:
            ref = AccountRef("", str(doc.get("username", "")), "user")
        attributes = doc.get("attributes")
        return PermissionFacts(
            version=2, engine=engine, flavor=flavor, server_version=str(doc.get("server_version", "")),
            account=ref, as_of=as_of, capabilities=tuple(capabilities), roles=roles,
            grants=tuple(g for g in grants if g is not None),
            attributes=MappingProxyType(dict(attributes)) if isinstance(attributes, Mapping) else _EMPTY,
            warnings=tuple(warnings),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise FactsError("facts_invalid", f"malformed legacy facts: {exc}") from exc


def _legacy_names(value: object, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise TypeError(f"privileges.{key} must be a list")
    names = []
    for item in value:
        name = item.get("privilege", item.get("name")) if isinstance(item, Mapping) else item
        names.append(_req_str(name, key))
    return names


def _legacy_grant(
    engine: DbEngine, name: str, scope: Scope, database: str | None, warnings: list[FactsWarning]
) -> GrantFact | None:
    canonical = normalize_privilege_name(engine, name)
    if canonical in _LEGACY_CATEGORY_WORDS:
        warnings.append(FactsWarning("legacy_category_key", f"category word {name!r} is not a privilege"))
        return None
    return GrantFact(privilege=canonical, scope=scope, database=database)
