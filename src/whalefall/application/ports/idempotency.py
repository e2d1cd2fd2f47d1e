"""Idempotency key store port (api.md §1.14): claims, stored outcomes and their expiry, shared by every process."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from whalefall.domain.errors import InvalidStateError, Problem, UnprocessableError

KEY_HEADER = "Idempotency-Key"
KEY_FIELD = f"header.{KEY_HEADER}"


class IdempotencyKeyReusedError(UnprocessableError):
    """The key was already used with a different request (method, path, query or body) (HTTP 422)."""

    code = "IDEMPOTENCY_KEY_REUSED"
    default_message = "This idempotency key was used for a different request"

    def __init__(self) -> None:
        super().__init__(problems=[Problem(KEY_FIELD, "reused", self.default_message)])


class IdempotencyInProgressError(InvalidStateError):
    """The first request with this key has not finished yet (HTTP 409); retry later with the same key."""

    code = "IDEMPOTENCY_IN_PROGRESS"
    default_message = "The first request with this idempotency key is still being processed"

    def __init__(self) -> None:
        super().__init__(problems=[Problem(KEY_FIELD, "in_progress", self.default_message)])


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredResponse:
    """An answer as it was sent: status, the replayable headers (lower-case names) and the raw body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class IdempotencyClaim:
    """A request asking to own `scope_digest` (SHA-256 of principal, method, route, path parameters and key).
    `locked_until` bounds how long an unfinished claim blocks others (a crashed process does not hold a key for
    the whole retention); `expires_at` is when the key and its stored answer are forgotten."""

    scope_digest: str
    fingerprint: str
    principal: str
    method: str
    route: str
    now: datetime
    locked_until: datetime
    expires_at: datetime


class ClaimResult(StrEnum):
    CLAIMED = "claimed"
    REPLAY = "replay"
    IN_PROGRESS = "in_progress"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """`replay` carries the stored answer; the other results carry nothing."""

    result: ClaimResult
    replay: StoredResponse | None = None


class IdempotencyStore(Protocol):
    """Rows keyed by scope digest. Every method commits its own change before returning, so other API processes
    see it at once (the metadata store is the shared state)."""

    @abstractmethod
    async def claim(self, claim: IdempotencyClaim) -> ClaimOutcome:
        """Atomically take the key when it is free, expired, or held by an abandoned claim (past `locked_until`):
        CLAIMED. Otherwise compare fingerprints first (MISMATCH), then report IN_PROGRESS or REPLAY. Two
        concurrent claims of a free key: exactly one is CLAIMED."""

    @abstractmethod
    async def complete(self, scope_digest: str, fingerprint: str, response: StoredResponse, *, at: datetime
                       ) -> None:
        """Store the answer of the claim (no effect if the claim was taken over meanwhile)."""

    @abstractmethod
    async def release(self, scope_digest: str, fingerprint: str) -> None:
        """Forget an unfinished claim whose answer is not stored (5xx, 401, 403, 429): the client may retry."""

    @abstractmethod
    async def purge_expired(self, *, now: datetime, batch_size: int) -> int:
        """Delete up to `batch_size` keys whose `expires_at` is at or before `now`; returns how many."""
