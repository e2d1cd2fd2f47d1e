"""Health probes (operations.md §8): the metadata store and this process's own figures."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol


class StoreProbe(Protocol):
    """The metadata store's reachability and schema state."""

    @abstractmethod
    async def reachable(self, timeout_s: float) -> bool:
        """`SELECT 1` answered within the timeout."""

    @abstractmethod
    async def at_migration_head(self) -> bool:
        """The store's revision equals the newest shipped migration."""

    @abstractmethod
    async def describe(self) -> StoreDescription:
        """Dialect, server version and the current and head migration revisions (health details)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreDescription:
    dialect: str
    server_version: str | None
    current_revision: str | None
    head_revision: str


class ProcessStats(Protocol):
    """Figures of this process that only its adapters know: the database log sink and the broker backlog."""

    @property
    @abstractmethod
    def embedded(self) -> bool:
        """In-memory broker and cache (embedded `serve`): broker, cache and workers checks are always ok."""

    @abstractmethod
    def log_queue(self) -> tuple[int, dict[str, int]]:
        """Events waiting for the database sink, and dropped events by reason since the process started."""

    @abstractmethod
    async def broker_queue_depth(self) -> int | None:
        """Messages not yet delivered or not yet acknowledged; None when the broker cannot tell."""
