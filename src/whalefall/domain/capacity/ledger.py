"""Database ledger rules of one successful inventory (capacity.md §1.4, §3.2): diff, mass-deactivation guard,
system and excluded flags."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from types import MappingProxyType
from typing import Final, Literal

from whalefall.domain.instances import DbEngine

LedgerStatus = Literal["active", "gone"]

#: Fixed system names per engine (§3.2). SQL Server's distributor databases and Oracle's UNDO/TEMPORARY
#: tablespaces are reported by the engine's catalog (the connector's `system_databases`), not by name.
SYSTEM_NAMES: Final = MappingProxyType({
    DbEngine.MYSQL: frozenset({"information_schema", "performance_schema", "mysql", "sys"}),
    DbEngine.POSTGRESQL: frozenset({"template0", "template1", "postgres"}),
    DbEngine.SQLSERVER: frozenset({"master", "tempdb", "model", "msdb"}),
    DbEngine.ORACLE: frozenset({"SYSTEM", "SYSAUX"}),
})
#: Default of `capacity.system_names.<engine>` (extra names added to SYSTEM_NAMES): managed-service databases.
DEFAULT_EXTRA_SYSTEM_NAMES: Final = MappingProxyType({
    DbEngine.POSTGRESQL: frozenset({"rdsadmin", "azure_maintenance", "cloudsqladmin"}),
})
#: The guard holds deactivations when they exceed half of the active rows and reach this many.
MASS_DEACTIVATION_MIN: Final = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """The state of one ledger row as the collection decided it. `missing_since` is the first business day a row
    held by the mass-deactivation guard was missing (NULL when seen or not held)."""

    name: str
    is_system: bool
    is_excluded: bool
    status: LedgerStatus
    first_seen_on: date
    last_seen_on: date
    gone_since: date | None = None
    missing_since: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerCounters:
    seen: int = 0
    created: int = 0
    reactivated: int = 0
    deactivated: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerPlan:
    """Rows to upsert (only those that changed), the resulting state of every row, the counters, and the names
    whose deactivation the guard held (still `active`, their sizes count as missing)."""

    writes: tuple[LedgerEntry, ...]
    rows: tuple[LedgerEntry, ...]
    counters: LedgerCounters
    held: tuple[str, ...]


def plan_ledger(stored: Sequence[LedgerEntry], seen: Iterable[str], *, today: date,
                is_system: Callable[[str], bool], is_excluded: Callable[[str], bool]) -> LedgerPlan:
    """Apply one successful, non-empty inventory to the stored rows (§1.4 table).

    Names are compared exactly (binary: no trimming, no case folding). Seen names are inserted, refreshed or
    reactivated (`first_seen_on` kept, `gone_since` cleared); active rows not seen become `gone` with
    `gone_since = today`, unless the guard holds them: when the newly missing rows are more than half of the
    active rows and at least MASS_DEACTIVATION_MIN, they stay `active` with `missing_since` set. A held row still
    missing on a later business day is deactivated, with `gone_since` = its `missing_since` (decision: the day
    it was first found missing, which is when it went). Gone rows not seen are untouched. `is_system` and
    `is_excluded` are recomputed for every row; filters never change `status`. Raises ValueError for an empty
    inventory (every engine reports a system database, so empty means we were not allowed to look)."""
    names = list(dict.fromkeys(seen))
    if not names:
        raise ValueError("an empty inventory is never applied")
    current = {e.name: e for e in stored}
    seen_set = set(names)
    rows: dict[str, LedgerEntry] = {}
    created = reactivated = refreshed = 0
    for name in names:
        system, excluded = is_system(name), is_excluded(name)
        before = current.get(name)
        if before is None:
            rows[name] = LedgerEntry(name=name, status="active", first_seen_on=today, last_seen_on=today,
                                     is_system=system, is_excluded=excluded)
            created += 1
        elif before.status == "gone":
            rows[name] = replace(before, status="active", gone_since=None, missing_since=None, last_seen_on=today,
                                 is_system=system, is_excluded=excluded)
            reactivated += 1
        else:
            rows[name] = replace(before, last_seen_on=today, missing_since=None, is_system=system,
                                 is_excluded=excluded)
            refreshed += 1
    missing = [e for e in stored if e.status == "active" and e.name not in seen_set]
    confirmed = [e for e in missing if e.missing_since is not None and e.missing_since < today]
    fresh = [e for e in missing if e not in confirmed]
    active_count = sum(1 for e in stored if e.status == "active")
    hold = len(fresh) >= MASS_DEACTIVATION_MIN and 2 * len(fresh) > active_count
    for entry in confirmed:
        rows[entry.name] = replace(entry, status="gone", gone_since=entry.missing_since, missing_since=None,
                                   is_system=is_system(entry.name), is_excluded=is_excluded(entry.name))
    for entry in fresh:
        system, excluded = is_system(entry.name), is_excluded(entry.name)
        rows[entry.name] = (
            replace(entry, missing_since=entry.missing_since or today, is_system=system, is_excluded=excluded)
            if hold else replace(entry, status="gone", gone_since=today, missing_since=None, is_system=system,
                                 is_excluded=excluded))
    for entry in stored:
        if entry.name not in rows:  # gone and not seen: only the flags may change
            rows[entry.name] = replace(entry, is_system=is_system(entry.name), is_excluded=is_excluded(entry.name))
    writes = tuple(row for name, row in rows.items() if current.get(name) != row)
    deactivated = len(confirmed) + (0 if hold else len(fresh))
    return LedgerPlan(
        writes=writes, rows=tuple(rows[n] for n in sorted(rows)),
        counters=LedgerCounters(seen=refreshed, created=created, reactivated=reactivated, deactivated=deactivated),
        held=tuple(sorted(e.name for e in fresh)) if hold else ())


def system_checker(engine: DbEngine, *, extra_names: Iterable[str] = (),
                   reported: Iterable[str] = ()) -> Callable[[str], bool]:
    """`is_system` of §3.2: the engine's fixed names, the configured extra names and the names the engine's
    catalog marks as system. SQL Server and Oracle compare case-insensitively (their names are), MySQL and
    PostgreSQL exactly."""
    names = SYSTEM_NAMES[engine] | frozenset(extra_names) | frozenset(reported)
    if engine in (DbEngine.SQLSERVER, DbEngine.ORACLE):
        folded = frozenset(n.casefold() for n in names)
        return lambda name: name.casefold() in folded
    return lambda name: name in names
