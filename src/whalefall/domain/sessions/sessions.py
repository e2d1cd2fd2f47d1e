"""Session kinds and their policies, session statuses, counters, finalisation and claim rules (operations §1)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from whalefall.domain.errors import InvalidStateError
from whalefall.domain.sessions.records import RecordErrorCode, RecordStatus


class SessionKind(StrEnum):
    """One kind of background work (wire values of `Session.kind`)."""

    ACCOUNTS_SYNC = "accounts_sync"
    CAPACITY_COLLECTION = "capacity_collection"
    TABLE_SIZES = "table_sizes"
    CAPACITY_AGGREGATION = "capacity_aggregation"
    CLASSIFICATION = "classification"
    PARTITION_MAINTENANCE = "partition_maintenance"
    RETENTION_CLEANUP = "retention_cleanup"
    CONNECTION_TEST = "connection_test"
    CREDENTIAL_ROTATION = "credential_rotation"


class SessionScope(StrEnum):
    """`fleet` = every eligible item (fleet-locked kinds); `targeted` = explicit ids."""

    FLEET = "fleet"
    TARGETED = "targeted"


class SessionTrigger(StrEnum):
    """What created the session."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"
    PIPELINE = "pipeline"


class SessionStatus(StrEnum):
    """Session status; created `running`, then one of the four terminal values (§1.4)."""

    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ItemType(StrEnum):
    """What one record of a kind stands for (`sync_records.item_type`)."""

    INSTANCE = "instance"
    DATABASE = "database"
    PERIOD = "period"
    ENGINE = "engine"
    TABLE = "table"
    CATEGORY = "category"
    BATCH = "batch"


class RetryScope(StrEnum):
    """Which failures a kind retries inside the task (§1.1 "transient retries")."""

    TRANSIENT = "transient"
    METADATA_STORE = "metadata_store"
    LOCK_TIMEOUTS = "lock_timeouts"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class KindPolicy:
    """A row of the §1.1 table."""

    item_type: ItemType
    fleet_lock: bool
    retries: RetryScope


_K = SessionKind
KIND_POLICIES: Final[Mapping[SessionKind, KindPolicy]] = MappingProxyType({
    _K.ACCOUNTS_SYNC: KindPolicy(ItemType.INSTANCE, True, RetryScope.TRANSIENT),
    _K.CAPACITY_COLLECTION: KindPolicy(ItemType.INSTANCE, True, RetryScope.TRANSIENT),
    _K.TABLE_SIZES: KindPolicy(ItemType.DATABASE, False, RetryScope.TRANSIENT),
    _K.CAPACITY_AGGREGATION: KindPolicy(ItemType.PERIOD, True, RetryScope.METADATA_STORE),
    _K.CLASSIFICATION: KindPolicy(ItemType.ENGINE, True, RetryScope.NONE),
    _K.PARTITION_MAINTENANCE: KindPolicy(ItemType.TABLE, True, RetryScope.LOCK_TIMEOUTS),
    _K.RETENTION_CLEANUP: KindPolicy(ItemType.CATEGORY, True, RetryScope.METADATA_STORE),
    _K.CONNECTION_TEST: KindPolicy(ItemType.INSTANCE, False, RetryScope.NONE),
    _K.CREDENTIAL_ROTATION: KindPolicy(ItemType.BATCH, True, RetryScope.NONE),
})
MAX_CONNECTION_TEST_TARGETS: Final = 100
TERMINAL_SESSION_STATUSES: Final = frozenset(set(SessionStatus) - {SessionStatus.RUNNING})


def is_fleet_locked(kind: SessionKind, scope: SessionScope) -> bool:
    """True when the session takes the kind's fleet lock (one running fleet session per kind → `JOB_RUNNING`)."""
    return scope is SessionScope.FLEET and KIND_POLICIES[kind].fleet_lock


