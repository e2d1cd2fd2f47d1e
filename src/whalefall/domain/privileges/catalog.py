"""Kernel: the canonical privilege-name catalog per engine (accounts.md §8), one vocabulary for editors, rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.catalog_data import (
    CATALOG_VERSION,
    CATEGORY_FLAVORS,
    DSL_FUNCTIONS,
    ENGINE_CAPABILITIES,
    ORACLE_NOT_SCHEMA_GRANTABLE,
    ORACLE_SCHEMA_PRIVILEGE_SINCE,
    PRIVILEGE_TABLES,
    ROLE_TABLES,
    SQLSERVER_IMPLICIT_GRANTS,
)
from whalefall.domain.privileges.names import Scope, normalize_privilege_name

Version = tuple[int, ...]

_TOKEN: Final = re.compile(
    r"^(?P<name>[^@~=]+?)(?:@(?P<intro>[\d.]+)(?:-(?P<removed>[\d.]+))?)?(?:~(?P<flavor>\w+))?(?:=(?P<aliases>.+))?$"
)
_VERSION_PREFIX: Final = re.compile(r"\d+(?:\.\d+)*")


def parse_version(text: str | None) -> Version | None:
    """Leading dotted number of a server version string (`10.11.6-MariaDB` → (10, 11, 6)); None when absent."""
    if not text:
        return None
    found = _VERSION_PREFIX.search(text)
    return tuple(int(part) for part in found.group(0).split(".")) if found else None


def _version_text(version: Version | None) -> str | None:
    return ".".join(str(part) for part in version) if version is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogEntry:
    """One catalog privilege, keyed (engine, category, name); `flavor` limits MySQL-family entries to one flavor."""

    engine: DbEngine
    category: str
    name: str
    scopes: tuple[Scope, ...]
    introduced_in: Version | None = None
    removed_in: Version | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    flavor: str | None = None

    def available(self, *, flavor: str | None = None, version: Version | None = None) -> bool:
        """True when the entry exists for that flavor and server version (unknown flavor/version: assume yes)."""
        if flavor is not None and self.flavor is not None and flavor != self.flavor:
            return False
        # Versions of a flavor-specific entry are that flavor's versions: incomparable when the flavor is unknown.
        if version is None or (self.flavor is not None and flavor is None):
            return True
        if self.introduced_in is not None and version < self.introduced_in:
            return False
        return self.removed_in is None or version < self.removed_in


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleEntry:
    """A built-in role name of the engine (used for `name_case_mismatch` and by editors)."""

    engine: DbEngine
    category: str
    name: str
    introduced_in: Version | None = None
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ImplicitRoleGrant:
    """A permission a SQL Server fixed role carries implicitly (accounts.md §7), versioned data."""

    role: str
    level: str
    privilege: str
    scope: Scope
    effect: str
    introduced_in: Version | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivilegeCatalog:
    """The catalog of one engine. Static per release; `catalog_version` changes whenever the data does.

    Name look-ups normalise the name first (trim, collapse whitespace, upper-case, engine aliases), so callers may
    pass names as users typed them. Role look-ups are exact except `role_case_variant`.
    """

    engine: DbEngine
    catalog_version: str
    entries: tuple[CatalogEntry, ...]
    roles: tuple[RoleEntry, ...]
    capabilities: tuple[str, ...]
    functions: tuple[str, ...]
    implicit_role_grants: tuple[ImplicitRoleGrant, ...]
    _by_name: MappingProxyType[str, tuple[CatalogEntry, ...]] = field(repr=False, compare=False, hash=False)
    _by_key: MappingProxyType[tuple[str, str], CatalogEntry] = field(repr=False, compare=False, hash=False)
    _roles_folded: MappingProxyType[str, tuple[str, ...]] = field(repr=False, compare=False, hash=False)

    def categories(self) -> tuple[str, ...]:
        """Category names in catalog order (unique per engine)."""
        return tuple(dict.fromkeys(entry.category for entry in self.entries))

    def entry(self, category: str, name: str) -> CatalogEntry | None:
        """The entry keyed (category, normalised name), or None."""
        return self._by_key.get((category, normalize_privilege_name(self.engine, name)))

    def lookup(self, name: str, *, flavor: str | None = None) -> tuple[CatalogEntry, ...]:
        """Every entry for the normalised name (several categories may share one name), filtered by flavor."""
        found = self._by_name.get(normalize_privilege_name(self.engine, name), ())
        return tuple(entry for entry in found if entry.available(flavor=flavor))

    def is_known(self, name: str, *, flavor: str | None = None) -> bool:
        """True when the name is a catalog privilege of this engine (and flavor, when given)."""
        return bool(self.lookup(name, flavor=flavor))

    def scopes_for(self, name: str, *, flavor: str | None = None) -> frozenset[Scope]:
        """Scopes at which the privilege can be granted; empty when unknown."""
        return frozenset(scope for entry in self.lookup(name, flavor=flavor) for scope in entry.scopes)

    def role_names(self) -> frozenset[str]:
        """Built-in role names, exact case."""
        return frozenset(role.name for role in self.roles)

    def role_case_variant(self, name: str) -> str | None:
        """The built-in role equal to `name` except for case (`DB_OWNER` → `db_owner`); None if exact or unrelated."""
        variants = self._roles_folded.get(name.casefold(), ())
        if not variants or name in variants:
            return None
        return variants[0]

    def implicit_grants_for(self, role: str, *, server_version: str | None = None) -> tuple[ImplicitRoleGrant, ...]:
        """Implicit permissions of a fixed role at that server version (all versions when unknown)."""
        version = parse_version(server_version)
        return tuple(
            grant for grant in self.implicit_role_grants
            if grant.role == role and (version is None or grant.introduced_in is None or version >= grant.introduced_in)
        )

    def privileges(self, *, flavor: str | None = None) -> tuple[CatalogEntry, ...]:
        """Entries available for the flavor (None = all), in catalog order."""
        return tuple(entry for entry in self.entries if entry.available(flavor=flavor))

    def to_json(self, *, flavor: str | None = None) -> dict[str, object]:
        """The API shape `{db_type, catalog_version, privileges: [{name, scopes, aliases}], capabilities, …}`."""
        merged: dict[str, tuple[set[Scope], list[str]]] = {}
        for entry in self.privileges(flavor=flavor):
            scopes, aliases = merged.setdefault(entry.name, (set(), []))
            scopes.update(entry.scopes)
            aliases.extend(alias for alias in entry.aliases if alias not in aliases)
        return {
            "db_type": self.engine.value,
            "catalog_version": self.catalog_version,
            "privileges": [
                {"name": name, "scopes": [s.value for s in sorted(scopes, key=lambda s: s.order)],
                 "aliases": sorted(aliases)}
                for name, (scopes, aliases) in sorted(merged.items())
            ],
            "capabilities": list(self.capabilities),
            "functions": list(self.functions),
            "roles": sorted(self.role_names()),
            "implicit_role_grants": [
                {"role": g.role, "level": g.level, "privilege": g.privilege, "scope": g.scope.value,
                 "effect": g.effect, "introduced_in": _version_text(g.introduced_in)}
                for g in self.implicit_role_grants
            ],
        }


def _tokens(text: str) -> list[re.Match[str]]:
    matches = []
    for raw in text.split(","):
        token = " ".join(raw.split())
        if token:
            found = _TOKEN.match(token)
            if found is None:  # pragma: no cover - static data
                raise ValueError(f"bad catalog token {token!r}")
            matches.append(found)
    return matches


def _build(engine: DbEngine) -> PrivilegeCatalog:
    entries: list[CatalogEntry] = []
    for table_engine, category, scopes, description, text in PRIVILEGE_TABLES:
        if table_engine is not engine:
            continue
        for token in _tokens(text):
            entries.append(CatalogEntry(
                engine=engine, category=category, name=token["name"],
                scopes=tuple(Scope(s) for s in scopes.split("/")),
                introduced_in=parse_version(token["intro"]), removed_in=parse_version(token["removed"]),
                aliases=tuple(token["aliases"].split("|")) if token["aliases"] else (),
                description=description,
                flavor=token["flavor"] or CATEGORY_FLAVORS.get((engine, category)),
            ))
    if engine is DbEngine.ORACLE:
        entries.extend(
            CatalogEntry(engine=engine, category="schema_privileges", name=entry.name, scopes=(Scope.SCHEMA,),
                         introduced_in=parse_version(ORACLE_SCHEMA_PRIVILEGE_SINCE),
                         description="Oracle 23ai schema privilege")
            for entry in list(entries)
            if entry.category == "system_privileges" and " ANY " in f" {entry.name} "
            and entry.name not in ORACLE_NOT_SCHEMA_GRANTABLE
        )
    roles = tuple(
        RoleEntry(engine=engine, category=category, name=token["name"], introduced_in=parse_version(token["intro"]),
                  description=description)
        for table_engine, category, description, text in ROLE_TABLES if table_engine is engine
        for token in _tokens(text)
    )
    implicit: list[ImplicitRoleGrant] = []
    if engine is DbEngine.SQLSERVER:
        for role, level, since, permissions in SQLSERVER_IMPLICIT_GRANTS:
            for raw in permissions.split(","):
                name = " ".join(raw.split())
                implicit.append(ImplicitRoleGrant(
                    role=role, level=level, privilege=name.lstrip("-"),
                    scope=Scope.GLOBAL if level == "server" else Scope.DATABASE,
                    effect="deny" if name.startswith("-") else "grant", introduced_in=parse_version(since),
                ))
    by_name: dict[str, list[CatalogEntry]] = {}
    for entry in entries:
        by_name.setdefault(entry.name, []).append(entry)
        for alias in entry.aliases:
            by_name.setdefault(alias, []).append(entry)
    folded: dict[str, list[str]] = {}
    for role_entry in roles:
        names = folded.setdefault(role_entry.name.casefold(), [])
        if role_entry.name not in names:
            names.append(role_entry.name)
    return PrivilegeCatalog(
        engine=engine, catalog_version=CATALOG_VERSION, entries=tuple(entries), roles=roles,
        capabilities=ENGINE_CAPABILITIES[engine], functions=DSL_FUNCTIONS, implicit_role_grants=tuple(implicit),
        _by_name=MappingProxyType({name: tuple(found) for name, found in by_name.items()}),
        _by_key=MappingProxyType({(entry.category, entry.name): entry for entry in entries}),
        _roles_folded=MappingProxyType({key: tuple(names) for key, names in folded.items()}),
    )


_CATALOGS: Final[MappingProxyType[DbEngine, PrivilegeCatalog]] = MappingProxyType(
    {engine: _build(engine) for engine in DbEngine}
)


def catalog_for(engine: DbEngine) -> PrivilegeCatalog:
    """The shipped catalog of `engine` (one shared immutable instance per engine). TypeError for a non-engine."""
    if not isinstance(engine, DbEngine):
        raise TypeError(f"engine must be a DbEngine, not {type(engine).__name__}")
    return _CATALOGS[engine]
