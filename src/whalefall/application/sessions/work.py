"""The contract between the generic record runner and the use case of each session kind."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from whalefall.application.ports.sessions import RecordView, SessionView
from whalefall.domain.errors import WhalefallError


class RecordCancelledError(WhalefallError):
    """Raised by kind work at a safe point when the session's cancel was requested; the record ends `cancelled`."""

    code = "CANCELLED"
    default_message = "Cancelled by request"


class LeaseLostError(WhalefallError):
    """The fencing update matched no row: another worker or the reaper owns the record; write nothing."""

    code = "LEASE_LOST"
    default_message = "The record's lease was lost"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordContext:
    """What kind work may use besides its own ports.

    `fence` must be awaited as the FIRST statement of the data transaction (it extends the lease through the same
    unit of work and raises LeaseLostError when it matched no row); `check_cancel` raises RecordCancelledError when
    a cancel was requested (call it before connecting, between phases and right before the data commit).
    """

    record: RecordView
    session: SessionView
    worker_id: str
    fence: Callable[[], Awaitable[None]]
    check_cancel: Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordResult:
    """Outcome of kind work that returned normally: `completed`, or `skipped` with a code (NOTHING_TO_DO…).

    `error_items` = how many items of a completed record had errors that did not abort it (classification: error
    rows and rules that no longer compile); > 0 keeps the record `completed` and ends its session `partial`.
    Ignored for a skipped result (a skip has nothing to report)."""

    skipped_code: str | None = None
    counters: Mapping[str, object] = field(default_factory=dict)
    warnings: Sequence[Mapping[str, object]] = ()
    details: Mapping[str, object] = field(default_factory=dict)
    error_items: int = 0


class RecordWork(Protocol):
    """The use case that processes one record of one session kind. Raise ConnectorError for remote failures (its
    error class decides retries), RecordCancelledError at a safe point, anything else fails the record INTERNAL."""

    @abstractmethod
    async def run(self, context: RecordContext) -> RecordResult:
        """Do the work of one record; commit data only after `context.fence()` in the same transaction."""