def retries_connector_errors(kind: SessionKind) -> bool:
    """Whether retryable connector error classes are retried for this kind (only the `transient` kinds)."""
    return KIND_POLICIES[kind].retries is RetryScope.TRANSIENT


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCounters:
    """Record counts by status; `succeeded` counts `completed` records only (skips are never successes).

    Invariant: `total = pending + running + succeeded + failed + skipped + cancelled`. `with_errors` is not a state
    but the subset of `succeeded` whose records completed while reporting item errors (`error_items > 0`), so it
    never enters that sum.
    """

    total: int = 0
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0
    with_errors: int = 0

    @classmethod
    def recompute(cls, record_statuses: Iterable[RecordStatus],
                  completed_with_errors: int = 0) -> SessionCounters:
        """Counters recomputed from every record's status, so `total` = the sum of the states by construction;
        `completed_with_errors` is how many of the completed records reported item errors."""
        counts = Counter(RecordStatus(status) for status in record_statuses)
        return cls(
            total=counts.total(), pending=counts[RecordStatus.PENDING], running=counts[RecordStatus.RUNNING],
            succeeded=counts[RecordStatus.COMPLETED], failed=counts[RecordStatus.FAILED],
            skipped=counts[RecordStatus.SKIPPED], cancelled=counts[RecordStatus.CANCELLED],
            with_errors=completed_with_errors,
        )

    @property
    def open(self) -> int:
        """Records still pending or running."""
        return self.pending + self.running

    @property
    def finished(self) -> int:
        """Records in a terminal state."""
        return self.succeeded + self.failed + self.skipped + self.cancelled

    @property
    def progress(self) -> float:
        """Finished / total; 1.0 for a session without records."""
        return 1.0 if self.total == 0 else self.finished / self.total

    @property
    def progress_percent(self) -> int:
        """`progress` as a whole percentage, rounded down so 100 means every record finished."""
        return 100 if self.total == 0 else self.finished * 100 // self.total


def final_status(counters: SessionCounters, cancel_requested: bool) -> SessionStatus:
    """§1.4: `running` while a record is pending or running; then, in order: cancel requested → `cancelled`;
    no failure and no completed record with item errors → `completed` (skips allowed, zero records included);
    some success → `partial`; else `failed`.

    Decision: "completed with item errors" makes a session `partial` for every kind, not only `classification`
    (classification.md §9 step 9: "the session is `partial` when any record has errors or failed"). A run in
    which some items errored did not fully succeed whatever its kind, and an operator filtering on `partial`
    expects to find it. The O1 table of operations §1.4 still holds for the other kinds because it is exactly
    the case `with_errors = 0`: only work that reports item errors (today classification) can take the new
    branch. A completed record with errors is still a success, so such a session is `partial`, never `failed`.
    """
    if counters.open:
        return SessionStatus.RUNNING
    if cancel_requested:
        return SessionStatus.CANCELLED
    if counters.failed == 0 and counters.with_errors == 0:
        return SessionStatus.COMPLETED
    return SessionStatus.PARTIAL if counters.succeeded else SessionStatus.FAILED


class SessionFinishedError(InvalidStateError):
    """Cancel (or another action needing a running session) was asked of a terminal session."""

    code = "SESSION_FINISHED"
    default_message = "The session has already finished"


def require_cancellable(status: SessionStatus) -> None:
    """Raise `SessionFinishedError` for a terminal session; a running one may be cancelled (idempotently)."""
    if status in TERMINAL_SESSION_STATUSES:
        raise SessionFinishedError(context={"status": str(status)})


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimDecision:
    """Outcome of a claim: `status` RUNNING (claimed), SKIPPED with `error_code`, or None (refused: the session
    is cancel-requested and the record stays for the cancel to settle)."""

    status: RecordStatus | None
    error_code: RecordErrorCode | None = None
    context: Mapping[str, object] | None = None


def decide_claim(kind: SessionKind, *, cancel_requested: bool, instance_deleted: bool = False,
                 instance_active: bool = True, other_running_session_id: str | None = None) -> ClaimDecision:
    """§1.3 `pending → running | skipped`, checked in this order: cancel requested (refuse), instance deleted,
    instance inactive (never for `connection_test`, which tests inactive instances), another running record of
    the same kind for the instance (`ALREADY_RUNNING`, its session id in context)."""
    if cancel_requested:
        return ClaimDecision(status=None)
    if instance_deleted:
        return ClaimDecision(status=RecordStatus.SKIPPED, error_code=RecordErrorCode.INSTANCE_DELETED)
    if not instance_active and kind is not SessionKind.CONNECTION_TEST:
        return ClaimDecision(status=RecordStatus.SKIPPED, error_code=RecordErrorCode.INSTANCE_INACTIVE)
    if other_running_session_id is not None:
        return ClaimDecision(status=RecordStatus.SKIPPED, error_code=RecordErrorCode.ALREADY_RUNNING,
                             context={"session_id": other_running_session_id})
    return ClaimDecision(status=RecordStatus.RUNNING)
