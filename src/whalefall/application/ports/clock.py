"""Clock port: the only source of the current time."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Current time as an aware UTC datetime."""

    @abstractmethod
    def now(self) -> datetime:
        """Aware UTC now."""
