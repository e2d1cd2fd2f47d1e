"""Kernel: privilege scopes, privilege-name normalisation and the capability vocabulary (accounts.md §8-9)."""

from __future__ import annotations

import re
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from whalefall.domain.instances import DbEngine


class Scope(StrEnum):
    """Canonical grant scopes, in their canonical sort order."""

    GLOBAL = "global"
    DATABASE = "database"
    SCHEMA = "schema"
    TABLE = "table"
    COLUMN = "column"
    ROUTINE = "routine"
    TABLESPACE = "tablespace"

    @property
    def order(self) -> int:
        return _SCOPE_ORDER[self]


_SCOPE_ORDER: Final = MappingProxyType({scope: index for index, scope in enumerate(Scope)})

#: DSL synonyms of the instance level (classification.md §3).
SCOPE_SYNONYMS: Final = MappingProxyType({"server": Scope.GLOBAL, "system": Scope.GLOBAL})


def parse_scope(text: str) -> Scope | None:
    """Scope from DSL/API text: trimmed, case-insensitive, synonyms `server`/`system` → global; None if unknown."""
    key = text.strip().lower()
    if key in SCOPE_SYNONYMS:
        return SCOPE_SYNONYMS[key]
    try:
        return Scope(key)
    except ValueError:
        return None


_WHITESPACE = re.compile(r"\s+")

# Engine alias tables (accounts.md §8). MariaDB's BINLOG MONITOR ≡ REPLICATION CLIENT is version-dependent and is
# resolved by the MariaDB normaliser, not here.
_ALIASES: Final[MappingProxyType[DbEngine, MappingProxyType[str, str]]] = MappingProxyType({
    DbEngine.POSTGRESQL: MappingProxyType({"TEMP": "TEMPORARY"}),
    DbEngine.MYSQL: MappingProxyType({
        "REPLICATION REPLICA": "REPLICATION SLAVE",
        "REPLICA MONITOR": "SLAVE MONITOR",
    }),
    DbEngine.SQLSERVER: MappingProxyType({}),
    DbEngine.ORACLE: MappingProxyType({}),
})

#: `ALL` / `ALL PRIVILEGES` are never privilege names.
NOT_PRIVILEGES: Final = frozenset({"ALL", "ALL PRIVILEGES"})


def normalize_privilege_name(engine: DbEngine | None, name: str) -> str:
    """Trim, collapse internal whitespace to one space, upper-case, then resolve the engine's aliases.

    Underscore and space forms stay distinct (BINLOG_ADMIN on MySQL ≠ BINLOG ADMIN on MariaDB). With `engine=None`
    only the textual normalisation is applied.
    """
    canonical = _WHITESPACE.sub(" ", name.strip()).upper()
    if engine is None:
        return canonical
    return _ALIASES[engine].get(canonical, canonical)


#: Canonical capabilities (classification.md §2.3).
CAPABILITIES: Final = frozenset({
    "SUPERUSER", "GRANT_ADMIN", "LOCKED", "LOGIN", "PASSWORD_EXPIRED", "CREATEROLE", "CREATEDB", "REPLICATION",
    "BYPASSRLS", "INHERIT", "CONNECTION_LIMIT", "EMPTY_PASSWORD", "ANY_HOST",
})

#: Legacy aliases accepted on input (with warning `alias_deprecated`), keyed by normalised alias.
CAPABILITY_ALIASES: Final = MappingProxyType({
    "CAN_SUPER": "SUPERUSER",
    "CAN_LOGIN": "LOGIN",
    "CAN_CREATE_ROLE": "CREATEROLE",
    "CAN_CREATE_DB": "CREATEDB",
    "CAN_REPLICATE": "REPLICATION",
    "CAN_BYPASS_RLS": "BYPASSRLS",
    "CAN_INHERIT": "INHERIT",
})


def canonical_capability(name: str) -> str | None:
    """Canonical capability for a name or legacy alias (trimmed, whitespace-collapsed, case-insensitive); else None."""
    key = _WHITESPACE.sub(" ", name.strip()).upper()
    if key in CAPABILITIES:
        return key
    return CAPABILITY_ALIASES.get(key)


def is_capability_alias(name: str) -> bool:
    """True when `name` is accepted only as a legacy alias (so validation warns `alias_deprecated`)."""
    key = _WHITESPACE.sub(" ", name.strip()).upper()
    return key not in CAPABILITIES and key in CAPABILITY_ALIASES
