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

    async def release(self) -> None:
        """Roll back anything uncommitted and give back what the unit holds between transactions (a pooled
        connection), so the caller can wait on other transactions without holding one; the next statement starts
        afresh. Long-running tasks call it before waiting on shared resources (a pool of N connections and N
        tasks that each hold one while waiting for another deadlock). Default: roll back."""
        await self.rollback()
