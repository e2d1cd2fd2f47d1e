"""Lock manager port: named, expiring, owner-checked locks (scheduler leader election, one-at-a-time work)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol

from whalefall.application.errors import StoreUnavailableError


class LockBackendUnavailableError(StoreUnavailableError):
    """The lock backend (Redis) could not be reached; callers treat the lock as not held."""

    code = "SERVICE_UNAVAILABLE"
    default_message = "The coordination store is unavailable"


@dataclass(frozen=True, slots=True)
class Lease:
    """Proof of holding `name`: `token` is unique to this acquisition, so a lease that expired and was taken by
    someone else can neither be extended nor released (compare-and-extend / compare-and-delete)."""

    name: str
    owner: str
    token: str


class LockManager(Protocol):
    """Named locks with an expiry. Names are relative (`scheduler:leader`); the adapter adds its prefix."""

    @abstractmethod
    async def try_acquire(self, name: str, *, owner: str, ttl_s: float) -> Lease | None:
        """Take the lock if nobody holds it (set-if-absent with expiry); None when it is held, even by `owner`
        through another lease. Raises LockBackendUnavailableError when the backend cannot be reached."""

    @abstractmethod
    async def extend(self, lease: Lease, *, ttl_s: float) -> bool:
        """Reset the expiry to `ttl_s` from now only if the lease still holds the lock; False when it expired or
        was taken over (the holder must stop acting at once)."""

    @abstractmethod
    async def release(self, lease: Lease) -> bool:
        """Delete the lock only if the lease still holds it; False (and no effect) otherwise."""

    @abstractmethod
    async def holder(self, name: str) -> str | None:
        """The owner currently holding `name`, or None."""
