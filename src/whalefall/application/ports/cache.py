"""Cache port: text values under relative keys with a time to live (dashboard read model, operations.md §7)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol

from whalefall.application.errors import StoreUnavailableError


class CacheUnavailableError(StoreUnavailableError):
    """The cache backend could not be reached; callers compute directly instead of failing."""

    code = "SERVICE_UNAVAILABLE"
    default_message = "The cache is unavailable"


class Cache(Protocol):
    """Keys are relative (`dashboard:v1:instances`); the adapter adds its prefix. Every method raises
    CacheUnavailableError when the backend cannot be reached."""

    @abstractmethod
    async def get(self, key: str) -> str | None:
        """The stored text, or None when absent or expired (an empty text is a value, not a miss)."""

    @abstractmethod
    async def set(self, key: str, value: str, *, ttl_s: int) -> None:
        """Store `value`, replacing any previous one, for `ttl_s` seconds."""

    @abstractmethod
    async def delete(self, *keys: str) -> None:
        """Remove the keys; unknown keys are ignored."""
