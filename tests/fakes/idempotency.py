"""InMemoryIdempotencyStore: the idempotency key store in a dict, for use-case unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from whalefall.application.ports.idempotency import (
    ClaimOutcome,
    ClaimResult,
    IdempotencyClaim,
    IdempotencyStore,
    StoredResponse,
)


@dataclass
class _Row:
    claim: IdempotencyClaim
    response: StoredResponse | None = None


@dataclass
class InMemoryIdempotencyStore(IdempotencyStore):
    rows: dict[str, _Row] = field(default_factory=dict)

    async def claim(self, claim: IdempotencyClaim) -> ClaimOutcome:
        row = self.rows.get(claim.scope_digest)
        if row is None or row.claim.expires_at <= claim.now or (
                row.response is None and row.claim.locked_until <= claim.now):
            self.rows[claim.scope_digest] = _Row(claim)
            return ClaimOutcome(ClaimResult.CLAIMED)
        if row.claim.fingerprint != claim.fingerprint:
            return ClaimOutcome(ClaimResult.MISMATCH)
        if row.response is None:
            return ClaimOutcome(ClaimResult.IN_PROGRESS)
        return ClaimOutcome(ClaimResult.REPLAY, row.response)

    async def complete(self, scope_digest: str, fingerprint: str, response: StoredResponse, *, at: datetime
                       ) -> None:
        row = self.rows.get(scope_digest)
        if row is not None and row.claim.fingerprint == fingerprint and row.response is None:
            row.response = response

    async def release(self, scope_digest: str, fingerprint: str) -> None:
        row = self.rows.get(scope_digest)
        if row is not None and row.claim.fingerprint == fingerprint and row.response is None:
            del self.rows[scope_digest]

    async def purge_expired(self, *, now: datetime, batch_size: int) -> int:
        expired = [d for d, row in self.rows.items() if row.claim.expires_at <= now][:batch_size]
        for digest in expired:
            del self.rows[digest]
        return len(expired)
