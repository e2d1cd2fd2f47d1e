"""The runner's view of the metadata store: the ports it needs and short transactions on fresh connections."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from whalefall.application.ports.instances import InstanceRepository
from whalefall.application.ports.sessions import RecordView, SessionStore
from whalefall.application.sessions.claims import BatchClaimStore


class AttemptStore(Protocol):
    """Retry bookkeeping next to the sessions port: a new attempt of a record this worker holds."""

    @abstractmethod
    async def start_attempt(self, record_id: int, *, worker_id: str, lease_ttl_s: float,
                            now: datetime) -> RecordView | None:
        """`attempt += 1` and the lease extended, conditional on status running and this lease owner; None when the
        lease was lost."""


class CancelFlagReader(Protocol):
    """The cancellation safe points' read."""

    @abstractmethod
    async def cancel_requested(self, session_ids: Sequence[str]) -> dict[str, bool]:
        """Whether each session's cancel was requested; an unknown session counts as requested (nothing to do
        for its records any more)."""


class RunnerStore(SessionStore, AttemptStore, BatchClaimStore, CancelFlagReader, Protocol):
    """What the runner needs from the metadata store: the sessions port, attempt bookkeeping, claims, batched
    terminal transitions and the cancel flag."""


@dataclass(frozen=True, slots=True)
class SessionTransaction:
    """Ports bound to one fresh transaction (see SessionTransactions)."""

    store: RunnerStore
    instances: InstanceRepository


class SessionTransactions(Protocol):
    """Opens short transactions on their own connection, independent of the task's unit of work."""

    @abstractmethod
    def begin(self) -> AbstractAsyncContextManager[SessionTransaction]:
        """Committed when the block exits normally, rolled back when it raises; the connection is released."""

    @abstractmethod
    def read(self) -> AbstractAsyncContextManager[SessionTransaction]:
        """Like `begin` for reads only: it does not queue behind writers (SQLite: a WAL snapshot, no write lock)."""
