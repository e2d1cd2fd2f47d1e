"""Readiness probes of required components (operations.md §8)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol


class StoreProbe(Protocol):
    """The metadata store's reachability and schema state."""

    @abstractmethod
    async def reachable(self, timeout_s: float) -> bool:
        """`SELECT 1` answered within the timeout."""

    @abstractmethod
    async def at_migration_head(self) -> bool:
        """The store's revision equals the newest shipped migration."""
