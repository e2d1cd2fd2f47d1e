"""Account filters (accounts.md §3): which principals are accounts, with the account pattern language."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Final

from whalefall.domain.accounts.model import InstanceSnapshot, PrincipalKind, PrincipalRef, PrincipalState
from whalefall.domain.instances import DbEngine, Flavor

#: Kinds that stay role-graph nodes when filtered (so memberships in `pg_read_all_stats` stay visible).
_ROLE_KINDS: Final = frozenset({PrincipalKind.ROLE, PrincipalKind.SERVER_ROLE, PrincipalKind.DB_ROLE})

#: Oracle-maintained accounts that auditors must still see.
_ORACLE_KEPT: Final = frozenset({"SYS", "SYSTEM"})


@lru_cache(maxsize=512)
def compile_pattern(pattern: str, *, case_sensitive: bool) -> re.Pattern[str]:
    """Account pattern → anchored regex: `*`/`%` any sequence, `?` one character, `[x]` the literal x; `_` and
    backslash are ordinary characters (Windows logins `DOMAIN\\user`). Deliberately not the database-filter
    language of capacity.md §3.5, where backslash escapes."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char in "*%":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[" and i + 2 < len(pattern) and pattern[i + 2] == "]":
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountFilter:
    """Exclusions for one engine (or one instance's override). An empty `exclude` excludes nothing.

    `exclude_oracle_maintained` drops Oracle principals with `oracle_maintained` set, except SYS and SYSTEM.
    """

    engine: DbEngine
    exclude: tuple[str, ...] = ()
    exclude_oracle_maintained: bool = False

    @property
    def case_sensitive(self) -> bool:
        return self.engine in (DbEngine.MYSQL, DbEngine.POSTGRESQL)

    @property
    def _patterns(self) -> tuple[tuple[bool, re.Pattern[str]], ...]:
        return tuple(("@" in p, compile_pattern(p, case_sensitive=self.case_sensitive)) for p in self.exclude)

    def excludes(self, state: PrincipalState) -> bool:
        """True when the principal is filtered out. Only accounts are ever filtered (PUBLIC and SQL Server roles
        are never accounts)."""
        if not state.is_account:
            return False
        ref = state.ref
        maintained = state.attributes.get("oracle_maintained") is True
        if self.exclude_oracle_maintained and maintained and ref.key not in _ORACLE_KEPT:
            return True
        return any(self._matches(has_at, pattern, ref) for has_at, pattern in self._patterns)

    def _matches(self, has_at: bool, pattern: re.Pattern[str], ref: PrincipalRef) -> bool:
        if pattern.fullmatch(ref.key):
            return True
        # MySQL: a pattern without `@` also matches the User part alone (`root` ≡ every root@host).
        if self.engine is DbEngine.MYSQL and not has_at and "@" in ref.key:
            return pattern.fullmatch(ref.key.rpartition("@")[0]) is not None
        return False


_DEFAULTS: Final = {
    DbEngine.MYSQL: ("mysql.sys@*", "mysql.session@*", "mysql.infoschema@*", "mariadb.sys@*"),
    DbEngine.POSTGRESQL: ("pg_*", "rdsadmin", "rdsrepladmin", "rdstopmgr", "cloudsqladmin", "cloudsqlagent",
                          "azuresu", "azure_superuser"),
    DbEngine.SQLSERVER: ("##*##", "NT SERVICE\\*"),
    DbEngine.ORACLE: (),
}


def default_filters(engine: DbEngine) -> AccountFilter:
    """Built-in internal/service principals are excluded; built-in administrators (root, postgres, sa, SYS,
    SYSTEM) and MySQL anonymous accounts are kept because auditors must see them."""
    return AccountFilter(engine=engine, exclude=_DEFAULTS[engine],
                         exclude_oracle_maintained=engine is DbEngine.ORACLE)


@dataclass(frozen=True, slots=True, kw_only=True)
class FilteredSnapshot:
    """The snapshot after filters: excluded roles stay as non-account role nodes, other excluded principals are
    gone; `excluded` names every filtered principal (the diff reports them as `removed`, reason `filtered`)."""

    snapshot: InstanceSnapshot
    excluded: frozenset[PrincipalRef]


def apply_filters(snapshot: InstanceSnapshot, filters: AccountFilter) -> FilteredSnapshot:
    """Apply one engine's filter (MariaDB snapshots use the MySQL filter). Raises ValueError when the filter is
    for another engine."""
    engine = DbEngine.MYSQL if snapshot.flavor is Flavor.MARIADB else snapshot.engine
    if engine is not filters.engine:
        raise ValueError(f"filter for {filters.engine} applied to a {engine} snapshot")
    excluded: set[PrincipalRef] = set()
    kept: list[PrincipalState] = []
    for state in snapshot.principals:
        if not filters.excludes(state):
            kept.append(state)
            continue
        excluded.add(state.ref)
        if state.kind in _ROLE_KINDS:
            kept.append(replace(state, is_account=False))
    return FilteredSnapshot(snapshot=replace(snapshot, principals=tuple(kept)), excluded=frozenset(excluded))
