"""Rate-limit counters (api.md §4.8): fixed windows with expiry, shared by every process when Redis is used."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol

from whalefall.application.errors import StoreUnavailableError


class RateLimitBackendUnavailableError(StoreUnavailableError):
    """The counter store (Redis) could not be reached (HTTP 503)."""

    code = "SERVICE_UNAVAILABLE"
    default_message = "The rate-limit store is unavailable"


@dataclass(frozen=True, slots=True)
class Hits:
    """A counter's value and the whole seconds (≥ 1) until it expires."""

    count: int
    expires_in_s: int


class RateLimiter(Protocol):
    """Named counters with an expiry. Keys are relative (`login:addr:10.0.0.1`); the adapter adds its prefix.
    Every method raises RateLimitBackendUnavailableError when the backend cannot be reached."""

    @abstractmethod
    async def hit(self, key: str, *, window_s: int) -> Hits:
        """Add one to the counter and return it. A counter that does not exist (or has expired) starts at 1 and
        expires `window_s` seconds later; later hits do not move the expiry (fixed window)."""

    @abstractmethod
    async def peek(self, key: str) -> Hits | None:
        """The live counter, or None when it does not exist or has expired; never changes it."""

    @abstractmethod
    async def hold(self, key: str, *, value: int, ttl_s: int) -> None:
        """Set the counter to `value`, expiring `ttl_s` seconds from now (a lock marker, a level)."""

    @abstractmethod
    async def clear(self, *keys: str) -> None:
        """Delete the counters; unknown keys are ignored."""
