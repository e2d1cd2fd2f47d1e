"""Pure monthly-partition planner (capacity.md §8.1): what to create, drop or leave alone, given the catalog."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

MAX_PREMAKE_MONTHS = 24
MAX_RETENTION_MONTHS = 600
OVERLAPS_EXISTING = "month_overlaps_existing"
NOT_A_CALENDAR_MONTH = "not_a_calendar_month"
NAME_TAKEN = "partition_name_taken"
DEFAULT_MISSING = "default_missing"


def month_start(d: date) -> date:
    """The first day of `d`'s month."""
    return d.replace(day=1)


def add_months(d: date, n: int) -> date:
    """`d` moved by `n` calendar months (negative goes back); the day is clamped to the target month's length."""
    index = d.year * 12 + d.month - 1 + n
    year, month = divmod(index, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def partition_name(table: str, month: date) -> str:
    """Name of `table`'s child for the month containing `month`: `<table>_YYYY_MM`."""
    return f"{table}_{month.year:04d}_{month.month:02d}"


def default_partition_name(table: str) -> str:
    """Name of `table`'s DEFAULT child: `<table>_default`."""
    return f"{table}_default"


@dataclass(frozen=True, slots=True)
class ExistingPartition:
    """A child as the catalog reports it: real bounds `[lower, upper)` (None = unbounded), never parsed from names."""

    table: str
    name: str
    lower: date | None
    upper: date | None
    is_default: bool

    @property
    def is_calendar_month(self) -> bool:
        """True for a non-default child spanning exactly `[first of a month, first of the next month)`."""
        return (not self.is_default and self.lower is not None and self.upper is not None
                and self.lower.day == 1 and self.upper == add_months(self.lower, 1))

    def overlaps(self, lower: date, upper: date) -> bool:
        """True when the child's range intersects `[lower, upper)`; a DEFAULT child has no range."""
        if self.is_default:
            return False
        return (self.lower is None or self.lower < upper) and (self.upper is None or lower < self.upper)


@dataclass(frozen=True, slots=True)
class PartitionedTable:
    """A monthly RANGE-partitioned parent and how many full months before the current one it keeps (1–600)."""

    name: str
    retention_months: int

    def __post_init__(self) -> None:
        if not 1 <= self.retention_months <= MAX_RETENTION_MONTHS:
            raise ValueError(f"retention_months of {self.name} must be within 1–{MAX_RETENTION_MONTHS}")


@dataclass(frozen=True, slots=True)
class PartitionPolicy:
    """Setting `partitions.*`: `premake_months` (0–24) future months beyond the current one, and the tables.

    Raises `ValueError` for `premake_months` outside 0–24 or a table listed twice.
    """

    tables: tuple[PartitionedTable, ...]
    premake_months: int = 3
    create_default: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.premake_months <= MAX_PREMAKE_MONTHS:
            raise ValueError(f"premake_months must be within 0–{MAX_PREMAKE_MONTHS}")
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError("a table is listed twice in the partition policy")


@dataclass(frozen=True, slots=True)
class PartitionSpec:
    """A child to create, bounds `[lower, upper)` exactly one calendar month."""

    table: str
    name: str
    lower: date
    upper: date


@dataclass(frozen=True, slots=True)
class IgnoredPartition:
    """An existing child the planner will never touch, and why (`not_a_calendar_month`)."""

    partition: ExistingPartition
    reason: str


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    """Actions sorted by (table, lower). `create_default` lists table names whose DEFAULT child
    (`<table>_default`) is missing. `warnings` are `code: detail` strings (`month_overlaps_existing`,
    `partition_name_taken`, `default_missing`). `cutoffs` maps each table to its retention cutoff.
    """

    create: tuple[PartitionSpec, ...]
    create_default: tuple[str, ...]
    drop: tuple[ExistingPartition, ...]
    ignored: tuple[IgnoredPartition, ...]
    warnings: tuple[str, ...]
    cutoffs: Mapping[str, date]
    write_horizon: date

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to create or drop (ignored children and warnings do not count)."""
        return not (self.create or self.create_default or self.drop)


def write_horizon(today: date, policy: PartitionPolicy) -> date:
    """First day of the month after the last required month; keys ≥ it are rejected before insert."""
    return add_months(month_start(today), policy.premake_months + 1)


def retention_cutoff(today: date, table: PartitionedTable) -> date:
    """First of the current month − `retention_months`; a monthly child is dropped iff its upper bound ≤ it."""
    return add_months(month_start(today), -table.retention_months)


def _plan_table(table: PartitionedTable, children: list[ExistingPartition], taken: set[str], today: date,
                policy: PartitionPolicy) -> tuple[list[PartitionSpec], list[ExistingPartition],
                                                   list[IgnoredPartition], list[str], bool]:
    cutoff = retention_cutoff(today, table)
    ignored = [
        IgnoredPartition(c, NOT_A_CALENDAR_MONTH) for c in children if not c.is_default and not c.is_calendar_month
    ]
    drop = [c for c in children if c.is_calendar_month and c.upper is not None and c.upper <= cutoff]
    creates: list[PartitionSpec] = []
    warnings: list[str] = []
    first = month_start(today)
    for k in range(policy.premake_months + 1):
        lower, upper = add_months(first, k), add_months(first, k + 1)
        if any(c.is_calendar_month and c.lower == lower for c in children):
            continue
        overlapping = sorted(c.name for c in children if c.overlaps(lower, upper))
        name = partition_name(table.name, lower)
        if overlapping:
            warnings.append(f"{OVERLAPS_EXISTING}: {table.name} {lower:%Y-%m} overlaps {', '.join(overlapping)}")
        elif name in taken:
            warnings.append(f"{NAME_TAKEN}: {name} exists with other bounds")
        else:
            creates.append(PartitionSpec(table.name, name, lower, upper))
    has_default = any(c.is_default for c in children)
    if not has_default and not policy.create_default:
        warnings.append(f"{DEFAULT_MISSING}: {table.name} has no DEFAULT child")
    return creates, drop, ignored, warnings, not has_default and policy.create_default


def plan_partitions(existing: Iterable[ExistingPartition], today: date, policy: PartitionPolicy) -> PartitionPlan:
    """The plan that brings every policy table to: the current month and `premake_months` next months exist,
    monthly children wholly before the retention cutoff are dropped, a DEFAULT child exists if the policy wants one.

    Never drops a DEFAULT child or a child that is not exactly one calendar month (those are `ignored`); never
    creates a month overlapping an existing child or whose name is already used (warned instead). Idempotent:
    planning the applied state with the same `today` and policy gives an empty plan. Raises `ValueError` for a
    child of a table the policy does not list (and, via `PartitionPolicy`, for `premake_months` outside 0–24).
    """
    known = {t.name for t in policy.tables}
    by_table: dict[str, list[ExistingPartition]] = {name: [] for name in known}
    children = list(existing)
    for child in children:
        if child.table not in known:
            raise ValueError(f"partition {child.name} belongs to unknown table {child.table}")
        by_table[child.table].append(child)
    # Child names share one namespace (the schema), whatever the parent.
    taken = {c.name for c in children}
    create: list[PartitionSpec] = []
    drop: list[ExistingPartition] = []
    ignored: list[IgnoredPartition] = []
    warnings: list[str] = []
    defaults: list[str] = []
    tables = sorted(policy.tables, key=lambda t: t.name)
    for table in tables:
        t_create, t_drop, t_ignored, t_warnings, wants_default = _plan_table(
            table, by_table[table.name], taken, today, policy
        )
        create += t_create
        drop += sorted(t_drop, key=lambda c: (c.lower, c.name))
        ignored += sorted(t_ignored, key=lambda i: (i.partition.lower or date.min, i.partition.name))
        warnings += t_warnings
        if wants_default:
            defaults.append(table.name)
    return PartitionPlan(
        create=tuple(create), create_default=tuple(defaults), drop=tuple(drop), ignored=tuple(ignored),
        warnings=tuple(warnings),
        cutoffs=MappingProxyType({t.name: retention_cutoff(today, t) for t in tables}),
        write_horizon=write_horizon(today, policy),
    )
