"""DriverThreads: the outer deadline raises at once, while the abandoned call keeps its slot until it returns."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from whalefall.adapters.connectors._threads import DriverThreads


async def test_a_call_returns_its_value() -> None:
    pool = DriverThreads(2)
    assert await pool.run(lambda: 41 + 1, deadline_s=5) == 42
    pool.close()


async def test_an_abandoned_call_keeps_its_slot_until_the_driver_returns() -> None:
    pool = DriverThreads(1)
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await pool.run(lambda: release.wait(10), deadline_s=0.2)
    assert time.monotonic() - started < 2
    assert pool.abandoned_calls == 1
    # The only slot is still taken by the blocked driver call: the next call times out waiting for it.
    with pytest.raises(TimeoutError):
        await pool.run(lambda: "never", deadline_s=0.2)
    assert pool.abandoned_calls == 2
    release.set()
    await asyncio.sleep(0.1)
    assert await pool.run(lambda: "free again", deadline_s=2) == "free again"
    pool.close()


async def test_driver_exceptions_propagate() -> None:
    pool = DriverThreads(1)

    def boom() -> None:
        raise ValueError("driver said no")

    with pytest.raises(ValueError, match="driver said no"):
        await pool.run(boom, deadline_s=2)
    assert await pool.run(lambda: "ok", deadline_s=2) == "ok"
    pool.close()
