"""Settings of capacity collection (capacity.md §3.5, §11): filters, extra system names, table-size cap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from whalefall.domain.capacity import DatabaseFilter
from whalefall.domain.capacity.ledger import DEFAULT_EXTRA_SYSTEM_NAMES
from whalefall.domain.instances import DbEngine

#: Names compare case-sensitively on MySQL and PostgreSQL, case-insensitively on SQL Server and Oracle (§3.5).
CASE_SENSITIVE: Final = frozenset({DbEngine.MYSQL, DbEngine.POSTGRESQL})


def empty_filter(engine: DbEngine) -> DatabaseFilter:
    return DatabaseFilter(frozenset(), (), case_sensitive=engine in CASE_SENSITIVE)


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityCollectionSettings:
    """`capacity.filters.<engine>.*`, `capacity.system_names.<engine>` and `capacity.table_sizes.max_tables`.

    Built per run by the composition root (REQUEST scope), never held in a module-level singleton, so a changed
    configuration applies to the next run (defect 27)."""

    filters: Mapping[DbEngine, DatabaseFilter] = field(default_factory=dict)
    extra_system_names: Mapping[DbEngine, frozenset[str]] = field(
        default_factory=lambda: dict(DEFAULT_EXTRA_SYSTEM_NAMES))
    max_tables: int = 5000

    def filter_for(self, engine: DbEngine) -> DatabaseFilter:
        return self.filters.get(engine) or empty_filter(engine)

    def system_names(self, engine: DbEngine) -> frozenset[str]:
        return self.extra_system_names.get(engine, frozenset())
