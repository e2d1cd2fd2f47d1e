"""Daily size samples of one database or one instance (capacity.md §1.5), as the pure core consumes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class DatabaseSample:
    """One database's sizes on one business day; key `(instance_id, database_name, collected_on)`.

    Plain record: the constructor does not validate, because rows read back from storage must be representable;
    `aggregate` rejects negative sizes and duplicate keys with `ValueError`.
    """

    instance_id: int
    database_name: str
    collected_on: date
    size_bytes: int
    data_bytes: int | None = None
    log_bytes: int | None = None
    is_system: bool = False


@dataclass(frozen=True, slots=True)
class InstanceSample:
    """One instance's totals on one business day; key `(instance_id, collected_on)`.

    `missing_database_count > 0` means some non-excluded database could not be sized that day, so the day does
    not count as covered (§5.5) and is left out of instance forecasts (§7). Validation as for `DatabaseSample`.
    """

    instance_id: int
    collected_on: date
    total_bytes: int
    database_count: int
    missing_database_count: int = 0
    data_bytes: int | None = None
    log_bytes: int | None = None
