"""Sync record statuses and their transition table (operations §1.3)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from whalefall.domain.errors import InvalidStateError


class RecordStatus(StrEnum):
    """Status of one unit of work (wire values of `Record.status`)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class TransitionActor(StrEnum):
    """Who performs a record transition."""

    CLAIM = "worker_claim"
    WORKER = "worker"
    CANCEL = "cancel_request"
    REAPER = "reaper"
    SHUTDOWN = "worker_shutdown"


class RecordErrorCode(StrEnum):
    """`error_code` values the session machinery itself sets on records (connector errors carry their own)."""

    INSTANCE_INACTIVE = "INSTANCE_INACTIVE"
    INSTANCE_DELETED = "INSTANCE_DELETED"
    ALREADY_RUNNING = "ALREADY_RUNNING"
    NOTHING_TO_DO = "NOTHING_TO_DO"
    UNSUPPORTED_BACKEND = "UNSUPPORTED_BACKEND"
    NOT_DISPATCHED = "NOT_DISPATCHED"
    WORKER_LOST = "WORKER_LOST"


TERMINAL_RECORD_STATUSES: Final = frozenset(
    {RecordStatus.COMPLETED, RecordStatus.FAILED, RecordStatus.SKIPPED, RecordStatus.CANCELLED}
)
OPEN_RECORD_STATUSES: Final = frozenset({RecordStatus.PENDING, RecordStatus.RUNNING})

_P, _R = RecordStatus.PENDING, RecordStatus.RUNNING
RECORD_TRANSITIONS: Final[Mapping[tuple[RecordStatus, RecordStatus], frozenset[TransitionActor]]] = MappingProxyType({
    (_P, _R): frozenset({TransitionActor.CLAIM}),
    (_P, RecordStatus.SKIPPED): frozenset({TransitionActor.CLAIM}),
    (_P, RecordStatus.CANCELLED): frozenset({TransitionActor.CANCEL}),
    (_P, RecordStatus.FAILED): frozenset({TransitionActor.REAPER}),
    (_R, RecordStatus.COMPLETED): frozenset({TransitionActor.WORKER}),
    (_R, RecordStatus.SKIPPED): frozenset({TransitionActor.WORKER}),
    (_R, RecordStatus.FAILED): frozenset({TransitionActor.WORKER, TransitionActor.REAPER}),
    (_R, RecordStatus.CANCELLED): frozenset({TransitionActor.WORKER}),
    (_R, _P): frozenset({TransitionActor.SHUTDOWN}),
})
"""(from, to) → who may perform it. Anything absent is forbidden; terminal states have no way out."""


def is_terminal(status: RecordStatus) -> bool:
    """Terminal records (`completed`, `failed`, `skipped`, `cancelled`) are immutable."""
    return status in TERMINAL_RECORD_STATUSES


def can_transition(source: RecordStatus, target: RecordStatus, by: TransitionActor | None = None) -> bool:
    """True when §1.3 allows `source → target` (by `by`, when given)."""
    actors = RECORD_TRANSITIONS.get((source, target))
    return actors is not None and (by is None or by in actors)


def require_transition(source: RecordStatus, target: RecordStatus, by: TransitionActor | None = None) -> None:
    """Raise `InvalidStateError` unless `can_transition(source, target, by)`; no-op otherwise.

    Storage enforces the same rule with conditional updates (`WHERE status = :from`); a stale one is discarded.
    """
    if not can_transition(source, target, by):
        who = f" by {by}" if by else ""
        raise InvalidStateError(f"record cannot go from {source} to {target}{who}",
                                context={"from": str(source), "to": str(target)})
