"""InMemoryCache: the Cache of embedded mode (one process)."""

from __future__ import annotations

import time
from collections.abc import Callable

from whalefall.application.ports.cache import Cache


class InMemoryCache(Cache):
    """Text values with monotonic-clock expiry; `monotonic` is injectable so tests can move time."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._values: dict[str, tuple[str, float]] = {}

    async def get(self, key: str) -> str | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= self._monotonic():
            del self._values[key]
            return None
        return entry[0]

    async def set(self, key: str, value: str, *, ttl_s: int) -> None:
        self._values[key] = (value, self._monotonic() + ttl_s)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)
