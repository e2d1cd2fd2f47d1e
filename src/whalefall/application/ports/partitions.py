"""Partition port: the metadata store's monthly partitions, read from the catalog and changed by a plan (§8)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

from whalefall.domain.errors import Problem, UnprocessableError
from whalefall.domain.partitions import ExistingPartition, PartitionPlan

ActionKind = Literal["create", "create_default", "drop"]


class PartitionKeyOutOfRangeError(UnprocessableError):
    """A write's partition key lies before the retention cutoff or at/after the write horizon (HTTP 422)."""

    code = "PARTITION_KEY_OUT_OF_RANGE"
    default_message = "The date is outside the writable range of the partitioned tables"

    def __init__(self, key: date, *, lower: date, upper: date, field_path: str | None = None) -> None:
        context = {"key": key.isoformat(), "min": lower.isoformat(), "before": upper.isoformat()}
        message = f"{key.isoformat()} is outside [{lower.isoformat()}, {upper.isoformat()})"
        super().__init__(message, problems=[Problem(field_path, "out_of_range", message, context)], context=context)


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionDetail:
    """A child with its real bounds, size and a row estimate (`reltuples`); `exact_rows` only for DEFAULT."""

    table: str
    name: str
    lower: date | None
    upper: date | None
    is_default: bool
    row_estimate: int | None
    total_bytes: int
    exact_rows: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionOutcome:
    """One executed action: `ok`, how many DEFAULT rows moved into a created month, attempts, error text."""

    action: ActionKind
    table: str
    name: str
    ok: bool
    attempts: int = 1
    moved_rows: int = 0
    skipped_reason: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyReport:
    outcomes: tuple[ActionOutcome, ...] = ()
    default_rows: Mapping[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if not o.ok)


class PartitionManager(Protocol):
    """Partitions of the configured parents. On a store without partitioning `supported` is False, `reason` says
    why, reads return nothing and `apply` does nothing."""

    supported: bool
    reason: str | None

    @abstractmethod
    async def existing(self) -> list[ExistingPartition]:
        """Every child of every configured parent with its real bounds from the catalog (never from names)."""

    @abstractmethod
    async def details(self) -> list[PartitionDetail]:
        """Children with sizes and `reltuples` estimates; exact counts only for DEFAULT children (no full scans)."""

    @abstractmethod
    async def apply(self, plan: PartitionPlan, *, tables: frozenset[str] | None = None,
                    drops_only: bool = False) -> ApplyReport:
        """Execute the plan (only `tables` when given): one transaction per action, lock timeouts retried, a
        failed action does not stop the others; one run at a time (raises AlreadyRunningError otherwise).
        DEFAULT rows inside a created month are moved into it; drops re-check the child's bounds first."""
