"""SystemClock: the only place whalefall reads the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime

from whalefall.application.ports.clock import Clock


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)
