"""The group-commit Coalescer: concurrent submits share a flush, results and failures reach their own waiter."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from whalefall.application.sessions.transitions import Coalescer


class Flushes:
    """Records every batch; a request equal to 13 fails on its own, a batch containing 99 fails as a whole."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    async def __call__(self, requests: Sequence[int]) -> Sequence[int | BaseException]:
        self.batches.append(list(requests))
        await asyncio.sleep(0)
        if 99 in requests:
            raise RuntimeError("store down")
        return [ValueError(str(r)) if r == 13 else r * 10 for r in requests]


async def test_a_lone_request_is_flushed_alone_and_at_once() -> None:
    flushes = Flushes()
    coalescer: Coalescer[int, int] = Coalescer(flushes)
    assert await asyncio.wait_for(coalescer.submit(1), timeout=1) == 10
    assert (flushes.batches, coalescer.flushes) == ([[1]], 1)


async def test_concurrent_requests_share_flushes_within_the_batch_limit() -> None:
    flushes = Flushes()
    coalescer: Coalescer[int, int] = Coalescer(flushes, max_batch=4)
    results = await asyncio.gather(*(coalescer.submit(n) for n in range(10)))
    assert results == [n * 10 for n in range(10)]
    assert [len(b) for b in flushes.batches] == [4, 4, 2]
    assert sorted(n for b in flushes.batches for n in b) == list(range(10))


async def test_failures_reach_only_their_waiters() -> None:
    flushes = Flushes()
    coalescer: Coalescer[int, int] = Coalescer(flushes)
    results = await asyncio.gather(coalescer.submit(1), coalescer.submit(13), coalescer.submit(2),
                                   return_exceptions=True)
    assert results[0] == 10 and results[2] == 20 and isinstance(results[1], ValueError)
    whole = await asyncio.gather(coalescer.submit(3), coalescer.submit(99), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in whole)
    assert await coalescer.submit(4) == 40, "the coalescer keeps working after a failed flush"


async def test_a_cancelled_waiter_does_not_stop_the_others() -> None:
    flushes = Flushes()
    coalescer: Coalescer[int, int] = Coalescer(flushes)
    first = asyncio.ensure_future(coalescer.submit(5))
    second = asyncio.ensure_future(coalescer.submit(6))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == 60
    with pytest.raises(asyncio.CancelledError):
        await first
    assert [5, 6] in flushes.batches, "the cancelled waiter's request was still written"
