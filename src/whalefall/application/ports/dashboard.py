"""Dashboard read model port (operations.md §7): one aggregate query per section, plain JSON-ready values."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

Section = Mapping[str, object]


class DashboardReader(Protocol):
    """Counts over the metadata store; deleted instances are counted only where a section says so."""

    @abstractmethod
    async def instances(self) -> Section:
        """`total` (non-deleted), `active`, `inactive`, `deleted`, `by_db_type`, `by_flavor`."""

    @abstractmethod
    async def connectivity(self, *, failing_limit: int) -> Section:
        """Contact status counts of active instances (`ok`, `failed`, `never`), and per kind (`accounts_sync`,
        `capacity_collection`) how many active instances' last record completed, failed or never ran, with the
        failing instances (most recent first, at most `failing_limit`)."""

    @abstractmethod
    async def databases(self) -> Section:
        """Ledger counts over non-deleted instances: `active`, `gone`, `system`, `excluded`."""

    @abstractmethod
    async def runs(self, *, since: datetime) -> Section:
        """Sessions created since `since` by kind × status, and `running_now`."""

    @abstractmethod
    async def logs(self, *, since: datetime, days_since: datetime) -> Section:
        """ERROR and WARNING counts since `since` (24 h) and per UTC day since `days_since` (7 days)."""
