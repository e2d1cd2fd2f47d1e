"""Unit of work port: one metadata-store transaction per use case."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol


class UnitOfWork(Protocol):
    """Repositories obtained in the same scope write through this transaction; nothing is visible before commit."""

    @abstractmethod
    async def commit(self) -> None:
        """Commit everything written so far; later writes start a new transaction."""

    @abstractmethod
    async def rollback(self) -> None:
        """Discard everything written since the last commit."""
